"""school_admin_link: one-time links into a school's Basispoort tab, minted by the LVS

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 01:45:00

A link names a school by BRIN6 (a school not linked yet gets the connection check only).
Only the token's SHA-256 is stored, with when it expires (a minute after minting) and when it
was used: a second use finds used_at set and is refused.
"""

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "school_admin_link",
        sa.Column("id", ID, nullable=False),
        sa.Column("brin6", sa.String(length=6), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("admin", sa.String(length=100), nullable=True),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_admin_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_school_admin_link_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("school_admin_link")
