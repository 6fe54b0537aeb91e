"""`finetune-feedback`: fine-tune a GPT run on its rated outputs: supervised on liked answers and
corrections (--method sft), or DPO on preference pairs (--method dpo)."""

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
    p.add_argument(
        "--method",
        choices=["sft", "dpo"],
        default="sft",
        help="sft: learn the liked answers and corrections (a worker job); dpo: Direct Preference Optimization on "
        "pairs of an answer rated down against a correction or a liked answer to the same prompt (in this process)",
    )
    p.add_argument("--steps", type=int, help="training steps (default: the parent's for sft, 60 for dpo)")
    p.add_argument("--beta", type=float, default=0.1, help="dpo: how far the policy may move from its parent")
    p.add_argument("--wait", action="store_true", help="wait until the new run ends")
    p.set_defaults(handler=_finetune)


def _finetune(args: argparse.Namespace) -> int:
    from genlab.core.errors import GenLabError
    from genlab.runner.jobs import wait
    from genlab.use.feedback import feedback_summary, finetune_on_feedback

    if args.steps is not None and args.steps < 1:
        raise GenLabError(f"--steps must be >= 1, got {args.steps}")
    store = RunStore()
    if args.method == "dpo":
        return _dpo(store, args)
    summary = feedback_summary(store, args.run_id)
    run = finetune_on_feedback(store, args.run_id, steps=args.steps)
    print(f"Started {run.id}: fine-tuning {args.run_id} on {summary['examples']} rated examples")
    if args.wait:
        run = wait(run.id, store=store)
        print(f"{run.id}: {run.status}")
        return 0 if run.status == "completed" else 1
    return 0


def _dpo(store: RunStore, args: argparse.Namespace) -> int:
    from genlab.runner.dpo import dpo_finetune
    from genlab.use.preferences import preference_pairs

    pairs = preference_pairs(store, args.run_id)
    result = dpo_finetune(store, args.run_id, pairs, steps=args.steps or 60, beta=args.beta)
    before, after = result["before"], result["after"]
    print(
        f"{result['run_id']}: DPO of {args.run_id} on {result['train_pairs']} preference pairs; held-out reward "
        f"accuracy {before['reward_accuracy']:.0%} -> {after['reward_accuracy']:.0%}, margin "
        f"{after['reward_margin']:.3f} ({result['held_out_pairs']} pairs)"
    )
    return 0
