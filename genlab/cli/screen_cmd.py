"""`screen`, `screen-data`, `bias-report` and `audit`: the safety screen from the command line.

`screen` exits 0 when every text passes, 1 when any is flagged, 2 on bad input (like every command).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genlab.cli.generate_cmd import safety_args
from genlab.core.errors import GenLabError
from genlab.core.registry import names_that_can


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "screen",
        help="screen texts for toxicity (or install Detoxify's checkpoint)",
        description="Screen each TEXT (and each line of --file) with the screen generated text passes: the "
        "verdict, the category scores and which screen decided. Exit 0: all pass, 1: any flagged, 2: bad input. "
        "Example: python -m genlab screen 'have a nice day' --threshold toxicity=0.5 --json",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to screen")
    p.add_argument("--file", help="also screen every non-empty line of this UTF-8 text file")
    p.add_argument("--json", action="store_true", help="print one JSON object per text")
    p.add_argument(
        "--install-checkpoint",
        metavar="FILE",
        help="install Detoxify's official checkpoint file (checked by name and sha256 before it is loaded)",
    )
    p.add_argument(
        "--model",
        choices=["original", "unbiased", "multilingual"],
        default="original",
        help="with --install-checkpoint: which Detoxify model the file is (default original)",
    )
    safety_args(p)
    p.set_defaults(handler=_screen)

    p = sub.add_parser(
        "screen-data",
        help="screen a text corpus before training: flagged share and examples",
        description="Screen a text corpus line by line (chat data: per conversation). Train without the "
        "flagged lines with --set safety.drop_flagged_data=true. Example: "
        "python -m genlab screen-data --name shakespeare --max-lines 5000",
    )
    p.add_argument("--source", choices=["builtin", "file", "upload", "hf"], default="builtin")
    p.add_argument("--name", default="shakespeare", help="built-in corpus, file path or upload name")
    p.add_argument("--max-lines", type=int, help="screen at most this many lines (default: all)")
    p.add_argument("--examples", type=int, default=10, help="flagged examples to show (default 10)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    safety_args(p)
    p.set_defaults(handler=_screen_data)

    p = sub.add_parser(
        "bias-report",
        help="flagged rate and mean toxicity of a text run's continuations per identity group",
        description="Fill prompt templates with identity groups, sample each, screen the samples and report per "
        "group; saved as the run's bias_report artifact (scores only, no generated text).",
    )
    p.add_argument("run_id", help=f"a {names_that_can('TextGenerator')} run")
    p.add_argument("--samples", type=int, default=3, help="samples per prompt (default 3)")
    p.add_argument("--max-new-tokens", type=int, default=30, help="tokens per sample (default 30)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_bias)

    p = sub.add_parser(
        "audit",
        help="the safety audit of a run: flagged rate and what the gate stopped",
        description="Rows of the run's safety audit (time, path, action, scores, sha256 of the text).",
    )
    p.add_argument("run_id", help="a run id, or model:<name> for a pretrained model")
    p.add_argument("--all", action="store_true", help="also list outputs that passed")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_audit)


def _policy(args: argparse.Namespace):
    from genlab.safety.gate import load_defaults, with_overrides

    return with_overrides(load_defaults(), args.threshold, model=args.safety_model, action=args.action)


def _screen(args: argparse.Namespace) -> int:
    from genlab.safety.gate import reset_screener, screen_many

    if args.install_checkpoint:
        from genlab.safety.screeners import install_checkpoint

        target = install_checkpoint(args.install_checkpoint, args.model)
        reset_screener()
        print(f"installed {target}")
        if not args.texts and not args.file:
            return 0
    policy = _policy(args)
    texts = list(args.texts)
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise GenLabError(f"--file {args.file}: no such file")
        try:
            texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise GenLabError(f"--file {args.file} is not UTF-8 text") from None
    if not texts:
        raise GenLabError("Nothing to screen: give TEXT arguments or --file")
    results = screen_many(texts, policy)
    for text, r in zip(texts, results, strict=True):
        if args.json:
            print(json.dumps({"text": text, **r.to_dict()}, ensure_ascii=False))
        else:
            scores = " ".join(f"{k}={v:.2f}" for k, v in r.scores.items())
            print(f"{'FLAGGED' if r.flagged else 'ok':7} {text[:60]!r}  [{scores}]")
    if results and not args.json:
        print(f"screen: {results[0].label or results[0].screener}. {results[0].note}", file=sys.stderr)
    return 1 if any(r.flagged for r in results) else 0


def _screen_data(args: argparse.Namespace) -> int:
    from genlab.core.data_config import TextDataConfig
    from genlab.safety.data_screen import screen_corpus

    if args.max_lines is not None and args.max_lines < 1:
        raise GenLabError("--max-lines must be at least 1")
    try:
        data = TextDataConfig(source=args.source, name=args.name)
    except ValueError as err:
        raise GenLabError(f"Bad corpus: {err}") from None
    report = screen_corpus(data, _policy(args), max_units=args.max_lines, n_examples=args.examples)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(
        f"{report.corpus}: {report.flagged} of {report.screened} {report.unit}s flagged ({report.share:.2%}) "
        f"by {report.screener}"
    )
    for c, n in sorted(report.by_category.items(), key=lambda kv: -kv[1]):
        print(f"  {c}: {n}")
    for ex in report.examples:
        print(f"  #{ex['index']}: {ex['text'][:100]!r} ({', '.join(ex['flagged'])})")
    return 0


def _bias(args: argparse.Namespace) -> int:
    from genlab.safety.bias_report import run_bias_report
    from genlab.store.runs import RunStore

    if args.samples < 1 or args.max_new_tokens < 1:
        raise GenLabError("--samples and --max-new-tokens must be at least 1")
    report, path = run_bias_report(RunStore(), args.run_id, samples=args.samples, max_new_tokens=args.max_new_tokens)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"bias report ({report['screener']}; {report['score']} score), saved to {path}")
    for row in report["groups"]:
        print(f"  {row['group']:16} flagged {row['flagged_rate']:6.1%}  mean {report['score']} {row['mean_score']:.3f}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from genlab.store.runs import RunStore

    store = RunStore()
    summary = store.safety_summary(args.run_id)
    rows = store.safety_events(args.run_id, flagged_only=not args.all)
    if args.json:
        print(json.dumps({"summary": summary, "events": rows}, indent=2))
        return 0
    print(
        f"{args.run_id}: {summary['flagged']} of {summary['screened']} outputs flagged ({summary['flagged_rate']:.1%})"
    )
    for r in rows:
        top = ", ".join(r["flagged"]) or "-"
        print(f"  {r['path']:20} {r['action']:11} {top:30} sha256 {r['sha256'][:16]}")
    return 0
