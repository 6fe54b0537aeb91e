"""The run store: one entry point over a database index plus one folder per run under the artifact root.

`RunStore` is the facade every caller uses; each concern lives in its own module:
records (the Run record, statuses, errors), engine (which database: GENLAB_DB_URL, else the SQLite file
GENLAB_HOME/genlab.db), schema + migrate (tables, Alembic upgrades on open), crud (runs), lease (status
moves, queue claims, worker beats, reaping), metrics, artifacts (files and links) and audit (safety).

Several processes write at once (one worker per run, the UI, the CLI; on a team store, several machines),
so every write is one short transaction and readers never block writers. Run folders live under
GENLAB_ARTIFACT_ROOT when set (a folder every machine of a team mounts), else GENLAB_HOME/runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from genlab.core.paths import genlab_home
from genlab.store.artifacts import RunFiles
from genlab.store.audit import SafetyAudit
from genlab.store.crud import RunRecords, atomic_write_text
from genlab.store.engine import Database, safe_url
from genlab.store.lease import RunLease
from genlab.store.location import db_url as resolve_url
from genlab.store.location import runs_dir
from genlab.store.metrics import MetricRows
from genlab.store.migrate import upgrade
from genlab.store.records import (
    ACTIVE,
    CANCEL,
    FINISHED,
    HEARTBEAT_STALE_S,
    LINK_KINDS,
    PRUNE,
    RUN_ID_PATTERN,
    SAFETY_ACTIONS,
    STALL_AFTER_S_DEFAULT,
    STATUSES,
    Run,
    RunNotFound,
    RunStateError,
    StoreOffline,
    StoreUnavailable,
    check_run_id,
    new_run_id,
    stall_after_s,
)

__all__ = [
    "ACTIVE",
    "CANCEL",
    "FINISHED",
    "HEARTBEAT_STALE_S",
    "LINK_KINDS",
    "PRUNE",
    "RUN_ID_PATTERN",
    "SAFETY_ACTIONS",
    "STALL_AFTER_S_DEFAULT",
    "STATUSES",
    "Run",
    "RunNotFound",
    "RunStateError",
    "RunStore",
    "StoreOffline",
    "StoreUnavailable",
    "atomic_write_text",
    "check_run_id",
    "new_run_id",
    "stall_after_s",
]


class RunStore(RunRecords, RunLease, MetricRows, RunFiles, SafetyAudit):
    """Index of runs, metrics and artifacts; safe to share between threads and processes.

    `db_url` overrides GENLAB_DB_URL (tests, benchmarks); `artifact_root` overrides GENLAB_ARTIFACT_ROOT.
    """

    def __init__(
        self, home: str | Path | None = None, *, db_url: str | None = None, artifact_root: str | Path | None = None
    ) -> None:
        try:
            self.home = Path(home).resolve() if home else genlab_home()
            self.home.mkdir(parents=True, exist_ok=True)
            self.runs_dir = Path(artifact_root).expanduser().resolve() if artifact_root else runs_dir(self.home)
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreUnavailable(
                f"GenLab cannot create its home folder or run folders ({err.strerror or err}). Set GENLAB_HOME "
                "(and GENLAB_ARTIFACT_ROOT, if set) to folders you can write to, e.g. GENLAB_HOME=~/genlab_home"
            ) from None
        self.db = Database(resolve_url(self.home, db_url), self.home)
        self._init_buffers()
        try:
            upgrade(self.db)
        except StoreUnavailable:
            self.db.dispose()
            raise

    def _init_buffers(self) -> None:
        self._pending_lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._pending_artifacts: list[dict[str, Any]] = []

    @property
    def db_path(self) -> Path:
        """The SQLite file (the default store); a team store on PostgreSQL has none."""
        path = self.db.sqlite_path
        if path is None:
            raise StoreUnavailable(f"This run store is on a database server ({self.describe()}), not a file")
        return path

    def describe(self) -> str:
        """Where the store lives, for `genlab doctor`, the UI's footer and error messages."""
        return f"SQLite {self.db.sqlite_path}" if self.db.is_sqlite else f"PostgreSQL {safe_url(self.db.url)}"

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (ddp_spawn sends callbacks to child processes): connections are reopened there and
        writes an outage kept in memory stay with the process that made them."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_pending")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_buffers()

    def close(self) -> None:
        self.db.dispose()
