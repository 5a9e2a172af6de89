"""Outbound identity federation: whether each account issues web identity tokens (GetWebIdentityToken), its
issuer's id, and the keys that sign its tokens, sealed under the master key (issue 14)

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbound_federation",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("issuer_id", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("changed_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_outbound_federation"),
        sa.UniqueConstraint("issuer_id", name="uq_outbound_federation_issuer_id"),
    )
    op.create_table(
        "jwt_signing_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("active_from", _TS, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_jwt_signing_keys"),
    )
    op.create_index("ix_jwt_signing_keys_account_id", "jwt_signing_keys", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_jwt_signing_keys_account_id", table_name="jwt_signing_keys")
    op.drop_table("jwt_signing_keys")
    op.drop_table("outbound_federation")
