"""IAM temporary delegation: delegation requests and the policy templates partners name in them

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "delegation_requests",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("partition", sa.String(16), nullable=False),
        sa.Column("requestor_account", sa.String(12), nullable=False),
        sa.Column("requestor_arn", sa.String(2048), nullable=False),
        sa.Column("workflow_id", sa.String(400), nullable=False),
        sa.Column("owner_account", sa.String(12), nullable=True),
        sa.Column("owner_id", sa.String(2048), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("request_message", sa.String(200), nullable=True),
        sa.Column("template_arn", sa.String(2048), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("permission_policy", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.String(255), nullable=True),
        sa.Column("notification_channel", sa.String(400), nullable=False),
        sa.Column("session_duration", sa.Integer(), nullable=False),
        sa.Column("only_send_by_owner", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.String(500), nullable=True),
        sa.Column("rejection_reason", sa.String(500), nullable=True),
        sa.Column("approver_id", sa.String(2048), nullable=True),
        sa.Column("approver", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("token_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("finalized_at", _TS, nullable=True),
        sa.Column("exchanged_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_delegation_requests"),
        sa.UniqueConstraint("token_hash", name="uq_delegation_requests_token_hash"),
        sa.UniqueConstraint("requestor_account", "workflow_id", name="uq_delegation_requests_requestor_workflow"),
    )
    op.create_index("ix_delegation_requests_owner", "delegation_requests", ["owner_account", "request_id"])
    op.create_index("ix_delegation_requests_requestor", "delegation_requests", ["requestor_account", "request_id"])
    op.create_table(
        "delegation_templates",
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_delegation_templates"),
    )
    op.create_index("ix_delegation_templates_account_id", "delegation_templates", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_delegation_templates_account_id", table_name="delegation_templates")
    op.drop_table("delegation_templates")
    op.drop_index("ix_delegation_requests_requestor", table_name="delegation_requests")
    op.drop_index("ix_delegation_requests_owner", table_name="delegation_requests")
    op.drop_table("delegation_requests")
