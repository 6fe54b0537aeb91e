"""`sweep start|list|show|stop|worker|best`: Optuna sweeps where every trial is a normal GenLab run."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from genlab.core.config import ConfigError
from genlab.core.parsing import load_config
from genlab.core.procs import pid_alive
from genlab.core.safe_yaml import read_yaml_file
from genlab.store.runs import RunStore

_STORAGE_HELP = (
    "Optuna storage URL (default: SQLite at GENLAB_HOME/sweeps.db); e.g. "
    "postgresql+psycopg://user:pw@host/db so workers on several machines share one study"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="search hyperparameters with Optuna (trials are normal runs)",
        description="Find a better configuration: Optuna proposes values for the knobs of a search space, "
        "each trial trains as a normal run, hopeless trials are pruned early. Example: "
        "python -m genlab sweep start --config configs/vae_mnist.yaml --trials 20 --pruner hyperband --wait",
    )
    ssub = p.add_subparsers(dest="sweep_command", metavar="ACTION", required=True)

    q = ssub.add_parser("start", help="create a sweep and start a worker", description="Create a sweep and run it.")
    q.add_argument("--config", required=True, help="the base config (a preset or a run's config.yaml)")
    q.add_argument("--trials", type=int, required=True, help="trial budget of the whole sweep")
    q.add_argument("--parallel", type=int, default=1, help="trials at once per worker (capped by the job limit)")
    q.add_argument(
        "--set", action="append", default=[], metavar="KEY.PATH=VALUE", help="override a base config value (repeatable)"
    )
    q.add_argument(
        "--space",
        help="YAML file mapping --set paths to {low, high, log, step} or {choices: [...]} (default: the family's space)",
    )
    q.add_argument("--sampler", default="tpe", choices=["tpe", "random", "grid", "cmaes"], help="default tpe")
    q.add_argument(
        "--pruner", choices=["median", "hyperband", "none"], help="default median (none with several metrics)"
    )
    q.add_argument(
        "--metric",
        action="append",
        default=[],
        help="objective metric (default: the family's monitor; GANs: val/kid); repeat for a multi-objective sweep",
    )
    q.add_argument(
        "--direction", action="append", default=[], choices=["min", "max"], help="one per --metric (min or max)"
    )
    q.add_argument("--name", help="sweep name (default: family-date-time)")
    q.add_argument("--seed", type=int, help="sampler seed (reproducible proposals with one worker)")
    q.add_argument("--storage", help=_STORAGE_HELP)
    q.add_argument("--wait", action="store_true", help="follow the sweep until it ends, printing each trial")
    q.set_defaults(handler=_start)

    q = ssub.add_parser("list", help="sweeps, newest first", description="List the sweeps of a storage.")
    q.add_argument("--storage", help=_STORAGE_HELP)
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list)

    q = ssub.add_parser("show", help="one sweep's trials", description="Show a sweep: trials, best values, runs.")
    q.add_argument("name")
    q.add_argument("--storage", help=_STORAGE_HELP)
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_show)

    q = ssub.add_parser(
        "stop",
        help="stop a sweep (its running trials are cancelled)",
        description="Ask every worker of the sweep to cancel its trials' runs and end. "
        "`sweep worker --study NAME` resumes it later without redoing completed trials.",
    )
    q.add_argument("name")
    q.add_argument("--storage", help=_STORAGE_HELP)
    q.set_defaults(handler=_stop)

    q = ssub.add_parser(
        "worker",
        help="run trials of a sweep here (resume, or add a machine)",
        description="Run trials of an existing sweep in this terminal until its budget is spent. Start one "
        "per machine against a shared --storage to spread a sweep; each machine keeps its own run store.",
    )
    q.add_argument("--study", required=True, help="the sweep's name")
    q.add_argument("--storage", help=_STORAGE_HELP)
    q.add_argument("--parallel", type=int, help="trials at once here (default: the sweep's --parallel)")
    q.set_defaults(handler=_worker)

    q = ssub.add_parser(
        "best",
        help="train the best trial's config as a normal run",
        description="Start a normal run with the best trial's config, linked to the sweep.",
    )
    q.add_argument("name")
    q.add_argument("--storage", help=_STORAGE_HELP)
    q.set_defaults(handler=_best)


def _read_space(path: str | None) -> dict | None:
    if not path:
        return None
    file = Path(path)
    raw = read_yaml_file(file, "Search space file")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{file}: a search space maps --set paths to ranges, e.g. optim.lr: {{low: 1e-4, high: 1e-2}}"
        )
    return raw


def _start(args: argparse.Namespace) -> int:
    from genlab.sweeps import study as sweeps

    config = load_config(args.config, args.set)
    settings = sweeps.make_settings(
        config,
        n_trials=args.trials,
        name=args.name,
        space=_read_space(args.space),
        parallel=args.parallel,
        sampler=args.sampler,
        pruner=args.pruner,
        metrics=args.metric or None,
        directions=args.direction or None,
        seed=args.seed,
    )
    pid = sweeps.start(settings, args.storage)
    print(f"sweep {settings.name}: {settings.n_trials} trials of {settings.family}, worker pid {pid}")
    print("objective " + ", ".join(f"{m} ({d})" for m, d in zip(settings.metrics, settings.directions, strict=True)))
    print(f"space     {'; '.join(p.describe() for p in settings.params())}")
    print(f"sampler   {settings.sampler}, pruner {settings.pruner}")
    for note in settings.notes:
        print(f"note      {note}")
    print(f"dashboard {sweeps.dashboard_command(args.storage)}")
    print(f"follow    python -m genlab sweep show {settings.name}")
    return _follow(settings.name, args.storage, pid) if args.wait else 0


def _follow(name: str, storage: str | None, pid: int) -> int:
    from genlab.sweeps import study as sweeps

    seen: dict[int, str] = {}
    while True:
        study, settings = sweeps.load(name, storage)
        for row in sweeps.trial_rows(study, settings):
            if seen.get(row["trial"]) != row["state"]:
                seen[row["trial"]] = row["state"]
                print(_trial_line(row), flush=True)
        p = sweeps.progress(study, settings)
        if p.state == "finished" or (not p.running and not pid_alive(pid)):
            print(f"sweep {name}: {p.state}, {p.complete} complete, {p.pruned} pruned, {p.failed - p.retried} failed")
            if p.best_value is not None:
                print(f"best {settings.metrics[0]} = {p.best_value:.5g}")
            return 0 if p.complete else 1
        time.sleep(1.0)


def _trial_line(row: dict) -> str:
    params = ", ".join(f"{k.removeprefix('param:')}={_fmt(v)}" for k, v in row.items() if k.startswith("param:"))
    value = "" if row["value"] is None else f" value={_fmt(row['value'])}"
    pruned = f" at validation {row['pruned_at']}" if row["pruned_at"] else ""
    run = f" run {row['run_id']}" if row["run_id"] else ""
    error = f" ({row['error']})" if row["error"] and row["state"] == "fail" else ""
    return f"  trial {row['trial']:>3} {row['state']:8}{pruned}{value}{run} {params}{error}"


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _list(args: argparse.Namespace) -> int:
    from genlab.sweeps import study as sweeps

    items = sweeps.list_sweeps(args.storage)
    if args.json:
        print(json.dumps([p.to_dict() for p in items], default=str, indent=1))
        return 0
    if not items:
        print("No sweeps yet. Start one: python -m genlab sweep start --config configs/vae_mnist.yaml --trials 10")
        return 0
    print(f"{'NAME':32} {'FAMILY':9} {'STATE':9} {'DONE':>9} {'PRUNED':>6} {'FAILED':>6}  BEST")
    for p in items:
        best = "-" if p.best_value is None else f"{p.best_value:.5g}"
        print(
            f"{p.name:32} {p.family:9} {p.state:9} {p.done:>4}/{p.n_trials:<4} {p.pruned:>6} {p.failed - p.retried:>6}  {best}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from genlab.sweeps import study as sweeps

    study, settings = sweeps.load(args.name, args.storage)
    rows = sweeps.trial_rows(study, settings, RunStore())
    p = sweeps.progress(study, settings)
    if args.json:
        out = {"settings": settings.to_dict(), "progress": p.to_dict(), "trials": rows}
        out["dashboard"] = sweeps.dashboard_command(args.storage)
        print(json.dumps(out, default=str, indent=1))
        return 0
    print(f"sweep     {settings.name} ({settings.family}): {p.state}, {p.done}/{settings.n_trials} trials")
    print("objective " + ", ".join(f"{m} ({d})" for m, d in zip(settings.metrics, settings.directions, strict=True)))
    print(f"sampler   {settings.sampler}, pruner {settings.pruner}, {settings.parallel} at a time")
    for note in settings.notes:
        print(f"note      {note}")
    for row in rows:
        print(_trial_line(row))
    best = sweeps.best_trials(study, settings, 1)
    if best:
        print(f"best      trial {best[0].number}: {_fmt(list(best[0].values))} {best[0].params}")
        print(f"train it  python -m genlab sweep best {settings.name}")
    print(f"dashboard {sweeps.dashboard_command(args.storage)}")
    print(f"runs      python -m genlab runs list --sweep {settings.name}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from genlab.sweeps import study as sweeps

    sweeps.stop(args.name, args.storage)
    print(f"sweep {args.name}: stop requested; its workers cancel their trials and end")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from genlab.sweeps import worker as sweep_worker

    p = sweep_worker.run_worker(args.study, args.storage, parallel=args.parallel)
    print(f"sweep {args.study}: {p.state}, {p.complete} complete, {p.pruned} pruned, {p.failed - p.retried} failed")
    return 0


def _best(args: argparse.Namespace) -> int:
    from genlab.sweeps import study as sweeps

    run = sweeps.train_best(args.name, args.storage)
    print(f"run {run.id} {run.status} (best config of sweep {args.name})")
    print(f"folder {run.folder}")
    return 0
