"""The job queue's lease on a run: move its status, claim it, own it, beat for it, reap it.

Every status change is one compare-and-set (`transition`): it names the statuses it moves from, so two
resumes, or a resume and a cancel, racing each other cannot both win. A worker owns its run by pid (and
host) and checks that before every write of progress or of its final status.

Several machines may share one PostgreSQL store: a claim locks the queued row it takes (`FOR UPDATE
SKIP LOCKED`, so two machines never take the same run and never wait on each other), and a worker on
another machine is judged alive by its beat (a thread writing `worker_beat`), never by a local pid.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from genlab.store.engine import Database, this_host
from genlab.store.records import (
    CANCEL,
    FINISHED,
    PRUNE,
    STATUSES,
    WORKER_BEAT_S,
    Run,
    StoreOffline,
    heartbeat_stale_s,
    worker_gone,
)
from genlab.store.schema import runs

_BEAT_SQL: dict[tuple[str, tuple[str, ...], bool], tuple[str, str]] = {}  # (backend, columns, no pid) -> SQL
INTERRUPTED_TEXT = (
    "The worker process stopped without finishing (killed, out of memory or the machine restarted). Resume"
    " continues from the last checkpoint."
)


class RunLease:
    """Status moves and ownership (mixed into RunStore)."""

    db: Database

    def transition(
        self, run_id: str, from_statuses: Iterable[str], to: str, *, pid: int | None = None, **fields: Any
    ) -> bool:
        """Compare-and-set: move the run to `to` only if its status is one of from_statuses (and, with pid,
        only if that process owns it), in one transaction. False when another actor got there first."""
        if to not in STATUSES:
            raise ValueError(f"unknown status {to!r}; one of {STATUSES}")
        sets = {"status": to, **fields}
        if to in FINISHED and "ended_at" not in sets:
            sets["ended_at"] = time.time()
        for key in sets:
            if key not in runs.c:
                raise ValueError(f"bad column {key!r}")
        q = runs.update().where(runs.c.id == run_id, runs.c.status.in_(list(from_statuses))).values(**sets)
        if pid is not None:
            q = q.where(runs.c.pid == pid)
        with self.db.write() as con:
            return con.execute(q).rowcount == 1

    def claim_next(self, max_running: int, holder: str | None = None, holder_alive: Any = None) -> Run | None:
        """Atomically move the longest-queued run to running if fewer than max_running run on this machine.

        Order is by the time a run was queued (a resumed run queues again at the back), not created.
        A run whose secrets (a user's W&B key) are held in another live process's memory is left for that
        process to start (`holder`: this process's name; `holder_alive(name)` says whether one still runs).
        """
        host = this_host()
        with self.db.write() as con:
            if not self.db.is_sqlite:  # one claimer per machine at a time, so max_running holds
                con.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(host))))
            running = con.execute(
                sa.select(sa.func.count()).where(runs.c.status == "running", runs.c.host == host)
            ).scalar_one()
            if running >= max_running:
                return None
            q = (
                sa.select(runs.c.id, runs.c.secret_holder)
                .where(runs.c.status == "queued")
                .order_by(sa.func.coalesce(runs.c.queued_at, runs.c.created_at), runs.c.id)
                .limit(64)
            )
            if not self.db.is_sqlite:
                q = q.with_for_update(skip_locked=True)
            chosen = None
            for cand in con.execute(q).all():
                owner = cand.secret_holder
                if not owner or owner == holder or holder_alive is None or not holder_alive(owner):
                    chosen = cand.id
                    break
            if chosen is None:
                return None
            now = time.time()
            con.execute(
                runs.update()
                .where(runs.c.id == chosen, runs.c.status == "queued")
                .values(
                    status="running",
                    started_at=sa.func.coalesce(runs.c.started_at, now),
                    heartbeat=now,
                    worker_beat=now,
                    pid=None,
                    host=host,
                    ended_at=None,
                    error=None,
                    cancel_requested=0,
                )
            )
        return self.get(chosen)  # type: ignore[attr-defined]

    def own(self, run_id: str, pid: int, *, previous: int | None = None) -> bool:
        """A worker takes its run: only a running run with no owner yet (or owned by `previous`, its
        supervisor) can be taken, so a second worker started by a race finds it taken and exits."""
        now = time.time()
        q = (
            runs.update()
            .where(
                runs.c.id == run_id,
                runs.c.status == "running",
                sa.or_(runs.c.pid.is_(None), runs.c.pid == (previous if previous is not None else pid)),
            )
            .values(pid=pid, host=this_host(), heartbeat=now, worker_beat=now)
        )
        with self.db.write() as con:
            return con.execute(q).rowcount == 1

    def beat(self, run_id: str, pid: int | None, **progress: Any) -> tuple[bool, bool]:
        """Progress heartbeat from a training batch: (still owned, cancel requested). One transaction.

        While a team database is unreachable the run keeps training: (True, False), nothing written (the
        next beat after it returns writes the newest progress)."""
        names = tuple(progress)
        sql = _BEAT_SQL.get((self.db.backend, names, pid is None))
        if sql is None:
            sql = self._beat_sql(names, with_pid=pid is not None)
        args = (time.time(), *progress.values(), run_id) + (() if pid is None else (pid,))
        try:
            with self.db.raw_write() as cur:
                cur.execute(sql[0], args)
                row = cur.fetchone()
                if row is not None:
                    owned, cancel = True, bool(row[0])
                else:
                    cur.execute(sql[1], (run_id,))
                    flag = cur.fetchone()
                    owned, cancel = False, bool(flag and flag[0])
        except StoreOffline:
            return True, False
        self._flush_pending()  # type: ignore[attr-defined]
        return owned, cancel

    def _beat_sql(self, names: tuple[str, ...], *, with_pid: bool) -> tuple[str, str]:
        """The beat's UPDATE (and its fallback read) in the driver's positional style, made once."""
        for key in names:
            if key not in runs.c:
                raise ValueError(f"bad column {key!r}")
        p = "?" if self.db.is_sqlite else "%s"
        sets = ", ".join(f"{k} = {p}" for k in ("heartbeat", *names))
        owner = f" AND pid = {p}" if with_pid else ""
        sql = (
            f"UPDATE runs SET {sets} WHERE id = {p} AND status = 'running'{owner} RETURNING cancel_requested",
            f"SELECT cancel_requested FROM runs WHERE id = {p}",
        )
        _BEAT_SQL[(self.db.backend, names, not with_pid)] = sql
        return sql

    def heartbeat(self, run_id: str, **progress: Any) -> None:
        try:
            self.update(run_id, heartbeat=time.time(), **progress)  # type: ignore[attr-defined]
        except StoreOffline:
            return

    def worker_alive(self, run_id: str) -> bool:
        """The liveness beat of this machine's worker of a running run (its supervisor beats while the
        trainer it started owns the run); False once the run ended or another machine took it."""
        q = (
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == "running", runs.c.host == this_host())
            .values(worker_beat=time.time())
        )
        with self.db.write() as con:
            return con.execute(q).rowcount == 1

    def request_cancel(self, run_id: str, *, prune: bool = False) -> bool:
        """Ask a running run's worker (on any machine) to stop after its step (`prune`: end as `pruned`,
        not `cancelled`); False when the run is not running."""
        q = (
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == "running")
            .values(cancel_requested=PRUNE if prune else CANCEL)
        )
        with self.db.write() as con:
            return con.execute(q).rowcount == 1

    def _cancel_flag(self, run_id: str) -> int:
        with self.db.read() as con:
            row = con.execute(sa.select(runs.c.cancel_requested).where(runs.c.id == run_id)).first()
        return int(row[0]) if row and row[0] else 0

    def prune_requested(self, run_id: str) -> bool:
        return self._cancel_flag(run_id) == PRUNE

    def cancel_requested(self, run_id: str) -> bool:
        return bool(self._cancel_flag(run_id))

    def reap_dead(self) -> list[str]:
        """Mark running runs whose worker is gone (records.worker_gone) as interrupted."""
        dead = []
        now = time.time()
        host = this_host()
        stale_s = heartbeat_stale_s()
        with self.db.read() as con:
            rows = con.execute(
                sa.select(runs.c.id, runs.c.pid, runs.c.host, runs.c.heartbeat, runs.c.worker_beat).where(
                    runs.c.status == "running"
                )
            ).all()
        for r in rows:
            if not worker_gone(r, now=now, host=host, stale_s=stale_s):
                continue
            q = (
                runs.update()
                .where(
                    runs.c.id == r.id,
                    runs.c.status == "running",
                    runs.c.heartbeat.is_not_distinct_from(r.heartbeat),
                    runs.c.worker_beat.is_not_distinct_from(r.worker_beat),
                )
                .values(status="interrupted", ended_at=now, error=sa.func.coalesce(runs.c.error, INTERRUPTED_TEXT))
            )
            with self.db.write() as con:
                if con.execute(q).rowcount:
                    dead.append(r.id)
        return dead


class WorkerBeat:
    """A thread that beats for a worker's run every WORKER_BEAT_S until stopped or the run is no longer
    its own, so other machines can tell a live worker (in a long validation) from a dead machine. A
    database outage is waited out, not fatal."""

    def __init__(self, store: Any, run_id: str, every_s: float = WORKER_BEAT_S) -> None:
        self.store, self.run_id, self.every_s = store, run_id, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"worker-beat-{run_id}", daemon=True)

    def __enter__(self) -> WorkerBeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                if not self.store.worker_alive(self.run_id):
                    return
            except Exception as err:  # noqa: BLE001 - an outage or a busy store: try again next time
                print(f"store: worker beat skipped ({err})", file=sys.stderr, flush=True)


def until_online(fn: Callable[[], Any], *, wait_s: float = 300.0, every_s: float = 2.0) -> Any:
    """Call fn, retrying while the team database is unreachable (up to wait_s): a run's final status
    must not be lost to a database restart."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return fn()
        except StoreOffline:
            if time.monotonic() > deadline:
                raise
            time.sleep(every_s)
