"""The retraining loop with no cron: the app's job queue (genlab.runner.jobs.schedule, which the app calls
on every page refresh and every worker calls when its run ends) checks the retraining schedules and starts
one background `python -m genlab schedule --run-due` when a run is due (the DPO fine-tune and the
champion/challenger gate, in genlab/runner/retrain.py). One such process at a time per GENLAB_HOME: a lock
file holds its pid, and a dead holder's lock is taken over.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from genlab.core.procs import pid_alive, spawn_detached
from genlab.runner.retrain_schedule import due_runs
from genlab.store.runs import RunStore

LOCK_FILE = "retrain.lock"
LOG_FILE = "retrain.log"
CHECK_EVERY_S = 30.0  # how often one process looks at the schedules (each look reads every scheduled run's ratings)
STARTING_S = 30.0  # a lock without a pid yet is a start in progress for this long
_last_check: dict[str, float] = {}


def lock_path(store: RunStore) -> Path:
    return Path(store.home) / LOCK_FILE


def log_path(store: RunStore) -> Path:
    return Path(store.home) / "logs" / LOG_FILE


def retraining_pid(store: RunStore) -> int | None:
    """The pid of the retraining process now running for this home, if any."""
    path = lock_path(store)
    try:
        text = path.read_text(encoding="utf-8")
        age = time.time() - path.stat().st_mtime
    except OSError:
        return None
    try:
        pid = int(json.loads(text)["pid"])
    except (ValueError, KeyError, TypeError):
        return -1 if age < STARTING_S else None  # being written by a starter right now
    return pid if pid_alive(pid) else None


def _take_lock(store: RunStore) -> int | None:
    path = lock_path(store)
    for _ in range(2):
        try:
            return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if retraining_pid(store) is not None:
                return None
            path.unlink(missing_ok=True)  # its process ended: the lock is stale
    return None


def start_retraining(store: RunStore, root_id: str | None = None) -> int | None:
    """Start the background retraining (every due run, or `root_id` now, due or not); returns its pid, or
    None when one is already running (it retrains what is due when it gets there)."""
    fd = _take_lock(store)
    if fd is None:
        return None
    cmd = [sys.executable, "-m", "genlab", "schedule"] + ([root_id, "--now"] if root_id else ["--run-due"])
    env = dict(os.environ, GENLAB_HOME=str(store.home))
    try:
        proc = spawn_detached(cmd, log_path(store), env)
    except OSError:
        os.close(fd)
        lock_path(store).unlink(missing_ok=True)
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"pid": proc.pid, "started": time.time(), "cmd": cmd[3:]}, f)
    return proc.pid


def start_due_retraining(store: RunStore) -> int | None:
    """Called by the job queue: at most every CHECK_EVERY_S per home and process, start the retraining
    when a schedule is due and none runs. Returns the started pid (None: nothing started)."""
    key = str(store.home)
    now = time.monotonic()
    if key in _last_check and now - _last_check[key] < CHECK_EVERY_S:
        return None
    _last_check[key] = now
    if retraining_pid(store) is not None or not due_runs(store):
        return None
    return start_retraining(store)
