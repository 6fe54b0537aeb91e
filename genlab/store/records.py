"""What the run store holds and says: the Run record, run statuses, ids, and the store's errors.

Torch-free and database-free, so the UI, the CLI and the server can import it cheaply.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genlab.core.errors import GenLabError

STATUSES = ("queued", "running", "completed", "failed", "cancelled", "interrupted", "pruned")
ACTIVE = ("queued", "running")
FINISHED = ("completed", "failed", "cancelled", "interrupted", "pruned")
# cancel_requested holds why a run is asked to stop: a user's cancel, or a sweep pruning a hopeless trial.
CANCEL, PRUNE = 1, 2
# A worker's liveness beat (a thread, every WORKER_BEAT_S) goes quiet for this long: its machine died.
HEARTBEAT_STALE_S = 120.0
# A live worker pid is trusted this long after a beat, before it has exec'd into `python -m genlab worker`.
START_GRACE_S = 30.0
WORKER_BEAT_S = 15.0
LINK_KINDS = ("pruned_from", "distilled_from")
STALL_AFTER_S_DEFAULT = 600.0
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}"

SCHEMA_REVISION = "0003"  # the newest migration (schema.HEAD); tests/test_store_migrations.py checks the scripts
VERSION_TABLE = "genlab_store_version"  # where a store keeps its revision (genlab.store.migrate says why)

SAFETY_ACTIONS = ("pass", "blocked", "masked", "annotated", "regenerated")


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
    origin: str | None = None  # the machine the run was created on (`host`: the one that trains it)
    worker_beat: float | None = None  # the worker's liveness beat (a thread), unlike `heartbeat` (batches)

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


class StoreOffline(StoreUnavailable):
    """The team database server cannot be reached (down, restarting, or the network is cut)."""


def heartbeat_stale_s() -> float:
    """How long another machine's worker may stay silent before its run counts as interrupted
    (GENLAB_HEARTBEAT_STALE_S; default HEARTBEAT_STALE_S, eight missed worker beats)."""
    env = os.environ.get("GENLAB_HEARTBEAT_STALE_S")
    try:
        return max(1.0, float(env)) if env else HEARTBEAT_STALE_S
    except ValueError:
        raise GenLabError(f"GENLAB_HEARTBEAT_STALE_S must be a number of seconds, got {env!r}") from None


def worker_gone(row: Any, *, now: float, host: str, stale_s: float) -> bool:
    """Whether a running run's worker is gone (kill -9, OOM, a machine that died); `row` has the runs
    table's pid, host, heartbeat and worker_beat. A worker on this machine is judged by its process
    (imports under heavy load can take longer than any beat interval); a worker on another machine, or
    not yet spawned, by its newest beat."""
    from genlab.core.procs import pid_alive

    if row.pid is not None and row.host == host:
        # Claimed or beat moments ago: a live process that is not GenLab yet (forked, not yet exec'd)
        # still owns the run, so a delete or resume in that window is refused.
        starting = row.heartbeat is not None and now - row.heartbeat < START_GRACE_S
        return not pid_alive(row.pid, genlab_only=not starting)
    last = max((t for t in (row.heartbeat, row.worker_beat) if t is not None), default=None)
    return last is None or now - last > stale_s


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


_JSON_COLUMNS = {"hparams": dict, "tags": list, "wandb": dict}


def row_to_run(row: Any, folder: Path) -> Run:
    """A Run from a runs-table row (a SQLAlchemy Row or a mapping)."""
    d = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return Run(
        id=d["id"],
        name=d["name"],
        family=d["family"],
        status=d["status"],
        config_yaml=d["config"],
        created_at=d["created_at"],
        folder=folder,
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
        origin=d.get("origin"),
        worker_beat=d.get("worker_beat"),
    )


def as_float(value: Any) -> float | None:
    """A metric value as a float (a tensor's item), or None when it is not a number."""
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return None
