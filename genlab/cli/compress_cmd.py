"""`prune` and `distill`: smaller models from a finished run, each trained as a new run linked to it."""

from __future__ import annotations

import argparse
import json

from genlab.core.registry import names_that_can
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prune",
        help="prune a finished run and fine-tune it briefly as a new linked run",
        description="Zero the smallest weights of the served networks (global magnitude) or whole output channels "
        "(channel), fine-tune for --steps batches with the zeros kept, and record the new run as pruned from RUN.",
    )
    p.add_argument("run_id", help="a completed run")
    p.add_argument("--sparsity", type=float, required=True, help="fraction of weights to zero, e.g. 0.5")
    p.add_argument("--method", choices=["magnitude", "channel"], default="magnitude", help="default magnitude")
    p.add_argument("--steps", type=int, default=50, help="fine-tuning batches (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_prune)

    d = sub.add_parser(
        "distill",
        help=f"train a smaller student from a finished run ({names_that_can('Distillable', ', ')})",
        description="The teacher's family decides how its student learns: a language model from the teacher's "
        "softened predictions (KD loss) on the same corpus, a GAN generator by reproducing the teacher's images. "
        "The student is a new run linked to RUN.",
    )
    d.add_argument("run_id", help="the teacher: a completed run")
    d.add_argument(
        "--student",
        action="append",
        metavar="model.KEY=VALUE",
        help="shrink the teacher's model section (repeatable); default: about half the teacher (its layers, or its generator's width)",
    )
    d.add_argument("--steps", type=int, default=100, help="training batches (default 100)")
    d.add_argument(
        "--temperature", type=float, default=2.0, help="KD softening temperature (language models; default 2)"
    )
    d.add_argument(
        "--alpha", type=float, default=0.5, help="weight of the plain token loss (language models; default 0.5)"
    )
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(handler=_distill)


def _show(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for key, value in result.items():
            print(f"{key:<18} {value}")


def _prune(args: argparse.Namespace) -> int:
    from genlab.compress.prune import prune_run

    _show(prune_run(RunStore(), args.run_id, args.sparsity, args.method, args.steps), args.json)
    return 0


def _distill(args: argparse.Namespace) -> int:
    from genlab.compress.distill import distill_run

    _show(distill_run(RunStore(), args.run_id, args.student, args.steps, args.temperature, args.alpha), args.json)
    return 0
