"""Bring a store's database to the newest schema when it is opened (Alembic, one transaction).

The store keeps its revision in its own table, genlab_store_version, not Alembic's default
alembic_version: a team often points its sweeps (Optuna, which keeps its own Alembic revision in
alembic_version) at the same PostgreSQL database, and the two must not read each other's revision. A store
made before this (revision 0001 or 0002 in alembic_version) moves its revision over when opened.

An up-to-date store costs one indexed read. Otherwise the whole upgrade runs in one write transaction:
BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL, so processes and machines opening the same
store at once migrate it exactly once. A genlab.db written before migrations existed has no
alembic_version table; revision 0001 adopts it in place (see migrations/versions/0001_*).
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from genlab.store.engine import Database
from genlab.store.records import VERSION_TABLE, StoreUnavailable
from genlab.store.schema import HEAD

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 0x67656E6C  # "genl": the advisory lock PostgreSQL migrations hold


LEGACY_VERSION_TABLE = "alembic_version"
_OURS = re.compile(r"^\d{4}$")  # our revisions are 0001, 0002, ...; Optuna's look like v3.2.0.a


def current_revision(con: Connection) -> str | None:
    """The store's revision (None: an empty database or a genlab.db from before migrations)."""
    inspector = sa.inspect(con)
    if inspector.has_table(VERSION_TABLE):
        return con.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
    if inspector.has_table(LEGACY_VERSION_TABLE):
        for (rev,) in con.exec_driver_sql(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}"):
            if _OURS.match(rev or ""):
                return rev
    return None


def _adopt_legacy_version(con: Connection, rev: str | None) -> None:
    """Move our revision out of alembic_version (left to whoever else uses it, dropped when empty)."""
    inspector = sa.inspect(con)
    if rev is None or inspector.has_table(VERSION_TABLE) or not inspector.has_table(LEGACY_VERSION_TABLE):
        return
    con.exec_driver_sql(
        f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
        f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
    )
    con.execute(sa.text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": rev})
    con.execute(sa.text(f"DELETE FROM {LEGACY_VERSION_TABLE} WHERE version_num = :v"), {"v": rev})
    if con.exec_driver_sql(f"SELECT COUNT(*) FROM {LEGACY_VERSION_TABLE}").scalar() == 0:
        con.exec_driver_sql(f"DROP TABLE {LEGACY_VERSION_TABLE}")


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
        rev = current_revision(con)
        if rev == HEAD:  # another process migrated while we waited
            return
        _adopt_legacy_version(con, rev)
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
