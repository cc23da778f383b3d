"""oidc provider: the LVS's clients, signing keys, pending sign-ins, one-time codes, access tokens

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 01:38:10.905923

The pairwise key (which turns a person into a different, stable ``sub`` for each client) is
made here, once, so every API replica reads the same one and none has to race to create it.
"""

import secrets

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0006"
down_revision = "0005"  # was "0002"; chained after S's on merging wp-s
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_client",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_salt", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("initiate_login_uri", sa.Text(), nullable=True),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oidc_client_client_id")),
        sa.UniqueConstraint("name", name=op.f("uq_oidc_client_name")),
    )
    pairwise_key = op.create_table(
        "oidc_pairwise_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_pairwise_key")),
    )
    op.bulk_insert(pairwise_key, [{"id": 1, "key": secrets.token_hex(32)}])
    op.create_table(
        "oidc_signing_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_signing_key")),
        sa.UniqueConstraint("kid", name=op.f("uq_oidc_signing_key_kid")),
    )
    op.create_table(
        "oidc_code",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("nonce", sa.String(length=500), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("auth_time", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["oidc_client.id"], name=op.f("fk_oidc_code_client_id_oidc_client")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oidc_code_code_hash")),
    )
    with op.batch_alter_table("oidc_code", schema=None) as batch_op:
        batch_op.create_index("ix_oidc_code_client_nonce", ["client_id", "nonce"], unique=False)
        batch_op.create_index("ix_oidc_code_expires", ["expires_at"], unique=False)

    op.create_table(
        "oidc_pending_authorization",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=500), nullable=True),
        sa.Column("nonce", sa.String(length=500), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_client.id"],
            name=op.f("fk_oidc_pending_authorization_client_id_oidc_client"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_pending_authorization")),
    )
    with op.batch_alter_table("oidc_pending_authorization", schema=None) as batch_op:
        batch_op.create_index("ix_oidc_pending_authorization_expires", ["expires_at"], unique=False)

    op.create_table(
        "oidc_access_token",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_client.id"],
            name=op.f("fk_oidc_access_token_client_id_oidc_client"),
        ),
        sa.ForeignKeyConstraint(
            ["code_id"], ["oidc_code.id"], name=op.f("fk_oidc_access_token_code_id_oidc_code")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_access_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oidc_access_token_token_hash")),
    )
    with op.batch_alter_table("oidc_access_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_access_token_code_id"), ["code_id"], unique=False)
        batch_op.create_index("ix_oidc_access_token_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oidc_access_token", schema=None) as batch_op:
        batch_op.drop_index("ix_oidc_access_token_expires")
        batch_op.drop_index(batch_op.f("ix_oidc_access_token_code_id"))

    op.drop_table("oidc_access_token")
    with op.batch_alter_table("oidc_pending_authorization", schema=None) as batch_op:
        batch_op.drop_index("ix_oidc_pending_authorization_expires")

    op.drop_table("oidc_pending_authorization")
    with op.batch_alter_table("oidc_code", schema=None) as batch_op:
        batch_op.drop_index("ix_oidc_code_expires")
        batch_op.drop_index("ix_oidc_code_client_nonce")

    op.drop_table("oidc_code")
    op.drop_table("oidc_signing_key")
    op.drop_table("oidc_pairwise_key")
    op.drop_table("oidc_client")
