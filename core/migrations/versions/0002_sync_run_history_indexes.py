"""sync_run: indexes that stay one probe however many nights of runs a school has

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:30:00

The latest run of a school was found by sorting all its runs, and "has it a run going?" read
every run of it: a cost that grew by one row per school per night (after a year of nights an
unchanged school's one statement cost PostgreSQL 1.4 ms instead of 0.3). (school_id,
started_at, id) read backwards gives the latest run first; a partial index holds only the
running ones. Plain CREATE INDEX: it holds writes to sync_run while it builds (seconds for
years of runs), which is fine while 'koppel db upgrade' runs before the workers start.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RUNNING = sa.text("outcome = 'running'")


def upgrade() -> None:
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_run_school_latest", ["school_id", "started_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_sync_run_running",
            ["school_id"],
            unique=False,
            postgresql_where=RUNNING,
            sqlite_where=RUNNING,
        )
        batch_op.drop_index("ix_sync_run_school_started")


def downgrade() -> None:
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_run_school_started", ["school_id", "started_at"], unique=False
        )
        batch_op.drop_index("ix_sync_run_running")
        batch_op.drop_index("ix_sync_run_school_latest")
