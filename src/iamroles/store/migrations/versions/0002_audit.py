"""audit events

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=True),
        sa.Column("event_source", sa.String(32), nullable=False),
        sa.Column("event_name", sa.String(64), nullable=False),
        sa.Column("principal_arn", sa.String(2048), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_event_time", "audit_events", ["event_time"])
    op.create_index("ix_audit_events_account_id", "audit_events", ["account_id"])


def downgrade() -> None:
    op.drop_table("audit_events")
