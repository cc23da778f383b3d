"""operator and operator_action: the console's accounts and the audit of what they did

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 01:40:00
"""

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operator",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator")),
        sa.UniqueConstraint("name", name=op.f("uq_operator_name")),
    )
    op.create_table(
        "operator_action",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_action")),
    )
    op.create_index("ix_operator_action_at", "operator_action", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_operator_action_at", table_name="operator_action")
    op.drop_table("operator_action")
    op.drop_table("operator")
