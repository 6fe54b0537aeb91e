"""`finetune-feedback`: fine-tune a GPT run on its rated outputs (liked answers and corrections)."""

from __future__ import annotations

import argparse

from genlab.core.registry import names_that_can
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune-feedback",
        help=f"fine-tune a chat run ({names_that_can('ChatFinetunable')}) on the ratings of its outputs",
        description="Build a chat data set from the run's rated outputs (thumbs-up answers and corrections) and "
        "start a fine-tune of its Hugging Face export, linked to it as the parent. Put it in cron to retrain "
        "periodically.",
    )
    p.add_argument("run_id", help=f"a completed {names_that_can('ChatFinetunable')} run with feedback")
    p.add_argument("--steps", type=int, help="training steps (default: the parent's)")
    p.add_argument("--wait", action="store_true", help="wait until the new run ends")
    p.set_defaults(handler=_finetune)


def _finetune(args: argparse.Namespace) -> int:
    from genlab.core.errors import GenLabError
    from genlab.runner.jobs import wait
    from genlab.use.feedback import feedback_summary, finetune_on_feedback

    if args.steps is not None and args.steps < 1:
        raise GenLabError(f"--steps must be >= 1, got {args.steps}")
    store = RunStore()
    summary = feedback_summary(store, args.run_id)
    run = finetune_on_feedback(store, args.run_id, steps=args.steps)
    print(f"Started {run.id}: fine-tuning {args.run_id} on {summary['examples']} rated examples")
    if args.wait:
        run = wait(run.id, store=store)
        print(f"{run.id}: {run.status}")
        return 0 if run.status == "completed" else 1
    return 0
