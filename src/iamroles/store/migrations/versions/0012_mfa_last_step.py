"""The last TOTP step each MFA device's code was accepted for, so a code is used once across every process and
node sharing the database, not once per process (serve --workers runs several)

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mfa_devices") as batch:
        batch.add_column(sa.Column("last_step", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mfa_devices") as batch:
        batch.drop_column("last_step")
