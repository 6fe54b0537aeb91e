"""`train`, `cancel`, `resume` and the internal `worker` command."""

from __future__ import annotations

import argparse
import os
import sys
import time

from genlab.core.checkpoint_files import find_resume_checkpoint
from genlab.core.config import parse_thresholds
from genlab.core.errors import GenLabError
from genlab.core.parsing import load_config
from genlab.data.preflight import blocking_problems
from genlab.runner import jobs
from genlab.store import run_secrets
from genlab.store.runs import Run, RunStore, check_run_id


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="start a training run from a YAML config",
        description="Start a training run from a YAML config (a preset in configs/ or one the UI saved). "
        "The run trains in the background; this prints its id and folder. Example: "
        "python -m genlab train --config configs/vae_mnist.yaml --set trainer.max_epochs=2 --wait",
    )
    p.add_argument("--config", required=True, help="path of the YAML config")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a config value, e.g. --set optim.lr=0.0005 (repeatable)",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="[CATEGORY=]VALUE",
        help="text runs: safety threshold for the run's samples and later outputs (sets safety.<category> in the "
        "config; repeatable; a bare value sets every category; 0 flags everything)",
    )
    p.add_argument("--wait", action="store_true", help="follow the run until it ends, printing progress")
    p.add_argument(
        "--in-process",
        action="store_true",
        help="train in this process instead of a background worker (torchrun / SLURM multi-node)",
    )
    p.add_argument("--run-id", help="with --in-process: the run id every rank shares (rank 0 creates it)")
    p.set_defaults(handler=_train)

    p = sub.add_parser(
        "cancel",
        help="stop a run gracefully (it saves a checkpoint first)",
        description="Stop a queued or running run. A running run finishes its step, saves a "
        "checkpoint and ends as cancelled; `resume` continues it later.",
    )
    p.add_argument("run_id", help="the run's id (see `runs list`)")
    p.add_argument(
        "--force",
        action="store_true",
        help="if the worker has not stopped after --grace seconds (a hung data loader, DDP waiting for a node), "
        "kill it; the last good checkpoint is kept",
    )
    p.add_argument(
        "--grace", type=float, default=jobs.FORCE_GRACE_S, help="seconds to wait before --force kills (default 10)"
    )
    p.set_defaults(handler=_cancel)

    p = sub.add_parser(
        "resume",
        help="continue an interrupted, cancelled or pruned run from its last checkpoint",
        description="Continue an interrupted, cancelled, pruned or failed run from its last checkpoint. "
        "The step count, optimizer and schedule continue where they were.",
    )
    p.add_argument("run_id", help="the run's id (see `runs list`)")
    p.add_argument("--wait", action="store_true", help="follow the run until it ends")
    p.add_argument("--force", action="store_true", help="resume even a run that was stopped for running out of memory")
    p.set_defaults(handler=_resume)

    p = sub.add_parser("worker", description="Internal: the background worker of one run.")
    p.add_argument("run_id")
    p.add_argument("--train", action="store_true", help="the training process (started by the supervisor)")
    p.set_defaults(handler=_worker)
    # Internal: hidden from the command list of --help (argparse would print `==SUPPRESS==` for it).
    sub._choices_actions = [a for a in sub._choices_actions if a.dest != "worker"]


def _print_progress(run: Run, last: list[str]) -> None:
    total = f"/{run.total_steps}" if run.total_steps else ""
    eta = f", eta {run.eta_s:.0f}s" if run.eta_s and run.status == "running" else ""
    line = f"{run.id}: {run.status} step {run.step}{total} epoch {run.epoch}{eta}"
    if line != (last[0] if last else None):
        print(line, flush=True)
        last[:] = [line]


def follow(store: RunStore, run_id: str) -> int:
    last: list[str] = []
    run = jobs.wait(run_id, store, poll_s=1.0, on_update=lambda r: _print_progress(r, last))
    values = store.last_metrics([run_id]).get(run_id, {})
    shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(values.items()) if v is not None and k.startswith("val/"))
    print(f"{run.id}: {run.status}" + (f" ({shown})" if shown else ""))
    if run.error:
        print(f"error: {run.error}", file=sys.stderr)
    return 0 if run.status == "completed" else 1


def _train(args: argparse.Namespace) -> int:
    thresholds = parse_thresholds(args.threshold)
    config = load_config(args.config, args.set + [f"safety.{c}={v}" for c, v in thresholds.items()])
    for note in config.advisories():
        print(f"note: {note}", file=sys.stderr)
    if problems := blocking_problems(config):  # the Train page disables Start for the same reasons
        for problem in problems:
            fix = f" (fix: --set {problem.fix_label.replace(' = ', '=')})" if problem.fix else ""
            print(f"error: this run would fail: {problem.message}{fix}", file=sys.stderr)
        return 2
    store = RunStore()
    if args.in_process:
        return _train_in_process(store, config, args.run_id)
    run = jobs.start(config, store, secrets=run_secrets.from_environment())  # the CLI user's own key
    print(f"run {run.id} {run.status}")
    print(f"folder {run.folder}")
    return follow(store, run.id) if args.wait else 0


def _train_in_process(store: RunStore, config, run_id: str | None) -> int:
    """All ranks of a torchrun/SLURM job run this with the same --run-id; rank 0 registers the run."""
    if run_id is not None:
        check_run_id(run_id)
    if os.environ.get("RANK", "0") == "0":
        run = store.create_run(config, status="running", run_id=run_id)
        print(f"run {run.id} running in this process", flush=True)
        return jobs.run_worker(run.id, store)
    if not run_id:
        raise GenLabError("--in-process with several ranks needs --run-id NAME, the same on every rank")
    deadline = time.monotonic() + 300
    while not store.exists(run_id):
        if time.monotonic() > deadline:
            raise GenLabError(f"Run {run_id} did not appear in {store.home}: is GENLAB_HOME on a shared disk?")
        time.sleep(1)
    return jobs.run_worker(run_id, store)


def _worker(args: argparse.Namespace) -> int:
    check_run_id(args.run_id)
    if not args.train:
        return jobs.supervise(args.run_id)
    supervisor = os.environ.get("GENLAB_SUPERVISOR_PID")
    return jobs.run_worker(args.run_id, supervisor_pid=int(supervisor) if supervisor else None)


def _cancel(args: argparse.Namespace) -> int:
    check_run_id(args.run_id)
    if args.grace < 0:
        raise GenLabError("--grace must be 0 or more seconds")
    run = jobs.cancel(args.run_id, force=args.force, grace_s=args.grace)
    print(f"{run.id}: {'cancel requested' if run.status == 'running' else run.status}")
    if run.error and args.force:
        print(run.error)
    return 0


def _resume(args: argparse.Namespace) -> int:
    check_run_id(args.run_id)
    store = RunStore()
    run = jobs.resume(args.run_id, store, force=args.force, secrets=run_secrets.from_environment())
    point = find_resume_checkpoint(run.folder / "checkpoints")
    print(f"run {run.id} {run.status} (resume {run.resume_count}" + (f", {point.describe()})" if point else ")"))
    return follow(store, run.id) if args.wait else 0
