"""The run store: a SQLite (WAL) index plus one folder per run under GENLAB_HOME/runs/<id>/.

Several processes write at once (one worker per run, the UI, the CLI), so every write is one short
transaction and readers never block writers. A worker killed mid-write loses at most its uncommitted
transaction; SQLite's journal keeps the file consistent.

Every status change is one compare-and-set (`transition`): it names the statuses it moves from, so two
resumes, or a resume and a cancel, racing each other cannot both win. A worker owns its run by pid and
checks that before every write of progress or of its final status.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genlab.core.atomic import atomic_write_bytes
from genlab.core.config import RunConfig
from genlab.core.errors import GenLabError
from genlab.core.parsing import load_config
from genlab.core.paths import genlab_home
from genlab.core.registry import get_family

STATUSES = ("queued", "running", "completed", "failed", "cancelled", "interrupted", "pruned")
ACTIVE = ("queued", "running")
FINISHED = ("completed", "failed", "cancelled", "interrupted", "pruned")
# cancel_requested holds why a run is asked to stop: a user's cancel, or a sweep pruning a hopeless trial.
CANCEL, PRUNE = 1, 2
HEARTBEAT_STALE_S = 120.0
START_GRACE_S = 30.0  # a live worker pid is trusted this long after a heartbeat, before it exec's into genlab
LINK_KINDS = ("pruned_from", "distilled_from")
STALL_AFTER_S_DEFAULT = 600.0
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    family TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    hparams TEXT,
    data_name TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    pid INTEGER,
    host TEXT,
    heartbeat REAL,
    error TEXT,
    parent_id TEXT,
    sweep_id TEXT,
    trial_id INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    step INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER,
    eta_s REAL,
    monitor TEXT,
    best_value REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    resume_requested INTEGER NOT NULL DEFAULT 0,
    resume_count INTEGER NOT NULL DEFAULT 0,
    warning TEXT,
    wandb TEXT,
    secret_holder TEXT,
    queued_at REAL
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created_at);

CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep_id);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER,
    key TEXT NOT NULL,
    value REAL,
    time REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS metrics_run_key_step ON metrics(run_id, key, step);
CREATE INDEX IF NOT EXISTS metrics_run_rowid ON metrics(run_id);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    step INTEGER,
    created_at REAL NOT NULL,
    meta TEXT
);
CREATE INDEX IF NOT EXISTS artifacts_run ON artifacts(run_id, kind, step);
CREATE TABLE IF NOT EXISTS links (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    meta TEXT
);
CREATE INDEX IF NOT EXISTS links_run ON links(run_id);
CREATE INDEX IF NOT EXISTS links_target ON links(target_id);
CREATE TABLE IF NOT EXISTS safety_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    time REAL NOT NULL,
    path TEXT NOT NULL,
    action TEXT NOT NULL,
    screener TEXT,
    scores TEXT,
    flagged TEXT,
    sha256 TEXT NOT NULL,
    text TEXT
);
CREATE INDEX IF NOT EXISTS safety_events_run ON safety_events(run_id, time);
"""
# Columns added after the first release: older stores get them on open (ALTER TABLE, idempotent).
SAFETY_ACTIONS = ("pass", "blocked", "masked", "annotated", "regenerated")

# Columns added after the first release: an older genlab.db gains them on open.
_ADDED_COLUMNS = {"warning": "TEXT", "wandb": "TEXT", "secret_holder": "TEXT", "queued_at": "REAL"}


