"""saml_request and saml_assertion_seen: the SAML service provider's state shared by replicas

Revision ID: 0003_s
Revises: 0002
Create Date: 2026-12-07 01:45:00

The ids of AuthnRequests koppel sent (accepted once as InResponseTo, with the relay state they
carried) and the ids of assertions already used (a replay is refused by the unique key, so it
holds across API replicas without a read-then-write race). Both expire; 'koppel prune' deletes
expired rows.
"""

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0003_s"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saml_request",
        sa.Column("id", ID, nullable=False),
        sa.Column("idp", sa.String(length=50), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("relay_state", sa.String(length=200), nullable=False),
        sa.Column("expires_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_request")),
        sa.UniqueConstraint("idp", "request_id", name=op.f("uq_saml_request_idp")),
    )
    op.create_index(
        op.f("ix_saml_request_expires_at"), "saml_request", ["expires_at"], unique=False
    )
    op.create_table(
        "saml_assertion_seen",
        sa.Column("id", ID, nullable=False),
        sa.Column("idp", sa.String(length=50), nullable=False),
        sa.Column("assertion_id", sa.String(length=200), nullable=False),
        sa.Column("expires_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_assertion_seen")),
        sa.UniqueConstraint("idp", "assertion_id", name=op.f("uq_saml_assertion_seen_idp")),
    )
    op.create_index(
        op.f("ix_saml_assertion_seen_expires_at"),
        "saml_assertion_seen",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_saml_assertion_seen_expires_at"), table_name="saml_assertion_seen")
    op.drop_table("saml_assertion_seen")
    op.drop_index(op.f("ix_saml_request_expires_at"), table_name="saml_request")
    op.drop_table("saml_request")
