"""Bring a store's database to the newest schema when it is opened (Alembic, one transaction).

An up-to-date store costs one indexed read. Otherwise the whole upgrade runs in one write transaction:
BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL, so processes and machines opening the same
store at once migrate it exactly once. A genlab.db written before migrations existed has no
alembic_version table; revision 0001 adopts it in place (see migrations/versions/0001_*).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from genlab.store.engine import Database
from genlab.store.records import StoreUnavailable
from genlab.store.schema import HEAD

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 0x67656E6C  # "genl": the advisory lock PostgreSQL migrations hold


def current_revision(con: Connection) -> str | None:
    if not sa.inspect(con).has_table("alembic_version"):
        return None
    return con.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def upgrade(db: Database) -> None:
    """Migrate to HEAD unless the database is there already."""
    with db.read() as con:
        if current_revision(con) == HEAD:
            return
    if db.read_only:
        raise StoreUnavailable(
            f"The run store in GENLAB_HOME ({db.home.name}) was made by an older GenLab and must be upgraded, but "
            "its folder is read-only. Open it once with write access (or copy it to a folder you can write to)"
        )
    with db.write() as con:
        if not db.is_sqlite:
            con.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
        if current_revision(con) == HEAD:  # another process migrated while we waited
            return
        run_alembic(con, "head")


def run_alembic(con: Connection, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = con
    command.upgrade(cfg, target)


def script_head() -> str:
    """The newest revision among the migration scripts (tests compare it with schema.HEAD)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()
