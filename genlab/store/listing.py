"""The runs list's SQL, written once for both databases and both callers: RunStore.list_runs and
last_metrics (through SQLAlchemy's connection, `exec_driver_sql`) and `runs list`'s quick read over the
driver alone (genlab.store.quick_list). Plain SQL with the drivers' own named parameters (sqlite3's
`:name`, psycopg's `%(name)s`), so this module imports no SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TypedDict, Unpack

HIDDEN = ("creating", "deleting")  # a run mid-create or mid-delete is listed nowhere
SEARCHED = ("id", "name", "notes", "tags", "data_name")  # the columns a search looks in
CHUNK = 500  # run ids per latest-metrics query (SQLite allows 32,766 parameters; PostgreSQL 65,535)


class Params:
    """Named parameters for one statement in the backend's style."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}" if self.backend == "sqlite" else f"%({name})s"

    def many(self, values: Iterable[Any]) -> str:
        return ", ".join(self(v) for v in values)


class RunFilters(TypedDict, total=False):
    """What a runs list may be filtered by (RunStore.list_runs and `runs list` take these keywords)."""

    status: str | Iterable[str] | None
    family: str | None
    sweep_id: str | None
    search: str | None
    tag: str | None
    limit: int | None


def runs_query(backend: str, **filters: Unpack[RunFilters]) -> tuple[str, dict[str, Any]]:
    """Runs newest first, filtered by status, family, sweep, a tag, or a text in the id/name/notes/tags/data
    (case-insensitive); (SQL, parameters)."""
    unknown = set(filters) - set(RunFilters.__annotations__)
    if unknown:
        raise TypeError(f"unknown runs-list filter(s): {', '.join(sorted(unknown))}")
    status, family, sweep_id = filters.get("status"), filters.get("family"), filters.get("sweep_id")
    search, tag, limit = filters.get("search"), filters.get("tag"), filters.get("limit")
    p = Params(backend)
    where = [f"status NOT IN ({p.many(HIDDEN)})"]
    if status:
        where.append(f"status IN ({p.many([status] if isinstance(status, str) else status)})")
    if family:
        where.append(f"family = {p(family)}")
    if sweep_id:
        where.append(f"sweep_id = {p(sweep_id)}")
    if search:
        pattern = p(f"%{search}%".lower())
        where.append("(" + " OR ".join(f"lower({c}) LIKE {pattern}" for c in SEARCHED) + ")")
    if tag:
        if backend == "sqlite":
            where.append(f"EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = {p(tag)})")
        else:
            where.append(f"CAST(tags AS JSONB) @> CAST({p(json.dumps([tag]))} AS JSONB)")
    sql = f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return sql, p.values


def latest_query(backend: str, run_ids: list[str]) -> tuple[str, dict[str, Any]]:
    """The latest value of every metric of each run, index seeks only: a loose scan of (run_id, key, step)
    finds each run's keys, and each key's highest step is the last entry of its range. Its cost grows with
    runs x keys, not with the rows a run logged (a live run with a million rows costs what a short one
    does). Rows: (run_id, key, value)."""
    p = Params(backend)
    sql = f"""
    WITH RECURSIVE k(run_id, key) AS (
        SELECT r.id, (SELECT MIN(m.key) FROM metrics m WHERE m.run_id = r.id)
        FROM runs r WHERE r.id IN ({p.many(run_ids)})
        UNION ALL
        SELECT k.run_id, (SELECT MIN(m.key) FROM metrics m WHERE m.run_id = k.run_id AND m.key > k.key)
        FROM k WHERE k.key IS NOT NULL
    )
    SELECT k.run_id, k.key,
           (SELECT m.value FROM metrics m WHERE m.run_id = k.run_id AND m.key = k.key ORDER BY m.step DESC LIMIT 1)
    FROM k WHERE k.key IS NOT NULL
    """
    return sql, p.values


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