@dataclass
class Run:
    """One row of the runs table, with its folder."""

    id: str
    name: str
    family: str
    status: str
    config_yaml: str
    created_at: float
    folder: Path
    data_name: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None
    host: str | None = None
    heartbeat: float | None = None
    error: str | None = None
    parent_id: str | None = None
    sweep_id: str | None = None
    trial_id: int | None = None
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    step: int = 0
    epoch: int = 0
    total_steps: int | None = None
    eta_s: float | None = None
    monitor: str | None = None
    best_value: float | None = None
    cancel_requested: bool = False
    resume_requested: bool = False
    resume_count: int = 0
    warning: str | None = None
    wandb: dict[str, Any] = field(default_factory=dict)
    secret_holder: str | None = None
    queued_at: float | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The run's config as plain data (validate with genlab.core.config.parse_config)."""
        return yaml.safe_load(self.config_yaml)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at

    @property
    def stalled(self) -> bool:
        """Running, but no training batch for longer than GENLAB_STALL_AFTER_S (default 10 minutes): a hung
        data loader or a DDP rank waiting for a node. The heartbeat comes from batches, never a timer."""
        if self.status != "running" or self.heartbeat is None:
            return False
        return time.time() - self.heartbeat > stall_after_s()

    @property
    def progress(self) -> float:
        if self.status == "completed":
            return 1.0
        if not self.total_steps:
            return 0.0
        return max(0.0, min(1.0, self.step / self.total_steps))

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("config_yaml", "folder")}
        out["folder"] = str(self.folder)
        out["config"] = self.config
        out["progress"] = self.progress
        out["duration_s"] = self.duration_s
        return out


class RunNotFound(KeyError):
    def __str__(self) -> str:
        return f"No run with id {self.args[0]!r} (see `python -m genlab runs list`)"


class RunStateError(GenLabError):
    """A run is not in a state the action allows (resume a running run, delete a live one)."""


class StoreUnavailable(GenLabError):
    """GENLAB_HOME cannot hold the run store (read-only, not creatable, or its database is unreadable)."""


def stall_after_s() -> float:
    env = os.environ.get("GENLAB_STALL_AFTER_S")
    try:
        return float(env) if env else STALL_AFTER_S_DEFAULT
    except ValueError:
        raise GenLabError(f"GENLAB_STALL_AFTER_S must be a number of seconds, got {env!r}") from None


def check_run_id(run_id: str) -> str:
    """A run id names a folder under runs/: letters, digits, '.', '_' and '-' only (no '..', no '/')."""
    if not isinstance(run_id, str) or not re.fullmatch(RUN_ID_PATTERN, run_id) or ".." in run_id:
        raise GenLabError(
            f"run id {run_id!r} is not valid: use 1-101 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit (no '/' or '..')"
        )
    return run_id


