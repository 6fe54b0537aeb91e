"""A store several machines share: the run's origin and its worker's liveness beat; metric rows with
their own id (PostgreSQL has no rowid, and a live view reads "rows after id N").

Revision ID: 0002
Revises: 0001

On SQLite the metrics table is rebuilt with `id INTEGER PRIMARY KEY` = the old rowid, so every row is
kept in its write order and a live view's position stays valid.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    have = {c["name"] for c in sa.inspect(bind).get_columns("runs")}
    if "origin" not in have:
        op.add_column("runs", sa.Column("origin", sa.Text))
    if "worker_beat" not in have:
        op.add_column("runs", sa.Column("worker_beat", sa.Float(precision=53)))
    op.execute("UPDATE runs SET origin = host WHERE origin IS NULL")
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE TABLE metrics_new (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, step INTEGER NOT NULL,"
            " epoch INTEGER, key TEXT NOT NULL, value REAL, time REAL NOT NULL)"
        )
        op.execute(
            "INSERT INTO metrics_new (id, run_id, step, epoch, key, value, time)"
            " SELECT rowid, run_id, step, epoch, key, value, time FROM metrics ORDER BY rowid"
        )
        op.execute("DROP TABLE metrics")
        op.execute("ALTER TABLE metrics_new RENAME TO metrics")
        op.execute("CREATE UNIQUE INDEX metrics_run_key_step ON metrics (run_id, key, step)")
    else:
        op.execute("ALTER TABLE metrics ADD COLUMN id BIGSERIAL PRIMARY KEY")
        op.execute("DROP INDEX IF EXISTS metrics_run_rowid")
    op.execute("CREATE INDEX metrics_run_id ON metrics (run_id, id)")
