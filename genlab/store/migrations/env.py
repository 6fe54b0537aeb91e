"""Alembic's entry: migrations run on the connection genlab.store.migrate hands over, inside its one
transaction (SQLite's BEGIN IMMEDIATE or PostgreSQL's advisory lock), so two processes opening a new
store at once cannot both migrate it."""

from alembic import context

from genlab.store.migrate import VERSION_TABLE
from genlab.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table=VERSION_TABLE,  # not alembic_version: Optuna's sweeps may share the database
)
with context.begin_transaction():
    context.run_migrations()
