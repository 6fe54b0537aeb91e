"""`attention`: draw what a transformer run attends to on a text (the Playground's attention view's CLI twin)."""

from __future__ import annotations

import argparse

from genlab.core.registry import names_that_can
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attention",
        help="draw a transformer run's attention on a text as a PNG heat map",
        description=f"Run a transformer ({names_that_can('AttentionViewer', ', ')}) on your text and draw one "
        "layer and head of its "
        "attention, token by token; prints the head summary (which heads look at the previous token, the "
        "first token, themselves).",
    )
    p.add_argument("run_id", help=f"a {names_that_can('AttentionViewer')} run (see: python -m genlab runs list)")
    p.add_argument("--text", required=True, help="the text to look at ([MASK] allowed for an MLM encoder)")
    p.add_argument(
        "--kind", help="self (an encoder alone), or encoder, decoder or cross (an encoder-decoder); default the first"
    )
    p.add_argument("--layer", type=int, default=0, help="layer to draw (default 0)")
    p.add_argument("--head", type=int, default=0, help="head to draw (default 0)")
    p.add_argument("--out", default="attention.png", help="the PNG to write (default ./attention.png)")
    p.add_argument("--checkpoint", choices=["best", "last"], help="which checkpoint (default: the family's choice)")
    p.set_defaults(handler=_attention)


def _attention(args: argparse.Namespace) -> int:
    from genlab.use.attention import attention_report, heatmap_png, load_viewer

    module = load_viewer(args.run_id, args.checkpoint, RunStore())
    report = attention_report(module, args.text)
    for note in report.notes:
        print(f"note: {note}")
    print(f"{'kind':8} {'layer':>5} {'head':>4} {'prev':>6} {'first':>6} {'self':>6}  pattern")
    for s in report.summary:
        print(f"{s.kind:8} {s.layer:5d} {s.head:4d} {s.previous:6.2f} {s.first:6.2f} {s.self_:6.2f}  {s.pattern}")
    print(heatmap_png(report.map(args.kind), args.layer, args.head, args.out))
    return 0
