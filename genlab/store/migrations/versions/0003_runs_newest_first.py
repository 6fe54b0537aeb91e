"""Lists of runs read newest first without sorting the whole table: an index on (created_at, id), the
order the Runs page, `runs list` and the API ask for (10,000 runs: an index walk of the first rows).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS runs_created")
