"""Copy a whole run store into another database: a single machine's SQLite file becomes a team's
PostgreSQL store (or the other way), every id kept.

Run ids, metric row ids (a live view's position), artifact, audit and feedback ids all keep their values,
so links between runs, sweep trials' run ids and anything that names an id still point at the same thing.
The target must hold no runs: copying into a store in use could mix two histories. Metric rows are read
in id order, a page at a time (keyset pagination), and written in large batches (COPY on PostgreSQL), so
millions of rows copy in minutes with little memory. On PostgreSQL the id sequences are moved past the
copied ids, so new rows never collide. Run folders (checkpoints, samples) are files, not rows: with
`files_to` they are copied into the team's artifact root.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from genlab.store.records import StoreUnavailable
from genlab.store.runs import RunStore
from genlab.store.schema import api_keys, artifacts, feedback, links, metrics, runs, safety_events

PAGE = 50_000  # rows read and written per batch
TABLES = (runs, artifacts, links, safety_events, api_keys, feedback, metrics)  # metrics last: the bulk


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    folders: int = 0

    def describe(self) -> str:
        text = ", ".join(f"{n} {t}" for t, n in self.rows.items())
        return text + (f"; {self.folders} run folders copied" if self.folders else "")


def copy_store(
    source: RunStore,
    target: RunStore,
    *,
    files_to: Path | None = None,
    progress: Callable[[str], None] = lambda _text: None,
) -> CopyReport:
    """Copy every row of `source` into the empty store `target` (both already migrated to HEAD)."""
    with target.db.read() as con:
        if con.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one():
            raise StoreUnavailable(
                f"The target store {target.describe()} already holds runs; copy into an empty database "
                "(a new PostgreSQL database or schema) so two histories never mix"
            )
    report = CopyReport()
    for table in TABLES:
        report.rows[table.name] = _copy_table(source, target, table, progress)
    if not target.db.is_sqlite:
        _advance_sequences(target)
    if files_to is not None:
        report.folders = _copy_folders(source, Path(files_to), progress)
    return report


def _copy_table(source: RunStore, target: RunStore, table: sa.Table, progress: Callable[[str], None]) -> int:
    cols = [c.name for c in table.columns]
    key = table.c.id if "id" in table.c else None
    copied = 0
    last = None
    offset = 0
    while True:
        q = sa.select(*table.columns)
        if key is not None:  # keyset pagination: each page an index range, whatever the table's size
            if last is not None:
                q = q.where(key > last)
            q = q.order_by(key).limit(PAGE)
        else:  # links has no id: few rows, ordered by every column so pages never skip or repeat
            q = q.order_by(*table.columns).offset(offset).limit(PAGE)
        with source.db.read() as con:
            rows = [tuple(r) for r in con.execute(q)]
        if not rows:
            break
        _write(target, table, cols, rows)
        copied += len(rows)
        offset += len(rows)
        if key is not None:
            last = rows[-1][cols.index("id")]
        progress(f"{table.name}: {copied} rows")
        if len(rows) < PAGE:
            break
    return copied


def _write(target: RunStore, table: sa.Table, cols: list[str], rows: list[tuple]) -> None:
    if target.db.is_sqlite:
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        with target.db.raw_write() as cur:
            cur.executemany(sql, rows)
        return
    with target.db.raw_write() as cur:
        with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _advance_sequences(target: RunStore) -> None:
    """Serial ids continue after the copied ones (a copy with explicit ids leaves the sequence at 1)."""
    with target.db.write() as con:
        for table in (metrics, artifacts, safety_events, feedback):
            con.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )


def _copy_folders(source: RunStore, dest: Path, progress: Callable[[str], None]) -> int:
    """Each run's folder into the artifact root (a folder already there is left as it is)."""
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    with source.db.read() as con:
        ids = [r[0] for r in con.execute(sa.select(runs.c.id).order_by(runs.c.id))]
    for run_id in ids:
        src, dst = source.run_folder(run_id), dest / run_id
        if src.is_dir() and not dst.exists() and src.resolve() != dst.resolve():
            shutil.copytree(src, dst, symlinks=True)
            n += 1
    progress(f"run folders: {n} copied to {dest}")
    return n
