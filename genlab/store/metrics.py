"""Metric rows: written once per logged step, read by charts, tables and live followers.

A step logged again (a resumed run replaying the steps after its checkpoint) replaces the old value and
takes a new row id, so a series never holds duplicate steps and a live view (which reads "rows after id
N") sees the replacement. That also makes writes idempotent: a batch whose commit was cut off by a
database outage can be written again without doubling a row.

While a team database is unreachable, rows wait in memory (in order) and are written with the next write
that gets through; training never stops for the store.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from genlab.store.engine import Database
from genlab.store.listing import chunks, latest_query
from genlab.store.records import StoreOffline, as_float
from genlab.store.schema import artifacts, metrics, runs

_UPSERT: dict[str, str] = {}  # backend -> SQL
ROW_COLUMNS = ("run_id", "step", "epoch", "key", "value", "time")  # a metric row as written


COPY_MIN_ROWS = 200  # from this many rows on, PostgreSQL takes a batch by COPY (one round trip, no per-row plan)
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS metrics_in (n BIGSERIAL, run_id TEXT, step INTEGER, epoch INTEGER,"
    " key TEXT, value DOUBLE PRECISION, time DOUBLE PRECISION) ON COMMIT DELETE ROWS"
)
_FROM_STAGE = (
    "INSERT INTO metrics (run_id, step, epoch, key, value, time)"
    " SELECT DISTINCT ON (run_id, key, step) run_id, step, epoch, key, value, time FROM metrics_in"
    " ORDER BY run_id, key, step, n DESC"  # a step given twice in one batch: the later value wins
    " ON CONFLICT (run_id, key, step) DO UPDATE"
    " SET epoch = EXCLUDED.epoch, value = EXCLUDED.value, time = EXCLUDED.time, id = EXCLUDED.id"
)


def _copy_upsert(cur: Any, rows: Sequence[tuple]) -> None:
    """A large batch on PostgreSQL: COPY into a per-session staging table, then one INSERT ... ON CONFLICT
    (replaces a step logged again, like the row-by-row upsert); the staging rows vanish at commit."""
    cur.execute(_STAGE)
    with cur.copy("COPY metrics_in (run_id, step, epoch, key, value, time) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cur.execute(_FROM_STAGE)


class MetricRows:
    """The metrics table (mixed into RunStore)."""

    db: Database
    _pending: list[tuple]
    _pending_lock: threading.Lock

    def _upsert_sql(self) -> str:
        """Insert-or-replace of metric rows in the driver's own SQL (the hot path of every step)."""
        sql = _UPSERT.get(self.db.backend)
        if sql is None:
            sql = _UPSERT[self.db.backend] = self._build_upsert()
        return sql

    def _build_upsert(self) -> str:
        cols = ROW_COLUMNS
        values = ", ".join(["?" if self.db.is_sqlite else "%s"] * len(cols))  # positional: tuples bind fastest
        if self.db.is_sqlite:
            return f"INSERT OR REPLACE INTO metrics ({', '.join(cols)}) VALUES ({values})"
        return (
            f"INSERT INTO metrics ({', '.join(cols)}) VALUES ({values}) ON CONFLICT (run_id, key, step) DO UPDATE"
            " SET epoch = EXCLUDED.epoch, value = EXCLUDED.value, time = EXCLUDED.time, id = EXCLUDED.id"
        )

    def log_metrics(self, run_id: str, step: int, values: dict[str, float], epoch: int | None = None) -> None:
        """Record one step's metrics in one transaction (kept in memory while the database is down)."""
        now = time.time()
        step = int(step)
        rows = [(run_id, step, epoch, k, as_float(v), now) for k, v in values.items()]
        if rows:
            self.write_metric_rows(rows)

    def write_metric_rows(self, rows: Sequence[tuple | dict[str, Any]]) -> None:
        """Write rows (any runs, any steps; tuples in ROW_COLUMNS order or dicts by column name) after
        whatever an outage left waiting, in one transaction."""
        if rows and isinstance(rows[0], dict):
            rows = [tuple(r[c] for c in ROW_COLUMNS) for r in rows]  # type: ignore[index]
        with self._pending_lock:
            batch = self._pending + list(rows) if self._pending else rows
            try:
                with self.db.raw_write() as cur:
                    if len(batch) >= COPY_MIN_ROWS and not self.db.is_sqlite:
                        _copy_upsert(cur, batch)
                    else:
                        cur.executemany(self._upsert_sql(), batch)
            except StoreOffline as err:
                if not self._pending:
                    print(
                        f"store: keeping metrics in memory until the database is back ({err})",
                        file=sys.stderr,
                        flush=True,
                    )
                self._pending = list(batch)
                return
            if self._pending:
                print(f"store: database back; wrote {len(self._pending)} kept metric rows", file=sys.stderr, flush=True)
            self._pending = []

    def _flush_pending(self) -> None:
        if self._pending:
            self.write_metric_rows([])

    @property
    def pending_metric_rows(self) -> int:
        """Rows waiting for the database (0 when everything is written)."""
        return len(self._pending)

    def metric_keys(self, run_id: str) -> list[str]:
        """A run's metric names, one index seek each (a loose scan of (run_id, key, step)), so a run with
        millions of rows lists its few keys at once."""
        c = metrics.c
        keys: list[str] = []
        with self.db.read() as con:
            while True:
                q = sa.select(sa.func.min(c.key)).where(c.run_id == run_id)
                if keys:
                    q = q.where(c.key > keys[-1])
                key = con.execute(q).scalar()
                if key is None:
                    return keys
                keys.append(key)

    def metric_spans(self, run_id: str) -> dict[str, tuple[int, int]]:
        """(first step, last step) of each metric of a run: index seeks only, whatever the run's size."""
        with self.db.read() as con:
            return {key: _step_span(con, run_id, key) for key in self.metric_keys(run_id)}

    def metrics(self, run_id: str, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rows of {step, epoch, key, value, time}, ordered by key then step."""
        c = metrics.c
        q = sa.select(c.step, c.epoch, c.key, c.value, c.time).where(c.run_id == run_id)
        if keys is not None:
            q = q.where(c.key.in_(list(keys)))
        q = q.order_by(c.key, c.step, c.time)
        with self.db.read() as con:
            return [dict(r._mapping) for r in con.execute(q)]

    def metrics_stamp(self, run_id: str) -> int:
        """The newest metric row id of a run (0: none): a live view's cheap check for new points, one
        lookup at the end of the (run_id, id) index."""
        q = sa.select(sa.func.max(metrics.c.id)).where(metrics.c.run_id == run_id)
        with self.db.read() as con:
            return int(con.execute(q).scalar() or 0)

    def metrics_since(self, run_id: str, after: int) -> tuple[list[dict[str, Any]], int]:
        """Rows of {rowid, step, key, value} written after row id `after`, in write order, and the new
        last id."""
        c = metrics.c
        q = (
            sa.select(c.id.label("rowid"), c.step, c.key, c.value)
            .where(c.run_id == run_id, c.id > after)
            .order_by(c.id)
        )
        with self.db.read() as con:
            out = [dict(r._mapping) for r in con.execute(q)]
        return out, (out[-1]["rowid"] if out else after)

    def change_stamp(self, run_id: str) -> tuple[Any, ...]:
        """What a run page shows besides progress: changes when metrics, artifacts or the status change."""
        with self.db.read() as con:
            row = con.execute(
                sa.select(runs.c.status, runs.c.cancel_requested, runs.c.error, runs.c.resume_count).where(
                    runs.c.id == run_id
                )
            ).first()
            art = con.execute(sa.select(sa.func.max(artifacts.c.id)).where(artifacts.c.run_id == run_id)).scalar()
        return (self.metrics_stamp(run_id), art or 0, tuple(row or ()))

    def table_stamp(self) -> tuple[Any, ...]:
        """What a table of runs shows: changes when a run is added, starts, steps, ends or logs metrics."""
        live = sa.case((runs.c.status.in_(("queued", "running")), runs.c.step + 1), else_=0)
        q = sa.select(
            sa.func.count(),
            sa.func.max(runs.c.created_at),
            sa.func.max(runs.c.started_at),
            sa.func.max(runs.c.ended_at),
            sa.func.sum(live),
        )
        with self.db.read() as con:
            row = con.execute(q).one()
            newest = con.execute(sa.select(sa.func.max(metrics.c.id))).scalar()
        return (*tuple(row), newest)

    def metric_series(self, run_id: str, key: str) -> list[tuple[int, float]]:
        c = metrics.c
        q = sa.select(c.step, c.value).where(c.run_id == run_id, c.key == key).order_by(c.step, c.time)
        with self.db.read() as con:
            return [(r[0], r[1]) for r in con.execute(q)]

    def metric_count(self, run_id: str) -> int:
        """How many metric rows a run has (a range of the (run_id, id) index)."""
        q = sa.select(sa.func.count()).select_from(metrics).where(metrics.c.run_id == run_id)
        with self.db.read() as con:
            return int(con.execute(q).scalar_one())

    def metric_buckets(self, run_id: str, key: str, buckets: int = 1000) -> tuple[list[int], list[float]]:
        """One metric's series reduced in the database to at most 2 x buckets points: each of `buckets`
        equal step ranges gives its lowest and highest value (placed at the range's first and last logged
        step, less than a pixel apart on a chart), so a run with millions of rows draws without pulling
        them and every spike survives. Rows without a value are left out."""
        with self.db.read() as con:
            lo, hi = _step_span(con, run_id, key)
            if lo is None:
                return [], []
            width = max(1, -(-(hi - lo + 1) // buckets))
            if self.db.is_sqlite:
                rows = _bucket_rows_by_range(con, run_id, key, lo, hi, width)
            else:
                rows = _bucket_rows_grouped(con, run_id, key, lo, width)
        steps: list[int] = []
        values: list[float] = []
        for first, last, vmin, vmax, n in rows:
            if n == 1 or first == last:
                steps.append(first)
                values.append(vmin)
            else:
                steps += [first, last]
                values += [vmin, vmax]
        return steps, values

    def last_metrics(self, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        """The latest value of every metric of each run (for tables of many runs): listing.latest_query,
        index seeks only, whatever the number of rows a run logged."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, dict[str, float]] = {i: {} for i in ids}
        with self.db.read() as con:
            for part in chunks(ids):
                sql, params = latest_query(self.db.backend, part)
                for run_id, key, value in con.exec_driver_sql(sql, params):
                    out[run_id][key] = value
        return out

    def truncate_after(self, run_id: str, step: int) -> None:
        """Drop metrics and artifacts logged after `step` (a resume replays from its checkpoint's step)."""
        with self.db.write() as con:
            con.execute(metrics.delete().where(metrics.c.run_id == run_id, metrics.c.step > step))
            con.execute(
                artifacts.delete().where(
                    artifacts.c.run_id == run_id, artifacts.c.step > step, artifacts.c.kind != "checkpoint"
                )
            )


def _step_span(con: Any, run_id: str, key: str) -> tuple[int | None, int | None]:
    """First and last step of one metric, two index seeks. Asked as one SELECT min(step), max(step), SQLite
    reads every row of the range instead (its min/max shortcut takes one aggregate a query): 52 ms a
    metric for a 250,000-step run, under 0.1 ms now."""
    c = metrics.c
    where = (c.run_id == run_id, c.key == key)
    first = sa.select(sa.func.min(c.step)).where(*where).scalar_subquery()
    last = sa.select(sa.func.max(c.step)).where(*where).scalar_subquery()
    lo, hi = con.execute(sa.select(first, last)).one()
    return lo, hi


_BUCKET_SQL = (
    "SELECT min(step), max(step), min(value), max(value), count(value) FROM metrics "
    "WHERE run_id = ? AND key = ? AND step >= ? AND step < ? AND value IS NOT NULL"
)


def _bucket_rows_by_range(con: Any, run_id: str, key: str, lo: int, hi: int, width: int) -> list[tuple]:
    """SQLite: one range query a bucket, on the driver's cursor inside the read transaction. A GROUP BY on
    the bucket expression sorts every row of the series in a temporary B-tree first (329 ms for a
    250,000-step metric); ranges walk the (run_id, key, step) index in order (247 ms, most of it the
    value lookups); a query costs ~4 us, 4 ms for the 1,000 buckets of a short series."""
    cur = con.connection.driver_connection.cursor()
    try:
        rows = [
            cur.execute(_BUCKET_SQL, (run_id, key, start, start + width)).fetchone()
            for start in range(lo, hi + 1, width)
        ]
    finally:
        cur.close()
    return [r for r in rows if r[4]]


def _bucket_rows_grouped(con: Any, run_id: str, key: str, lo: int, width: int) -> list[tuple]:
    """PostgreSQL: one GROUP BY query (a round trip a bucket would cost more than its hash aggregate)."""
    c = metrics.c
    bucket = (c.step - lo) // width  # integer division on both backends
    q = (
        sa.select(sa.func.min(c.step), sa.func.max(c.step), sa.func.min(c.value), sa.func.max(c.value), sa.func.count())
        .where(c.run_id == run_id, c.key == key, c.value.is_not(None))
        .group_by(bucket)
        .order_by(sa.func.min(c.step))
    )
    return [tuple(r) for r in con.execute(q).all()]
