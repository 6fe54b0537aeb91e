"""`runs list` over the database's own driver (sqlite3 or psycopg), without SQLAlchemy: importing it costs
a command's start 0.35 s on a 2-core machine, more than the listing's queries at 10,000 runs.

It only reads, and only where reading is all the command has to do. Where the store needs work first, it
returns None and the caller takes the full path (RunStore and the job queue's reconcile), which does it: no
database yet or an older schema (to create or migrate), a queued run (to launch), a running run whose
worker is gone (to mark interrupted), a retraining schedule (to check), or a database that cannot be
reached (the full path says so in words).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Unpack

from genlab.store.listing import RunFilters, chunks, latest_query, runs_query
from genlab.store.location import RETRAIN_FILE, db_url, runs_dir, sqlite_read_only_url, this_host
from genlab.store.records import SCHEMA_REVISION, VERSION_TABLE, Run, heartbeat_stale_s, row_to_run, worker_gone


class _Row:
    """Attribute access to a row of selected columns (what records.worker_gone reads)."""

    def __init__(self, names: list[str], values: tuple) -> None:
        self.__dict__.update(zip(names, values, strict=True))


def connect(url: str) -> tuple[Any, str, bool] | None:
    """(driver connection, backend, read-only) for the store's URL; None where it cannot be opened here."""
    if url.startswith("sqlite:///"):
        import sqlite3

        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return None
        read_only_url = sqlite_read_only_url(path)  # the store's folder cannot be written: RunStore reads it so
        target, uri = (read_only_url.removeprefix("sqlite:///"), True) if read_only_url else (str(path), False)
        try:
            return sqlite3.connect(target, uri=uri, timeout=60), "sqlite", read_only_url is not None
        except sqlite3.Error:
            return None
    import psycopg

    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        con = psycopg.connect(conninfo, connect_timeout=5, application_name=f"genlab@{this_host()}", autocommit=True)
    except psycopg.Error:
        return None
    return con, "postgresql", False


def _fetch(cur: Any, sql: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
    cur.execute(sql, params or {})
    return [d[0] for d in cur.description], cur.fetchall()


def has_work(cur: Any, home: Path) -> bool:
    """Whether the job queue's reconcile would change something: a queued run, a dead worker, a schedule."""
    if any(runs_dir(home).glob(f"*/{RETRAIN_FILE}")):
        return True
    _, queued = _fetch(cur, "SELECT id FROM runs WHERE status = 'queued' LIMIT 1")
    if queued:
        return True
    names, running = _fetch(cur, "SELECT id, pid, host, heartbeat, worker_beat FROM runs WHERE status = 'running'")
    now, host, stale_s = time.time(), this_host(), heartbeat_stale_s()
    return any(worker_gone(_Row(names, r), now=now, host=host, stale_s=stale_s) for r in running)


def driver_error(backend: str) -> type[Exception]:
    """The base class of the driver's errors (already imported by connect)."""
    if backend == "sqlite":
        import sqlite3

        return sqlite3.Error
    import psycopg

    return psycopg.Error


def read_runs(home: Path, **filters: Unpack[RunFilters]) -> tuple[list[Run], dict[str, dict[str, float]]] | None:
    """(runs newest first, each run's latest metrics) as RunStore.list_runs and last_metrics give them, or
    None where the full path must run (see the module's docstring). `filters` are list_runs' keywords."""
    opened = connect(db_url(home))
    if opened is None:
        return None
    con, backend, read_only = opened
    try:
        cur = con.cursor()
        _, rev = _fetch(cur, f"SELECT version_num FROM {VERSION_TABLE}")
        if rev != [(SCHEMA_REVISION,)] or (not read_only and has_work(cur, home)):
            return None
        names, rows = _fetch(cur, *runs_query(backend, **filters))
        folder = runs_dir(home)
        runs = [row_to_run(dict(zip(names, r, strict=True)), folder / r[names.index("id")]) for r in rows]
        latest: dict[str, dict[str, float]] = {r.id: {} for r in runs}
        for part in chunks(list(latest)):
            for run_id, key, value in _fetch(cur, *latest_query(backend, part))[1]:
                latest[run_id][key] = value
        return runs, latest
    except Exception as err:
        if isinstance(err, driver_error(backend)):
            return None  # the full path reports it in words
        raise
    finally:
        con.close()
