"""`export`: a finished run to TFLite, ONNX, TF SavedModel or a Hugging Face folder, with parity figures."""

from __future__ import annotations

import argparse
import json
import sys

from genlab.export.options import FORMAT_VARIANTS, QUANTIZE
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a finished run (TFLite, ONNX, SavedModel, Hugging Face) with proof of parity",
        description="Convert every network the run's family exports (generators, decoder and encoder, a language "
        "model over its context, a recurrent net's step) and check each on fixed inputs against PyTorch: max abs diff, PSNR, "
        "top-1 agreement, size and latency. fp32 exports must match within 1e-4 or are marked failed (exit 1). "
        "Files land in runs/<id>/exports/ with a metadata JSON beside each.",
    )
    p.add_argument("run_id", help="a completed run (see: python -m genlab runs list --status completed)")
    p.add_argument("--format", required=True, choices=list(FORMAT_VARIANTS), help="the file format")
    p.add_argument(
        "--quantize",
        choices=QUANTIZE,
        help="TFLite: fp16 weights, int8 weight-only or dynamic-range int8; ONNX: dynamic (default: fp32)",
    )
    p.add_argument("--net", action="append", help="export only this net (repeatable; default: all)")
    p.add_argument("--reps", type=int, default=20, help="latency repetitions per side (default 20)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from genlab.export.engine import export_run

    if args.reps < 1:
        print("error: --reps must be at least 1", file=sys.stderr)
        return 2
    store = RunStore()
    say = None if args.json else (lambda msg: print(msg, file=sys.stderr))
    records = export_run(
        store, args.run_id, args.format, args.quantize, nets=args.net, latency_reps=args.reps, progress=say
    )
    if args.json:
        print(json.dumps(records, indent=2, default=str))
    else:
        for r in records:
            status = "passed" if r["passed"] else "FAILED"
            print(
                f"{r['net']:<16} {r['variant']:<8} {status:<7} max|diff| {r['max_abs_diff']:.2e}  "
                f"{r['size_bytes'] / 1024:.1f} KiB  {r['export_ms']:.3f} ms vs eager {r['eager_ms']:.3f} ms  {r['path']}"
            )
            if "decode" in r:
                d = r["decode"]
                print(f"{'':<16} greedy text {'matches' if d.get('match') else 'DIFFERS'}: {d.get('export_text')!r}")
    return 0 if all(r["passed"] for r in records) else 1
