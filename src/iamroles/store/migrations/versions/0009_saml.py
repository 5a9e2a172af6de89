"""SAML 2.0 identity providers

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saml_providers",
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("metadata_document", sa.Text, nullable=False),
        sa.Column("issuer", sa.String(1024), nullable=False),
        sa.Column("certificates", sa.Text, nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("encryption_mode", sa.String(16), nullable=True),
        sa.Column("private_keys", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_saml_providers"),
    )
    op.create_index("ix_saml_providers_account_id", "saml_providers", ["account_id"])


def downgrade() -> None:
    op.drop_table("saml_providers")
