"""`schedule`: retrain a served GPT run on its ratings when N new ones arrived or every period, with a
champion/challenger gate; `schedule --run-due` is the line for cron or a systemd timer."""

from __future__ import annotations

import argparse
import json

from genlab.core.registry import names_that_can
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schedule",
        help="retrain a run on its ratings periodically (champion/challenger gate)",
        description="Set RUN_ID to be fine-tuned again (DPO on its preference pairs) when --every-ratings N new "
        "ratings arrived and/or every --every-hours H; the child replaces it as the served model only if it "
        "prefers the rated answers on more held-out prompts. --run-due retrains every run that is due now "
        "(put it in cron: `*/15 * * * * cd /srv/genlab && python -m genlab schedule --run-due`); --show prints "
        "the lineage.",
    )
    p.add_argument("run_id", nargs="?", help=f"the root run (a completed {names_that_can('PreferenceTunable')} run)")
    p.add_argument("--every-ratings", type=int, default=0, help="retrain after this many new ratings (0: off)")
    p.add_argument("--every-hours", type=float, default=0.0, help="retrain after this many hours (0: off)")
    p.add_argument("--steps", type=int, default=60, help="DPO steps of each retraining")
    p.add_argument("--beta", type=float, default=0.1, help="DPO beta")
    p.add_argument("--run-due", action="store_true", help="retrain every run that is due now, then exit")
    p.add_argument("--now", action="store_true", help="retrain RUN_ID now, due or not")
    p.add_argument("--show", action="store_true", help="print RUN_ID's schedule and lineage as JSON")
    p.set_defaults(handler=_schedule)


def _schedule(args: argparse.Namespace) -> int:
    from genlab.core.errors import GenLabError
    from genlab.runner.retrain_due import retrain_or_skip, run_due
    from genlab.runner.retrain_schedule import read_schedule, set_schedule

    store = RunStore()
    if args.run_due:
        for line in run_due(store):
            print(line, flush=True)
        return 0
    if not args.run_id:
        raise GenLabError("Name the run: python -m genlab schedule RUN_ID --every-ratings N (or --run-due)")
    if args.show:
        print(json.dumps(read_schedule(store, args.run_id), indent=2))
        return 0
    if args.now:
        decision = retrain_or_skip(store, args.run_id)
        print(decision["why"])
        return 0 if decision["challenger"] else 1
    state = set_schedule(
        store,
        args.run_id,
        every_ratings=args.every_ratings,
        every_hours=args.every_hours,
        steps=args.steps,
        beta=args.beta,
    )
    print(
        f"{args.run_id}: retrain every {state['every_ratings']} ratings / {state['every_hours']} h; serves {state['served']}"
    )
    return 0
