"""OpenID Connect providers

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_providers",
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("url", sa.String(1024), nullable=False),
        sa.Column("client_ids", sa.Text, nullable=False),
        sa.Column("thumbprints", sa.Text, nullable=False),
        sa.Column("jwks", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_oidc_providers"),
    )
    op.create_index("ix_oidc_providers_account_id", "oidc_providers", ["account_id"])


def downgrade() -> None:
    op.drop_table("oidc_providers")
