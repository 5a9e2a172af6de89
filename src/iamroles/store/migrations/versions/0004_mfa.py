"""virtual MFA devices

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mfa_devices",
        sa.Column("serial", sa.String(2048), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("seed_sealed", sa.LargeBinary, nullable=False),
        sa.Column("user_key", sa.String(64), nullable=True),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("serial", name="pk_mfa_devices"),
    )
    op.create_index("ix_mfa_devices_account_id", "mfa_devices", ["account_id"])


def downgrade() -> None:
    op.drop_table("mfa_devices")
