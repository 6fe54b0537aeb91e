"""The retraining loop's bookkeeping, without torch: each root run's schedule and lineage file
(runs/<root>/retrain.json: the settings, which run is served now, every challenge and why), whether a run
is due, and which run answers for a root. The app's job queue, the server and the Run page read it on
every refresh, so it must stay cheap to import and to call; the training itself is genlab/runner/retrain.py.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import sqlalchemy as sa

from genlab.core.errors import GenLabError
from genlab.store.location import RETRAIN_FILE
from genlab.store.runs import Run, RunNotFound, RunStore
from genlab.store.schema import feedback

TOO_FEW_PROMPTS = "Run {run} needs preference pairs on at least 2 prompts to retrain and judge"


def rating_count(store: RunStore, run_id: str) -> int:
    """How many ratings the run has (one COUNT, read on every check of the queue)."""
    q = sa.select(sa.func.count()).select_from(feedback).where(feedback.c.run_id == run_id)
    with store.db.read() as con:
        return int(con.execute(q).scalar_one())


def read_schedule(store: RunStore, root_id: str) -> dict[str, Any] | None:
    path = store.run_folder(root_id) / RETRAIN_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_schedule(store: RunStore, root_id: str, state: dict[str, Any]) -> None:
    """Atomic (a temp file renamed over the old one): a server reading it never sees half a file."""
    path = store.run_folder(root_id) / RETRAIN_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def schedule_stamp(store: RunStore, root_id: str) -> int | None:
    """The schedule file's modification time in ns (None without one): a promotion changes it."""
    try:
        return (store.run_folder(root_id) / RETRAIN_FILE).stat().st_mtime_ns
    except OSError:
        return None


def set_schedule(
    store: RunStore,
    root_id: str,
    *,
    every_ratings: int = 0,
    every_hours: float = 0.0,
    steps: int = 60,
    beta: float = 0.1,
) -> dict[str, Any]:
    """Retrain `root_id` when `every_ratings` new ratings arrived and/or every `every_hours` (0: off)."""
    from genlab.core.registry import get_family, names_that_can

    run = store.get(root_id)
    if not get_family(run.family).can("PreferenceTunable"):
        raise GenLabError(
            f"Run {root_id} is a {run.family} run; the retraining loop fine-tunes "
            f"{names_that_can('PreferenceTunable')} runs"
        )
    if every_ratings < 0 or every_hours < 0 or (every_ratings == 0 and every_hours == 0):
        raise GenLabError("Give --every-ratings N and/or --every-hours H (> 0)")
    if steps < 1 or beta <= 0:
        raise GenLabError(f"Retraining needs steps >= 1 and beta > 0 (got {steps} steps, beta {beta})")
    state = read_schedule(store, root_id) or {
        "served": root_id,
        "ratings_seen": rating_count(store, root_id),
        "last_time": time.time(),
        "history": [],
    }
    state.update({"every_ratings": every_ratings, "every_hours": every_hours, "steps": steps, "beta": beta})
    write_schedule(store, root_id, state)
    return state


def is_due(store: RunStore, root_id: str, now: float | None = None) -> bool:
    state = read_schedule(store, root_id)
    if state is None:
        return False
    now = time.time() if now is None else now
    new = rating_count(store, root_id) - int(state.get("ratings_seen", 0))
    every_ratings, every_hours = state.get("every_ratings", 0), state.get("every_hours", 0)
    by_count = every_ratings > 0 and new >= every_ratings
    by_time = every_hours > 0 and now - float(state.get("last_time", 0)) >= 3600 * every_hours
    return by_count or by_time


def scheduled_roots(store: RunStore) -> list[str]:
    """The completed runs of a preference-tunable family whose folder holds retrain.json. The folders are
    looked at first: most homes have no schedule, and then neither the runs table nor the model families
    are read (the job queue asks this on every `runs list` and page refresh)."""
    ids = sorted(p.parent.name for p in store.runs_dir.glob(f"*/{RETRAIN_FILE}"))
    if not ids:
        return []
    from genlab.core.registry import FAMILIES

    tunable = {name for name, family in FAMILIES.items() if family.can("PreferenceTunable")}
    roots = []
    for run_id in ids:
        try:
            run = store.get(run_id)
        except RunNotFound:  # a folder left by a deleted run
            continue
        if run.family in tunable and run.status == "completed":
            roots.append(run.id)
    return roots


def due_runs(store: RunStore) -> list[str]:
    """Root runs whose schedule says they are due now."""
    return [root for root in scheduled_roots(store) if is_due(store, root)]


def record_challenge(store: RunStore, root_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """Append one challenge (or a retraining that could not happen) and count the ratings it saw, so the
    same ratings do not make the run due again."""
    state = read_schedule(store, root_id) or {"served": root_id, "ratings_seen": 0, "history": []}
    state.setdefault("history", []).append(result)
    if result.get("promoted"):
        state["served"] = result["challenger"]
    state["ratings_seen"] = rating_count(store, root_id)
    state["last_time"] = result["time"]
    write_schedule(store, root_id, state)
    return state


def record_skip(store: RunStore, root_id: str, reason: str) -> dict[str, Any]:
    """A due retraining that could not run (too few pairs, a failed fine-tune): kept in the lineage with
    its reason, and not retried until more ratings arrive or the next period."""
    state = read_schedule(store, root_id) or {"served": root_id}
    result = {"time": time.time(), "champion": state.get("served", root_id), "challenger": None}
    return record_challenge(store, root_id, result | {"promoted": False, "why": f"not retrained: {reason}"})


def lineage_root(store: RunStore, run: Run) -> str | None:
    """The run whose schedule covers `run`: itself or the nearest ancestor with a retrain.json."""
    seen: set[str] = set()
    current: Run | None = run
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if (current.folder / RETRAIN_FILE).is_file():
            return current.id
        try:
            current = store.get(current.parent_id) if current.parent_id else None
        except RunNotFound:
            return None
    return None


def champion(store: RunStore, run_id: str) -> str:
    """The run that answers for `run_id`: its schedule's served run, else itself."""
    state = read_schedule(store, run_id)
    return str(state["served"]) if state and state.get("served") else run_id
