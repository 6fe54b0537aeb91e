"""Which database holds the run store, and short transactions on it (SQLAlchemy 2 Core).

GENLAB_DB_URL unset: the embedded SQLite file GENLAB_HOME/genlab.db, in WAL mode, exactly as before
(readers never block the one writer; every write is BEGIN IMMEDIATE so concurrent writers queue instead
of failing). `postgresql+psycopg://user:pass@host/db`: a team store that several machines share.

A process that forks (a DataLoader worker, ddp_spawn) gets its own engine: connections are never shared
across processes. Database errors become StoreUnavailable (or StoreOffline when a server cannot be
reached) with what to do, never a driver traceback.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from genlab.store.location import (  # noqa: F401 - where the store is, re-exported for its callers
    ARTIFACT_ROOT_ENV,
    DB_FILE,
    DB_URL_ENV,
    db_url,
    safe_url,
    sqlite_read_only_url,
    this_host,
)
from genlab.store.records import StoreOffline, StoreUnavailable


def _sqlite_engine(url: str) -> Engine:
    read_only = "mode=ro" in url
    engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_con: Any, _record: Any) -> None:
        dbapi_con.isolation_level = None  # we say when transactions begin (BEGIN IMMEDIATE for writes)
        cur = dbapi_con.cursor()
        if read_only:  # journal settings are writes; a read-only store is read as it is
            cur.execute("PRAGMA query_only=ON")
            cur.close()
            return
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(con: Connection) -> None:
        if con.get_execution_options().get("genlab_write"):
            con.exec_driver_sql("BEGIN IMMEDIATE")
        # reads run without a transaction: each statement sees the newest commit and blocks no writer

    return engine


def _postgres_engine(url: str) -> Engine:
    return sa.create_engine(
        url,
        pool_pre_ping=True,  # a restarted server leaves dead pooled connections: test before use
        pool_size=4,
        max_overflow=8,
        connect_args={"connect_timeout": 5, "application_name": f"genlab@{this_host()}"},
    )


class Database:
    """One store database; engines are made lazily, once per process."""

    def __init__(self, url: str, home: Path) -> None:
        if url.startswith("sqlite:///") and "?" not in url:
            url = sqlite_read_only_url(Path(url.removeprefix("sqlite:///"))) or url
        self.url = url
        self.home = home
        self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        self._engine: Engine | None = None
        self._pid = 0
        self._hot = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "home": self.home, "backend": self.backend}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _engine=None, _pid=0, _hot=threading.local())

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            self._engine = _sqlite_engine(self.url) if self.is_sqlite else _postgres_engine(self.url)
            self._pid = os.getpid()
        return self._engine

    @property
    def read_only(self) -> bool:
        """True for a SQLite store opened read-only because its folder cannot be written."""
        return self.is_sqlite and "mode=ro" in self.url

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        database = sa.engine.make_url(self.url).database or ""
        return Path(database.removeprefix("file:"))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (no lasting transaction)."""
        try:
            with self.engine.connect() as con:
                yield con
        except exc.DBAPIError as err:
            raise self.unavailable(err) from None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One short write transaction, committed on exit and rolled back on any error."""
        try:
            with self.engine.connect().execution_options(genlab_write=True) as con, con.begin():
                yield con
        except exc.IntegrityError:
            raise
        except exc.DBAPIError as err:
            raise self.unavailable(err) from None

    @contextmanager
    def raw_write(self) -> Iterator[Any]:
        """The hot path (a training step's metrics and beat): one pooled driver cursor per thread in one
        transaction, without SQLAlchemy's statement machinery, so the store costs a step no more than
        before. No pid check per call: a forked child forgets the connection (os.register_at_fork)."""
        hot = self._hot
        cur = getattr(hot, "cur", None)
        if cur is None:
            cur = self._open_hot(hot)
        dbapi = hot.dbapi
        try:
            if self.is_sqlite:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            else:
                yield cur
                dbapi.commit()
        except self._driver_errors() as err:
            _quiet_rollback(dbapi)
            self._forget_hot(hot, invalidate=not self.is_sqlite)  # a dead server connection: reconnect next time
            raise self.unavailable(err) from None
        except BaseException:
            _quiet_rollback(dbapi)
            raise

    def _open_hot(self, hot: threading.local) -> Any:
        try:
            dbapi = self.engine.raw_connection()  # kept by this thread, like the one connection before
            cur = dbapi.cursor()
        except (exc.DBAPIError, *self._driver_errors()) as err:
            raise self.unavailable(err) from None
        hot.dbapi, hot.cur = dbapi, cur
        _LIVE.add(self)
        return cur

    def _forget_hot(self, hot: threading.local, *, invalidate: bool) -> None:
        cur, dbapi = getattr(hot, "cur", None), getattr(hot, "dbapi", None)
        hot.cur = hot.dbapi = None
        if cur is not None:
            _quiet(cur.close)
        if dbapi is not None:
            _quiet(dbapi.invalidate if invalidate else dbapi.close)

    def _after_fork(self) -> None:
        """In a forked child: the parent's connections are not ours to use or close."""
        self._hot = threading.local()
        self._engine = None

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        if self.is_sqlite:
            import sqlite3

            return (sqlite3.Error,)
        import psycopg

        return (psycopg.Error,)

    def unavailable(self, err: BaseException) -> StoreUnavailable:
        """What to tell the user about a database error: the server is unreachable (StoreOffline), or
        the SQLite file cannot be written, or something else with the driver's one-line reason."""
        if not self.is_sqlite:
            import psycopg

            offline = (exc.OperationalError, exc.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
            if getattr(err, "connection_invalidated", False) or isinstance(err, offline):
                return StoreOffline(
                    f"The team run store at {safe_url(self.url)} cannot be reached ({_first_line(err)}). Check that "
                    f"the PostgreSQL server runs and that {DB_URL_ENV} is right; unset {DB_URL_ENV} to use the local "
                    "SQLite store instead"
                )
            return StoreUnavailable(f"The team run store refused a request: {_first_line(err)}")
        return StoreUnavailable(sqlite_error_text(self.home, err))

    def dispose(self) -> None:
        if self._pid == os.getpid():
            self._forget_hot(self._hot, invalidate=False)
        self._hot = threading.local()
        if self._engine is not None and self._pid == os.getpid():
            self._engine.dispose()
        self._engine = None


_LIVE: weakref.WeakSet[Database] = weakref.WeakSet()  # databases holding a hot connection in this process


def _forget_after_fork() -> None:
    for db in list(_LIVE):
        db._after_fork()
    _LIVE.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _quiet(fn: Any) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - cleanup after a failure that is already being reported
        pass


def _quiet_rollback(dbapi: Any) -> None:
    _quiet(dbapi.rollback)


def _first_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def sqlite_error_text(home: Path, err: BaseException) -> str:
    """A SQLite failure in words a user can act on (a full disk, a read-only home, a busy store)."""
    text = str(getattr(err, "orig", None) or err).lower()
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
    return f"The run store cannot be used ({_first_line(err)}); check GENLAB_HOME"
