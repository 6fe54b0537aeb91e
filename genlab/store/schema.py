"""The run store's tables: one schema for SQLite and PostgreSQL (SQLAlchemy Core).

This is the schema at the newest migration (HEAD); genlab/store/migrations/ holds the steps that reach
it from an empty database or from a genlab.db written before migrations existed. Times are Unix seconds
(floats), JSON is text, so both backends read the same rows the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

from genlab.store.records import SCHEMA_REVISION

HEAD = SCHEMA_REVISION  # the newest migration; tests/test_store_migrations.py checks it against the scripts

metadata = sa.MetaData()
Real = sa.Float(precision=53)  # REAL on SQLite, DOUBLE PRECISION on PostgreSQL
# The metric row id orders a live view's "what is new": on SQLite it is the rowid itself.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

runs = sa.Table(
    "runs",
    metadata,
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
    sa.Column("warning", sa.Text),
    sa.Column("wandb", sa.Text),
    sa.Column("secret_holder", sa.Text),
    sa.Column("queued_at", Real),
    sa.Column("origin", sa.Text),
    sa.Column("worker_beat", Real),
    sa.Index("runs_status", "status", "created_at"),
    sa.Index("runs_sweep", "sweep_id"),
    sa.Index("runs_created", "created_at", "id"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("epoch", sa.Integer),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("value", Real),
    sa.Column("time", Real, nullable=False),
    sa.Index("metrics_run_key_step", "run_id", "key", "step", unique=True),
    sa.Index("metrics_run_id", "run_id", "id"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("step", sa.Integer),
    sa.Column("created_at", Real, nullable=False),
    sa.Column("meta", sa.Text),
    sa.Index("artifacts_run", "run_id", "kind", "step"),
    sqlite_autoincrement=True,
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("target_id", sa.Text, nullable=False),
    sa.Column("created_at", Real, nullable=False),
    sa.Column("meta", sa.Text),
    sa.Index("links_run", "run_id"),
    sa.Index("links_target", "target_id"),
)

safety_events = sa.Table(
    "safety_events",
    metadata,
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
    sa.Index("safety_events_run", "run_id", "time"),
    sqlite_autoincrement=True,
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", Real, nullable=False),
    sa.Column("revoked_at", Real),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("time", Real, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("output", sa.Text, nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("correction", sa.Text),
    sa.Column("system_prompt", sa.Text, nullable=False, server_default=""),
    sa.Index("feedback_run", "run_id", "time"),
    sqlite_autoincrement=True,
)
