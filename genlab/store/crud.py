"""Runs: create, read, list, update and delete rows of the runs table and their folders."""

from __future__ import annotations

import errno
import json
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import sqlalchemy as sa
from sqlalchemy import exc

from genlab.core.atomic import atomic_write_bytes
from genlab.core.errors import GenLabError
from genlab.store.engine import Database, this_host
from genlab.store.listing import RunFilters, runs_query
from genlab.store.records import (
    FINISHED,
    STATUSES,
    Run,
    RunNotFound,
    RunStateError,
    check_run_id,
    new_run_id,
    row_to_run,
)
from genlab.store.schema import artifacts, feedback, links, metrics, runs, safety_events

if TYPE_CHECKING:
    from genlab.core.config import RunConfig


class RunRecords:
    """The runs table (mixed into RunStore, which sets `db` and `runs_dir`)."""

    db: Database
    runs_dir: Path

    def run_folder(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def load_config(self, run_id: str) -> RunConfig:
        """The config a run trains with: its runs/<id>/config.yaml, the file that also replays it (the
        `config` column is a copy for listing and search)."""
        from genlab.core.parsing import load_config  # the configs and families: only where a run is read or made

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
            from genlab.core.registry import get_family

            monitor = get_family(config.family).monitor
        data = getattr(config, "data", None)
        now = time.time()
        row = {
            "id": run_id,
            "name": config.name or run_id,
            "family": config.family,
            "status": "creating",
            "config": text,
            "data_name": getattr(data, "name", None) if data is not None else None,
            "created_at": now,
            "parent_id": parent_id,
            "sweep_id": sweep_id,
            "trial_id": trial_id,
            "tags": json.dumps(list(config.tags)),
            "notes": config.notes,
            "monitor": monitor,
            "started_at": now if status == "running" else None,
            "queued_at": now,
            "origin": this_host(),
        }
        try:
            with self.db.write() as con:
                con.execute(runs.insert().values(**row))
        except exc.IntegrityError:
            raise RunStateError(f"A run with id {run_id!r} already exists; choose another --run-id") from None
        try:
            for sub in ("checkpoints", "samples", "exports", "logs"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / "config.yaml", text)
        except OSError as err:
            with self.db.write() as con:
                con.execute(runs.delete().where(runs.c.id == run_id))
            shutil.rmtree(folder, ignore_errors=True)
            raise GenLabError(f"Could not create the run's folder: {os_error_text(err)}") from None
        with self.db.write() as con:
            con.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == "creating")
                .values(status=status, secret_holder=secret_holder)
            )
        return self.get(run_id)

    def get(self, run_id: str) -> Run:
        with self.db.read() as con:
            row = con.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise RunNotFound(run_id)
        return row_to_run(row, self.run_folder(row.id))

    def exists(self, run_id: str) -> bool:
        with self.db.read() as con:
            return con.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is not None

    def run_statuses(self, run_ids: Iterable[str | None]) -> dict[str, str]:
        """The status of each run of `run_ids` that this store holds (one query; a sweep's trials)."""
        ids = sorted({i for i in run_ids if i})
        if not ids:
            return {}
        with self.db.read() as con:
            return dict(con.execute(sa.select(runs.c.id, runs.c.status).where(runs.c.id.in_(ids))).all())

    def list_runs(self, **filters: Unpack[RunFilters]) -> list[Run]:
        """Newest first, filtered by status, family, sweep, a tag, or a text in the id/name/notes/tags/data."""
        sql, params = runs_query(self.db.backend, **filters)
        with self.db.read() as con:
            result = con.exec_driver_sql(sql, params)
            names = list(result.keys())
            rows = [dict(zip(names, r, strict=True)) for r in result]
        return [row_to_run(r, self.run_folder(r["id"])) for r in rows]

    def sweep_ids(self) -> list[str]:
        """The sweeps that have runs in this store (newest first)."""
        q = (
            sa.select(runs.c.sweep_id)
            .where(runs.c.sweep_id.is_not(None))
            .group_by(runs.c.sweep_id)
            .order_by(sa.func.max(runs.c.created_at).desc())
        )
        with self.db.read() as con:
            return [r[0] for r in con.execute(q)]

    def update(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run (tags are a list, hparams a dict)."""
        if not fields:
            return
        fields = encode_fields(fields)
        with self.db.write() as con:
            if con.execute(runs.update().where(runs.c.id == run_id).values(**fields)).rowcount == 0:
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
        with self.db.write() as con:
            row = con.execute(self._locked(sa.select(runs.c.warning).where(runs.c.id == run_id))).first()
            if row is None:
                raise RunNotFound(run_id)
            lines = [w for w in (row[0] or "").split("\n") if w]
            if message not in lines:
                lines.append(message)
            con.execute(runs.update().where(runs.c.id == run_id).values(warning="\n".join(lines[-10:])))

    def merge_wandb(self, run_id: str, **info: Any) -> None:
        """Merge keys into the run's W&B record (id, mode, url, dir, reports), in one transaction."""
        with self.db.write() as con:
            row = con.execute(self._locked(sa.select(runs.c.wandb).where(runs.c.id == run_id))).first()
            if row is None:
                raise RunNotFound(run_id)
            data = json.loads(row[0]) if row[0] else {}
            for key, value in info.items():
                if key == "reports":
                    data["reports"] = list(dict.fromkeys([*data.get("reports", []), *value]))
                else:
                    data[key] = value
            con.execute(runs.update().where(runs.c.id == run_id).values(wandb=json.dumps(data)))

    def _locked(self, query: sa.Select) -> sa.Select:
        """A read-modify-write's read: SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL
        locks the row so two machines merging at once do not lose an update."""
        return query if self.db.is_sqlite else query.with_for_update()

    def delete(self, run_id: str) -> None:
        """Remove a finished run, its metrics, artifacts and folder; a queued or running run is refused in
        the same transaction that deletes, so a resume racing the delete cannot lose its folder."""
        check_run_id(run_id)
        with self.db.write() as con:
            row = con.execute(self._locked(sa.select(runs.c.status).where(runs.c.id == run_id))).first()
            if row is None:
                raise RunNotFound(run_id)
            if row[0] not in FINISHED:
                raise RunStateError(
                    f"Run {run_id} is {row[0]}; cancel it (python -m genlab cancel {run_id}) and delete it once it "
                    "has stopped"
                )
            con.execute(runs.update().where(runs.c.id == run_id).values(status="deleting"))
        shutil.rmtree(self.run_folder(run_id), ignore_errors=True)
        with self.db.write() as con:
            for table in (metrics, artifacts, safety_events, feedback):
                con.execute(table.delete().where(table.c.run_id == run_id))
            con.execute(links.delete().where(sa.or_(links.c.run_id == run_id, links.c.target_id == run_id)))
            con.execute(runs.delete().where(runs.c.id == run_id))


def encode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values as stored: tags, hparams and wandb as JSON text; unknown columns refused."""
    out = dict(fields)
    if "tags" in out:
        out["tags"] = json.dumps(list(out["tags"]))
    if "hparams" in out:
        out["hparams"] = json.dumps(out["hparams"], default=str)
    if "wandb" in out and out["wandb"] is not None:
        out["wandb"] = json.dumps(out["wandb"])
    for key in out:
        if key not in runs.c:
            raise ValueError(f"bad column {key!r}")
    return out


def os_error_text(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "the disk is full; free some space (delete old runs or checkpoints) and try again"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "GENLAB_HOME is not writable; set GENLAB_HOME to a folder you can write to"
    return err.strerror or str(err)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file a reader sees whole or not at all: temp file in the same folder, fsync, rename."""
    atomic_write_bytes(path, text.encode("utf-8"))