def new_run_id(family: str) -> str:
    """Sortable, readable and unique across processes: family-YYYYmmdd-HHMMSS-xxxx."""
    return f"{family}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _pid_alive(pid: int | None, *, starting: bool = False) -> bool:
    """True when the process exists, is not a zombie waiting to be reaped, and is a GenLab process
    (so a recycled pid of an unrelated program does not keep a dead run 'running').

    `starting`: the run was claimed or beat moments ago, so a live process that does not look like GenLab
    yet (forked, not yet exec'd into `python -m genlab worker`) still counts: the run is owned from the
    moment it is claimed, and a delete or resume in that window is refused."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return starting or b"genlab" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return True


class RunStore:
    """Index of runs, metrics and artifacts; safe to share between threads and processes."""

    def __init__(self, home: str | Path | None = None) -> None:
        try:
            self.home = Path(home).resolve() if home else genlab_home()
            self.home.mkdir(parents=True, exist_ok=True)
            self.runs_dir = self.home / "runs"
            self.runs_dir.mkdir(exist_ok=True)
        except OSError as err:
            raise StoreUnavailable(
                f"GenLab cannot create its home folder ({err.strerror or err}). Set GENLAB_HOME to a folder you "
                "can write to, e.g. GENLAB_HOME=~/genlab_home"
            ) from None
        self.db_path = self.home / "genlab.db"
        self._local = threading.local()
        try:
            self._con().executescript(_SCHEMA)  # idempotent; executescript manages its own transaction
            self._migrate()
        except sqlite3.Error as err:
            self.close()
            raise StoreUnavailable(_store_error_text(self.home, err)) from None

    def _migrate(self) -> None:
        con = self._con()
        have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in have:
                try:
                    con.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as err:  # another process added it a moment ago
                    if "duplicate column" not in str(err):
                        raise

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (ddp_spawn sends callbacks to child processes): connections are reopened there."""
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    # -- connections -------------------------------------------------------------------------------

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, check_same_thread=False)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA busy_timeout=60000")
            self._local.con = con
            self._local.pid = os.getpid()
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; BEGIN IMMEDIATE so concurrent writers queue instead of failing.

        A read-only or full disk becomes a StoreUnavailable/GenLabError with what to do, not a sqlite3 traceback.
        """
        con = self._con()
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise StoreUnavailable(_store_error_text(self.home, err)) from None
        try:
            yield con
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        try:
            con.execute("COMMIT")
        except sqlite3.OperationalError as err:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise StoreUnavailable(_store_error_text(self.home, err)) from None

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- runs --------------------------------------------------------------------------------------

    def run_folder(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def load_config(self, run_id: str) -> RunConfig:
        """The config a run trains with: its runs/<id>/config.yaml, the file that also replays it (the
        `config` column is a copy for listing and search)."""
        return load_config(self.run_folder(run_id) / "config.yaml")

    def create_run(
        self,
        config: Any,
        *,
        status: str = "queued",
        parent_id: str | None = None,
        sweep_id: str | None = None,
        trial_id: int | None = None,
        monitor: str | None = None,
        run_id: str | None = None,
        secret_holder: str | None = None,
    ) -> Run:
        """Register a run and write runs/<id>/config.yaml (the file that replays it).

        The row is inserted first (an existing id is refused before any file is touched), then the folder is
        written through a temp file and rename; if writing fails (disk full) the row and folder are removed.
        `secret_holder` names the process keeping the run's secrets in memory (see genlab.store.run_secrets).
        """
        if run_id is not None:
            check_run_id(run_id)
        run_id = run_id or new_run_id(config.family)
        folder = self.run_folder(run_id)
        if self.exists(run_id) or folder.exists():
            raise RunStateError(f"A run with id {run_id!r} already exists; choose another --run-id")
        text = config.to_yaml()
        if monitor is None:
            monitor = get_family(config.family).monitor
        name = config.name or run_id
        data = getattr(config, "data", None)
        data_name = getattr(data, "name", None) if data is not None else None
        now = time.time()
        try:
            with self._write() as con:
                con.execute(
                    "INSERT INTO runs (id, name, family, status, config, data_name, created_at, parent_id, sweep_id,"
                    " trial_id, tags, notes, monitor, started_at, queued_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_id,
                        name,
                        config.family,
                        "creating",
                        text,
                        data_name,
                        now,
                        parent_id,
                        sweep_id,
                        trial_id,
                        json.dumps(list(config.tags)),
                        config.notes,
                        monitor,
                        now if status == "running" else None,
                        now,
                    ),
                )
        except sqlite3.IntegrityError:
            raise RunStateError(f"A run with id {run_id!r} already exists; choose another --run-id") from None
        try:
            for sub in ("checkpoints", "samples", "exports", "logs"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / "config.yaml", text)
        except OSError as err:
            with self._write() as con:
                con.execute("DELETE FROM runs WHERE id=?", (run_id,))
            shutil.rmtree(folder, ignore_errors=True)
            raise GenLabError(f"Could not create the run's folder: {_os_error_text(err)}") from None
        with self._write() as con:
            con.execute(
                "UPDATE runs SET status=?, secret_holder=? WHERE id=? AND status='creating'",
                (status, secret_holder, run_id),
            )
        return self.get(run_id)

    def get(self, run_id: str) -> Run:
        row = self._con().execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return self._row_to_run(row)

    def exists(self, run_id: str) -> bool:
        return self._con().execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone() is not None

    def list_runs(
        self,
        *,
        status: str | Iterable[str] | None = None,
        family: str | None = None,
        sweep_id: str | None = None,
        search: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Newest first, filtered by status, family, sweep, a tag, or a text in the name/id/notes."""
        where, args = ["status NOT IN ('creating', 'deleting')"], []
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args += statuses
        if family:
            where.append("family=?")
            args.append(family)
        if sweep_id:
            where.append("sweep_id=?")
            args.append(sweep_id)
        if search:
            where.append("(id LIKE ? OR name LIKE ? OR notes LIKE ? OR tags LIKE ? OR data_name LIKE ?)")
            args += [f"%{search}%"] * 5
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value=?)")
            args.append(tag)
        sql = "SELECT * FROM runs WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [self._row_to_run(r) for r in self._con().execute(sql, args).fetchall()]

    def sweep_ids(self) -> list[str]:
        """The sweeps that have runs in this store (newest first)."""
        rows = self._con().execute(
            "SELECT sweep_id FROM runs WHERE sweep_id IS NOT NULL GROUP BY sweep_id ORDER BY MAX(created_at) DESC"
        )
        return [r[0] for r in rows]

    def update(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run (tags are a list, hparams a dict)."""
        if not fields:
            return
        if "tags" in fields:
            fields["tags"] = json.dumps(list(fields["tags"]))
        if "hparams" in fields:
            fields["hparams"] = json.dumps(fields["hparams"], default=str)
        if "wandb" in fields and fields["wandb"] is not None:
            fields["wandb"] = json.dumps(fields["wandb"])
        for key in fields:
            if not key.isidentifier():
                raise ValueError(f"bad column {key!r}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._write() as con:
            cur = con.execute(f"UPDATE runs SET {cols} WHERE id=?", (*fields.values(), run_id))
            if cur.rowcount == 0:
                raise RunNotFound(run_id)

    def set_status(self, run_id: str, status: str, *, error: str | None = None) -> None:
        """Unconditional status write (tests and repairs); workers and actions use transition()."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {STATUSES}")
        fields: dict[str, Any] = {"status": status}
        if status in FINISHED:
            fields["ended_at"] = time.time()
        if error is not None:
            fields["error"] = error
        self.update(run_id, **fields)

    def add_warning(self, run_id: str, message: str) -> None:
        """Append a warning (something went wrong beside training, e.g. W&B) without touching `error`."""
        with self._write() as con:
            row = con.execute("SELECT warning FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            lines = [w for w in (row[0] or "").split("\n") if w]
            if message not in lines:
                lines.append(message)
            con.execute("UPDATE runs SET warning=? WHERE id=?", ("\n".join(lines[-10:]), run_id))

    def merge_wandb(self, run_id: str, **info: Any) -> None:
        """Merge keys into the run's W&B record (id, mode, url, dir, reports), in one transaction."""
        with self._write() as con:
            row = con.execute("SELECT wandb FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            data = json.loads(row[0]) if row[0] else {}
            for key, value in info.items():
                if key == "reports":
                    data["reports"] = list(dict.fromkeys([*data.get("reports", []), *value]))
                else:
                    data[key] = value
            con.execute("UPDATE runs SET wandb=? WHERE id=?", (json.dumps(data), run_id))

    def transition(
        self, run_id: str, from_statuses: Iterable[str], to: str, *, pid: int | None = None, **fields: Any
    ) -> bool:
        """Compare-and-set: move the run to `to` only if its status is one of from_statuses (and, with pid,
        only if that process owns it), in one transaction. False when another actor got there first."""
        if to not in STATUSES:
            raise ValueError(f"unknown status {to!r}; one of {STATUSES}")
        frm = list(from_statuses)
        sets = {"status": to, **fields}
        if to in FINISHED and "ended_at" not in sets:
            sets["ended_at"] = time.time()
        for key in sets:
            if not key.isidentifier():
                raise ValueError(f"bad column {key!r}")
        sql = (
            f"UPDATE runs SET {', '.join(f'{k}=?' for k in sets)} WHERE id=? AND status IN ({','.join('?' * len(frm))})"
        )
        args: list[Any] = [*sets.values(), run_id, *frm]
        if pid is not None:
            sql += " AND pid=?"
            args.append(pid)
        with self._write() as con:
            return con.execute(sql, args).rowcount == 1

    def claim_next(self, max_running: int, holder: str | None = None, holder_alive: Any = None) -> Run | None:
        """Atomically move the longest-queued run to running if fewer than max_running are running.

        Order is by the time a run was queued (a resumed run queues again at the back), not created.
        A run whose secrets (a user's W&B key) are held in another live process's memory is left for that
        process to start (`holder`: this process's name; `holder_alive(name)` says whether one still runs).
        """
        with self._write() as con:
            running = con.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0]
            if running >= max_running:
                return None
            row = None
            for cand in con.execute(
                "SELECT id, secret_holder FROM runs WHERE status='queued' ORDER BY COALESCE(queued_at, created_at), id"
            ).fetchall():
                owner = cand["secret_holder"]
                if not owner or owner == holder or holder_alive is None or not holder_alive(owner):
                    row = cand
                    break
            if row is None:
                return None
            now = time.time()
            con.execute(
                "UPDATE runs SET status='running', started_at=COALESCE(started_at, ?), heartbeat=?, pid=NULL,"
                " host=?, ended_at=NULL, error=NULL, cancel_requested=0 WHERE id=? AND status='queued'",
                (now, now, socket.gethostname(), row["id"]),
            )
        return self.get(row["id"])

    def own(self, run_id: str, pid: int, *, previous: int | None = None) -> bool:
        """A worker takes its run: only a running run with no owner yet (or owned by `previous`, its
        supervisor) can be taken, so a second worker started by a race finds it taken and exits."""
        with self._write() as con:
            cur = con.execute(
                "UPDATE runs SET pid=?, host=?, heartbeat=? WHERE id=? AND status='running' AND (pid IS NULL OR pid=?)",
                (pid, socket.gethostname(), time.time(), run_id, previous if previous is not None else pid),
            )
            return cur.rowcount == 1

    def beat(self, run_id: str, pid: int | None, **progress: Any) -> tuple[bool, bool]:
        """Progress heartbeat from a training batch: (still owned, cancel requested). One transaction."""
        sets = {"heartbeat": time.time(), **progress}
        sql = f"UPDATE runs SET {', '.join(f'{k}=?' for k in sets)} WHERE id=? AND status='running'"
        args: list[Any] = [*sets.values(), run_id]
        if pid is not None:
            sql += " AND pid=?"
            args.append(pid)
        with self._write() as con:
            owned = con.execute(sql, args).rowcount == 1
            row = con.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return owned, bool(row and row[0])

    def heartbeat(self, run_id: str, **progress: Any) -> None:
        self.update(run_id, heartbeat=time.time(), **progress)

    def request_cancel(self, run_id: str, *, prune: bool = False) -> bool:
        """Ask a running run's worker to stop after its step (`prune`: end as `pruned`, not `cancelled`);
        False when the run is not running."""
        with self._write() as con:
            cur = con.execute(
                "UPDATE runs SET cancel_requested=? WHERE id=? AND status='running'",
                (PRUNE if prune else CANCEL, run_id),
            )
            return cur.rowcount == 1

    def prune_requested(self, run_id: str) -> bool:
        row = self._con().execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0] == PRUNE)

    def cancel_requested(self, run_id: str) -> bool:
        row = self._con().execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0])

    def reap_dead(self) -> list[str]:
        """Mark running runs whose worker is gone (kill -9, OOM, reboot) as interrupted."""
        dead = []
        now = time.time()
        host = socket.gethostname()
        for run in self.list_runs(status="running"):
            # A local worker is judged by its process (imports under heavy load can take longer than
            # any heartbeat timeout); a worker on another machine, or not yet spawned, by its heartbeat.
            if run.pid is not None and run.host == host:
                starting = run.heartbeat is not None and now - run.heartbeat < START_GRACE_S
                gone, stale = not _pid_alive(run.pid, starting=starting), False
            else:
                gone = False
                stale = run.heartbeat is None or now - run.heartbeat > HEARTBEAT_STALE_S
            if gone or stale:
                with self._write() as con:
                    cur = con.execute(
                        "UPDATE runs SET status='interrupted', ended_at=?, error=COALESCE(error, ?)"
                        " WHERE id=? AND status='running' AND (heartbeat IS NULL OR heartbeat=?)",
                        (
                            now,
                            "The worker process stopped without finishing (killed, out of memory or the"
                            " machine restarted). Resume continues from the last checkpoint.",
                            run.id,
                            run.heartbeat,
                        ),
                    )
                if cur.rowcount:
                    dead.append(run.id)
        return dead

    def delete(self, run_id: str) -> None:
        """Remove a finished run, its metrics, artifacts and folder; a queued or running run is refused in
        the same transaction that deletes, so a resume racing the delete cannot lose its folder."""
        check_run_id(run_id)
        with self._write() as con:
            row = con.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            if row[0] not in FINISHED:
                raise RunStateError(
                    f"Run {run_id} is {row[0]}; cancel it (python -m genlab cancel {run_id}) and delete it once it "
                    "has stopped"
                )
            con.execute("UPDATE runs SET status='deleting' WHERE id=?", (run_id,))
        shutil.rmtree(self.run_folder(run_id), ignore_errors=True)
        with self._write() as con:
            con.execute("DELETE FROM metrics WHERE run_id=?", (run_id,))
            con.execute("DELETE FROM artifacts WHERE run_id=?", (run_id,))
            con.execute("DELETE FROM links WHERE run_id=? OR target_id=?", (run_id, run_id))
            con.execute("DELETE FROM safety_events WHERE run_id=?", (run_id,))
            con.execute("DELETE FROM runs WHERE id=?", (run_id,))

    # -- metrics -----------------------------------------------------------------------------------

    def log_metrics(self, run_id: str, step: int, values: dict[str, float], epoch: int | None = None) -> None:
        """Record one step's metrics in one transaction; a step logged again (a resumed run replaying the
        step after its checkpoint) replaces the old value, so a series never holds duplicate steps."""
        now = time.time()
        rows = [(run_id, int(step), epoch, k, _as_float(v), now) for k, v in values.items()]
        if not rows:
            return
        with self._write() as con:
            con.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, step, epoch, key, value, time) VALUES (?,?,?,?,?,?)", rows
            )

    def metric_keys(self, run_id: str) -> list[str]:
        rows = self._con().execute("SELECT DISTINCT key FROM metrics WHERE run_id=? ORDER BY key", (run_id,))
        return [r[0] for r in rows]

    def metrics(self, run_id: str, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rows of {step, epoch, key, value, time}, ordered by key then step."""
        sql, args = "SELECT step, epoch, key, value, time FROM metrics WHERE run_id=?", [run_id]
        if keys is not None:
            keys = list(keys)
            sql += f" AND key IN ({','.join('?' * len(keys))})"
            args += keys
        sql += " ORDER BY key, step, time"
        return [dict(r) for r in self._con().execute(sql, args).fetchall()]

    def metrics_stamp(self, run_id: str) -> int:
        """The newest metrics rowid of a run (0: none): a live view's cheap check for new points, one
        lookup at the end of the (run_id, rowid) index."""
        row = self._con().execute("SELECT MAX(rowid) FROM metrics WHERE run_id=?", (run_id,)).fetchone()
        return int(row[0] or 0)

    def metrics_since(self, run_id: str, after: int) -> tuple[list[dict[str, Any]], int]:
        """Rows of {step, key, value} written after rowid `after`, in write order, and the new last rowid."""
        rows = self._con().execute(
            "SELECT rowid, step, key, value FROM metrics WHERE run_id=? AND rowid>? ORDER BY rowid", (run_id, after)
        )
        out = [dict(r) for r in rows.fetchall()]
        return out, (out[-1]["rowid"] if out else after)

    def change_stamp(self, run_id: str) -> tuple[Any, ...]:
        """What a run page shows besides progress: changes when metrics, artifacts or the status change."""
        con = self._con()
        row = con.execute("SELECT status, cancel_requested, error, resume_count FROM runs WHERE id=?", (run_id,))
        art = con.execute("SELECT MAX(id) FROM artifacts WHERE run_id=?", (run_id,)).fetchone()
        return (self.metrics_stamp(run_id), art[0] or 0, tuple(row.fetchone() or ()))

    def table_stamp(self) -> tuple[Any, ...]:
        """What a table of runs shows: changes when a run is added, starts, steps, ends or logs metrics."""
        con = self._con()
        row = con.execute(
            "SELECT COUNT(*), MAX(created_at), MAX(started_at), MAX(ended_at),"
            " SUM(CASE WHEN status IN ('queued','running') THEN step + 1 ELSE 0 END) FROM runs"
        ).fetchone()
        return (*tuple(row), con.execute("SELECT MAX(rowid) FROM metrics").fetchone()[0])

    def metric_series(self, run_id: str, key: str) -> list[tuple[int, float]]:
        rows = self._con().execute(
            "SELECT step, value FROM metrics WHERE run_id=? AND key=? ORDER BY step, time", (run_id, key)
        )
        return [(r[0], r[1]) for r in rows]

    def last_metrics(self, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        """The latest value of every metric of each run (one query; for tables of many runs)."""
        ids = list(run_ids)
        if not ids:
            return {}
        rows = (
            self._con()
            .execute(
                f"SELECT run_id, key, value FROM metrics m WHERE run_id IN ({','.join('?' * len(ids))})"
                " AND rowid = (SELECT rowid FROM metrics WHERE run_id=m.run_id AND key=m.key ORDER BY step DESC,"
                " time DESC LIMIT 1)",
                ids,
            )
            .fetchall()
        )
        out: dict[str, dict[str, float]] = {i: {} for i in ids}
        for r in rows:
            out[r[0]][r[1]] = r[2]
        return out

    def truncate_after(self, run_id: str, step: int) -> None:
        """Drop metrics and artifacts logged after `step` (a resume replays from its checkpoint's step)."""
        with self._write() as con:
            con.execute("DELETE FROM metrics WHERE run_id=? AND step>?", (run_id, step))
            con.execute("DELETE FROM artifacts WHERE run_id=? AND step>? AND kind!='checkpoint'", (run_id, step))

    # -- artifacts ---------------------------------------------------------------------------------

    def add_artifact(
        self,
        run_id: str,
        kind: str,
        path: str | Path,
        *,
        name: str | None = None,
        step: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Record a file of the run (a sample grid, a checkpoint, a text sample, an export)."""
        path = Path(path)
        folder = self.run_folder(run_id)
        rel = str(path.relative_to(folder)) if path.is_absolute() and path.is_relative_to(folder) else str(path)
        with self._write() as con:
            con.execute(
                "INSERT INTO artifacts (run_id, kind, name, path, step, created_at, meta) VALUES (?,?,?,?,?,?,?)",
                (run_id, kind, name or path.stem, rel, step, time.time(), json.dumps(meta) if meta else None),
            )

    def artifacts(self, run_id: str, kind: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        """Artifacts ordered by step; `path` is absolute."""
        sql, args = "SELECT * FROM artifacts WHERE run_id=?", [run_id]
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        if name:
            sql += " AND name=?"
            args.append(name)
        sql += " ORDER BY step, id"
        folder = self.run_folder(run_id)
        out = []
        for r in self._con().execute(sql, args).fetchall():
            d = dict(r)
            d["path"] = str(folder / d["path"]) if not Path(d["path"]).is_absolute() else d["path"]
            d["meta"] = json.loads(d["meta"]) if d["meta"] else {}
            out.append(d)
        return out

    # -- links between runs (a pruned copy and its source, a student and its teacher) ----------------

    def add_link(self, run_id: str, kind: str, target_id: str, meta: dict[str, Any] | None = None) -> None:
        """Record that `run_id` was made from `target_id` in a way of its own (`pruned_from`,
        `distilled_from`), beside the plain "cloned from" parent_id."""
        if kind not in LINK_KINDS:
            raise ValueError(f"unknown link kind {kind!r}; one of {LINK_KINDS}")
        with self._write() as con:
            con.execute(
                "INSERT INTO links (run_id, kind, target_id, created_at, meta) VALUES (?,?,?,?,?)",
                (run_id, kind, target_id, time.time(), json.dumps(meta) if meta else None),
            )

    def links(self, run_id: str) -> list[dict[str, Any]]:
        """Links from and to a run: {run_id, kind, target_id, meta}."""
        rows = self._con().execute(
            "SELECT run_id, kind, target_id, created_at, meta FROM links WHERE run_id=? OR target_id=? ORDER BY created_at",
            (run_id, run_id),
        )
        return [dict(r) | {"meta": json.loads(r["meta"]) if r["meta"] else {}} for r in rows.fetchall()]

    # -- safety audit ------------------------------------------------------------------------------

    def add_safety_event(
        self,
        run_id: str,
        *,
        path: str,
        action: str,
        screener: str,
        scores: dict[str, float],
        flagged: list[str],
        sha256: str,
        text: str | None = None,
    ) -> None:
        """One screened output of a run (or of a pretrained model, `model:<name>`): where it came from,
        its scores, what the gate did, and a sha256 of the text (the text only when the owner asked)."""
        if action not in SAFETY_ACTIONS:
            raise ValueError(f"unknown safety action {action!r}; one of {SAFETY_ACTIONS}")
        with self._write() as con:
            con.execute(
                "INSERT INTO safety_events (run_id, time, path, action, screener, scores, flagged, sha256, text)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (run_id, time.time(), path, action, screener, json.dumps(scores), json.dumps(flagged), sha256, text),
            )

    def safety_events(self, run_id: str, *, flagged_only: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        """Audit rows, newest first."""
        sql = "SELECT * FROM safety_events WHERE run_id=?" + (" AND action!='pass'" if flagged_only else "")
        rows = self._con().execute(sql + " ORDER BY time DESC, id DESC LIMIT ?", (run_id, int(limit))).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["scores"] = json.loads(d["scores"] or "{}")
            d["flagged"] = json.loads(d["flagged"] or "[]")
            out.append(d)
        return out

    def safety_summary(self, run_id: str) -> dict[str, Any]:
        """How many outputs were screened, how many the gate stopped or changed, and the flagged rate."""
        rows = (
            self._con()
            .execute("SELECT action, COUNT(*) FROM safety_events WHERE run_id=? GROUP BY action", (run_id,))
            .fetchall()
        )
        by_action = {r[0]: r[1] for r in rows}
        screened = sum(by_action.values())
        flagged = screened - by_action.get("pass", 0)
        return {
            "screened": screened,
            "flagged": flagged,
            "flagged_rate": flagged / screened if screened else 0.0,
            "by_action": by_action,
        }

    # -- helpers -----------------------------------------------------------------------------------

    def _row_to_run(self, row: sqlite3.Row) -> Run:
        d = dict(row)
        return Run(
            id=d["id"],
            name=d["name"],
            family=d["family"],
            status=d["status"],
            config_yaml=d["config"],
            created_at=d["created_at"],
            folder=self.run_folder(d["id"]),
            data_name=d["data_name"],
            hparams=json.loads(d["hparams"]) if d["hparams"] else {},
            started_at=d["started_at"],
            ended_at=d["ended_at"],
            pid=d["pid"],
            host=d["host"],
            heartbeat=d["heartbeat"],
            error=d["error"],
            parent_id=d["parent_id"],
            sweep_id=d["sweep_id"],
            trial_id=d["trial_id"],
            tags=json.loads(d["tags"] or "[]"),
            notes=d["notes"] or "",
            step=d["step"],
            epoch=d["epoch"],
            total_steps=d["total_steps"],
            eta_s=d["eta_s"],
            monitor=d["monitor"],
            best_value=d["best_value"],
            cancel_requested=bool(d["cancel_requested"]),
            resume_requested=bool(d["resume_requested"]),
            resume_count=d["resume_count"],
            warning=d.get("warning"),
            wandb=json.loads(d["wandb"]) if d.get("wandb") else {},
            secret_holder=d.get("secret_holder"),
            queued_at=d.get("queued_at"),
        )


def _as_float(value: Any) -> float | None:
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return None


def _os_error_text(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "the disk is full; free some space (delete old runs or checkpoints) and try again"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "GENLAB_HOME is not writable; set GENLAB_HOME to a folder you can write to"
    return err.strerror or str(err)


def _store_error_text(home: Path, err: sqlite3.Error) -> str:
    text = str(err).lower()
    try:
        vfs = os.statvfs(home)
        if vfs.f_flag & os.ST_RDONLY:
            text = "readonly"
        elif vfs.f_bavail * vfs.f_frsize < 256 * 1024:
            text = "full"
    except OSError:
        pass
    if "full" in text:
        return "The disk holding GENLAB_HOME is full: free some space (delete old runs or checkpoints) and try again"
    if "readonly" in text or "read-only" in text or "unable to open" in text or "disk i/o" in text:
        return (
            f"The run store in GENLAB_HOME ({home.name}) cannot be written: the folder is read-only or not yours. "
            "Set GENLAB_HOME to a folder you can write to, e.g. GENLAB_HOME=~/genlab_home"
        )
    if "locked" in text or "busy" in text:
        return "The run store is busy (another process holds a long write); try again in a moment"
    return f"The run store cannot be used ({err}); check GENLAB_HOME"


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file a reader sees whole or not at all: temp file in the same folder, fsync, rename."""
    atomic_write_bytes(path, text.encode("utf-8"))
