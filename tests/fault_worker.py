"""A training worker that kills itself with SIGKILL at one chosen point of a checkpoint or store write.

Used by tests/test_faults.py: `python tests/fault_worker.py RUN_ID KIND N PHASE` trains run RUN_ID
(already claimed) like the real worker and dies at the N-th write of KIND once the first last.ckpt is
on disk (so the run has something to resume from):

- ckpt  phases: mid-write (half the bytes of the temp file written), before-rename, after-rename
- store phases: in-transaction (before COMMIT), after-commit, sigterm (SIGTERM inside a transaction)

Only the file and store-transaction layers are wrapped; training, checkpointing and the store run unchanged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import types
from pathlib import Path

from genlab.core import atomic
from genlab.runner import jobs
from genlab.store.engine import Database
from genlab.store.runs import RunStore

run_id, kind, nth, phase = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
state = {"armed": False, "count": 0}


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def hit(this_kind: str) -> bool:
    if not state["armed"] or this_kind != kind:
        return False
    state["count"] += 1
    return state["count"] == nth


class HalfWriter:
    """A file that dies half-way through its second write (a torn temp file reaches the disk)."""

    def __init__(self, f) -> None:
        self._f = f
        self._writes = 0

    def write(self, data) -> int:
        self._writes += 1
        if self._writes < 2:
            return self._f.write(data)
        data = bytes(data)
        self._f.write(data[: max(1, len(data) // 2)])
        self._f.flush()
        os.fsync(self._f.fileno())
        die()
        return 0

    def __getattr__(self, name):
        return getattr(self._f, name)


real_open_atomic = atomic.atomic_open
real_replace = os.replace


@contextlib.contextmanager
def faulty_atomic_open(path):
    fires = Path(path).suffix == ".ckpt" and hit("ckpt")
    if fires and phase == "mid-write":
        with real_open_atomic(path) as f:
            yield HalfWriter(f)
        return

    def replace(src, dst):
        if fires and phase == "before-rename":
            die()
        real_replace(src, dst)
        if fires and phase == "after-rename":
            die()
        if Path(dst).name == "last.ckpt":
            state["armed"] = True  # a whole last checkpoint exists from here on: the run can resume

    atomic.os = types.SimpleNamespace(**{**vars(os), "replace": replace})
    try:
        with real_open_atomic(path) as f:
            yield f
    finally:
        atomic.os = os


atomic.atomic_open = faulty_atomic_open
real_write = Database.write
real_raw_write = Database.raw_write


def faulty(real):
    """Wrap one of the two places every store write transaction goes through: Database.write (a SQLAlchemy
    connection in one transaction) and Database.raw_write (the hot path: a driver cursor, per thread)."""

    @contextlib.contextmanager
    def write(self):
        fires = hit("store")
        with real(self) as con:
            yield con
            if fires and phase == "in-transaction":
                die()  # the transaction's statements ran; COMMIT never does
            if fires and phase == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)  # delivered while this transaction is open
                if hasattr(con, "exec_driver_sql"):
                    con.exec_driver_sql("SELECT 1")
                else:
                    con.execute("SELECT 1")
        if fires and phase == "after-commit":
            die()

    return write


Database.write = faulty(real_write)
Database.raw_write = faulty(real_raw_write)
sys.exit(jobs.run_worker(run_id, RunStore()))
