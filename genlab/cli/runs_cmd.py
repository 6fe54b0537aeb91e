"""`runs list|show|logs|delete`: the experiment tracker from the terminal."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from genlab.runner.log_lines import readable_log
from genlab.store.records import STATUSES

if TYPE_CHECKING:
    from genlab.store.runs import Run, RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "runs",
        help="list, inspect and delete runs",
        description="The run store: every run with its status, metrics, samples and checkpoints.",
    )
    rsub = p.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    q = rsub.add_parser("list", help="runs, newest first", description="List runs, newest first.")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.add_argument("--status", help=f"only runs with this status ({', '.join(STATUSES)})")
    q.add_argument("--sweep", help="only the trials (and best-config runs) of this sweep")
    q.add_argument("--family", help="only runs of this model family")
    q.add_argument("--search", help="only runs whose id, name, data, tags or notes contain this text")
    q.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    q.set_defaults(handler=_list)

    q = rsub.add_parser(
        "show", help="one run in detail", description="Show one run: status, config, last metrics, files."
    )
    q.add_argument("run_id")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_show)

    q = rsub.add_parser("logs", help="the worker log of a run", description="Print the end of a run's worker log.")
    q.add_argument("run_id")
    q.add_argument("--tail", type=int, default=50, help="lines from the end (default 50)")
    q.add_argument(
        "--all", action="store_true", help="also the libraries' start-up lines (GPU/TPU lines, tips, deprecations)"
    )
    q.set_defaults(handler=_logs)

    q = rsub.add_parser(
        "delete", help="delete a run and its files", description="Delete a finished run, its metrics and files."
    )
    q.add_argument("run_id")
    q.add_argument("--yes", action="store_true", help="confirm the deletion")
    q.set_defaults(handler=_delete)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


def _open_store() -> tuple[RunStore, Any]:
    """The run store with the job queue reconciled (dead workers marked, queued runs launched)."""
    from genlab.runner import jobs
    from genlab.store.runs import RunStore

    store = RunStore()
    jobs.reconcile(store)
    return store, jobs


def _list(args: argparse.Namespace) -> int:
    from genlab.core.paths import genlab_home
    from genlab.store import quick_list

    filters = {"status": args.status, "family": args.family, "sweep_id": args.sweep, "search": args.search}
    try:
        quick = quick_list.read_runs(genlab_home(), **filters, limit=args.limit)  # no SQLAlchemy where only reading
    except OSError:
        quick = None  # a home that cannot be made: RunStore says what to do
    if quick is None:
        store, _ = _open_store()
        runs: list[Run] = store.list_runs(**filters, limit=args.limit)
        last = store.last_metrics([r.id for r in runs])
    else:
        runs, last = quick
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], default=str, indent=1))
        return 0
    if not runs and args.sweep:
        print(f"No runs of sweep {args.sweep!r} (see: python -m genlab sweep list)")
        return 0
    if not runs:
        print("No runs yet. Start one: python -m genlab train --config configs/vae_mnist.yaml")
        return 0
    print(f"{'ID':34} {'FAMILY':9} {'STATUS':11} {'PROGRESS':>8} {'DURATION':>8}  MONITOR")
    for r in runs:
        value = last.get(r.id, {}).get(r.monitor or "", None)
        mon = f"{r.monitor}={value:.4g}" if value is not None else "-"
        print(f"{r.id:34} {r.family:9} {r.status:11} {r.progress * 100:7.0f}% {_fmt_duration(r.duration_s):>8}  {mon}")
    return 0


def _show(args: argparse.Namespace) -> int:
    store, jobs = _open_store()
    run = store.get(args.run_id)
    metrics = store.last_metrics([run.id])[run.id]
    arts = store.artifacts(run.id)
    if args.json:
        out = run.to_dict() | {"last_metrics": metrics, "artifacts": arts, "cli": jobs.cli_command(run)}
        print(json.dumps(out, default=str, indent=1))
        return 0
    print(f"run      {run.id}  ({run.name})")
    print(f"family   {run.family}   data {run.data_name}")
    print(f"status   {run.status}   step {run.step}/{run.total_steps or '?'}  epoch {run.epoch}")
    print(f"duration {_fmt_duration(run.duration_s)}   resumes {run.resume_count}")
    if run.error:
        print(f"error    {run.error}")
    for line in (run.warning or "").splitlines():
        print(f"warning  {line}")
    if run.wandb:
        from genlab.share import wandb_link

        url = wandb_link.run_url(run)
        print(f"wandb    {url}" if url else f"wandb    offline; upload with: {wandb_link.sync_command(run)}")
    print(f"folder   {run.folder}")
    print(f"replay   {jobs.cli_command(run)}")
    if metrics:
        print("metrics  " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()) if v is not None))
    kinds: dict[str, int] = {}
    for a in arts:
        kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
    if kinds:
        print("files    " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    return 0


def _logs(args: argparse.Namespace) -> int:
    from genlab.store.runs import RunStore

    store = RunStore()
    path = store.get(args.run_id).folder / "logs" / "worker.log"
    if not path.exists():
        print("(no log yet)")
        return 0
    text = path.read_text(encoding="utf-8", errors="replace")
    if not args.all:
        text, dropped = readable_log(text)
        if dropped:
            print(f"({dropped} start-up line(s) of the libraries left out; --all shows them)")
    print("\n".join(text.splitlines()[-args.tail :]))
    return 0


def _delete(args: argparse.Namespace) -> int:
    if not args.yes:
        print(f"This deletes run {args.run_id} and all its files. Repeat with --yes to confirm.")
        return 2
    store, _ = _open_store()
    store.delete(args.run_id)
    print(f"deleted {args.run_id}")
    return 0
