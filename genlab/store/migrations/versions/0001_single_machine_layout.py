"""The single-machine layout, as the run store wrote it before migrations existed.

Revision ID: 0001
Revises: none

Idempotent on purpose: a genlab.db made by the old code (no alembic_version table) passes through here
too, so it gains whatever its version lacked (tables made on first use, the columns added over time)
and keeps every row. A new database gets the same layout, then 0002 and later.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Real = sa.Float(precision=53)
# Columns the old code added to `runs` on open (ALTER TABLE), after its first release.
LATE_RUN_COLUMNS = {"warning": sa.Text, "wandb": sa.Text, "secret_holder": sa.Text, "queued_at": Real}


def _tables() -> dict[str, list]:
    return {
        "runs": [
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("family", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("config", sa.Text, nullable=False),
            sa.Column("hparams", sa.Text),
            sa.Column("data_name", sa.Text),
            sa.Column("created_at", Real, nullable=False),
            sa.Column("started_at", Real),
            sa.Column("ended_at", Real),
            sa.Column("pid", sa.Integer),
            sa.Column("host", sa.Text),
            sa.Column("heartbeat", Real),
            sa.Column("error", sa.Text),
            sa.Column("parent_id", sa.Text),
            sa.Column("sweep_id", sa.Text),
            sa.Column("trial_id", sa.Integer),
            sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
            sa.Column("notes", sa.Text, nullable=False, server_default=""),
            sa.Column("step", sa.Integer, nullable=False, server_default="0"),
            sa.Column("epoch", sa.Integer, nullable=False, server_default="0"),
            sa.Column("total_steps", sa.Integer),
            sa.Column("eta_s", Real),
            sa.Column("monitor", sa.Text),
            sa.Column("best_value", Real),
            sa.Column("cancel_requested", sa.Integer, nullable=False, server_default="0"),
            sa.Column("resume_requested", sa.Integer, nullable=False, server_default="0"),
            sa.Column("resume_count", sa.Integer, nullable=False, server_default="0"),
            *(sa.Column(name, kind) for name, kind in LATE_RUN_COLUMNS.items()),
        ],
        "metrics": [
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("step", sa.Integer, nullable=False),
            sa.Column("epoch", sa.Integer),
            sa.Column("key", sa.Text, nullable=False),
            sa.Column("value", Real),
            sa.Column("time", Real, nullable=False),
        ],
        "artifacts": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("path", sa.Text, nullable=False),
            sa.Column("step", sa.Integer),
            sa.Column("created_at", Real, nullable=False),
            sa.Column("meta", sa.Text),
        ],
        "links": [
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("target_id", sa.Text, nullable=False),
            sa.Column("created_at", Real, nullable=False),
            sa.Column("meta", sa.Text),
        ],
        "safety_events": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("time", Real, nullable=False),
            sa.Column("path", sa.Text, nullable=False),
            sa.Column("action", sa.Text, nullable=False),
            sa.Column("screener", sa.Text),
            sa.Column("scores", sa.Text),
            sa.Column("flagged", sa.Text),
            sa.Column("sha256", sa.Text, nullable=False),
            sa.Column("text", sa.Text),
        ],
        "api_keys": [
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("sha256", sa.Text, nullable=False, unique=True),
            sa.Column("created_at", Real, nullable=False),
            sa.Column("revoked_at", Real),
        ],
        "feedback": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("time", Real, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("prompt", sa.Text, nullable=False),
            sa.Column("output", sa.Text, nullable=False),
            sa.Column("rating", sa.Integer, nullable=False),
            sa.Column("correction", sa.Text),
            sa.Column("system_prompt", sa.Text, nullable=False, server_default=""),
        ],
    }


INDEXES = [
    ("runs_status", "runs", "status, created_at", False),
    ("runs_sweep", "runs", "sweep_id", False),
    ("metrics_run_key_step", "metrics", "run_id, key, step", True),
    ("metrics_run_rowid", "metrics", "run_id", False),
    ("artifacts_run", "artifacts", "run_id, kind, step", False),
    ("links_run", "links", "run_id", False),
    ("links_target", "links", "target_id", False),
    ("safety_events_run", "safety_events", "run_id, time", False),
    ("feedback_run", "feedback", "run_id, time", False),
]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    sqlite = bind.dialect.name == "sqlite"
    for name, columns in _tables().items():
        if not inspector.has_table(name):
            autoinc = {"sqlite_autoincrement": True} if name in ("artifacts", "safety_events", "feedback") else {}
            op.create_table(name, *columns, **autoinc)
    have = {c["name"] for c in inspector.get_columns("runs")}
    for name, kind in LATE_RUN_COLUMNS.items():
        if name not in have:
            op.add_column("runs", sa.Column(name, kind))
    for name, table, cols, unique in INDEXES:
        kind = "UNIQUE INDEX" if unique else "INDEX"
        op.execute(f"CREATE {kind} IF NOT EXISTS {name} ON {table} ({cols})")
    if sqlite:
        op.execute("PRAGMA user_version = 1")  # a marker old code ignores
