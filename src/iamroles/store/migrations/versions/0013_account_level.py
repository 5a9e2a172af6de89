"""Account-level IAM state: the account alias, account settings (the STS global endpoint token version),
service-linked role deletion tasks, the credential report and service last accessed reports (issue 14)

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "account_aliases",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("partition", sa.String(16), nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_account_aliases"),
        sa.UniqueConstraint("partition", "alias", name="uq_account_aliases_partition_alias"),
    )
    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(1024), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "name", name="pk_account_settings"),
    )
    op.create_table(
        "service_linked_role_deletions",
        sa.Column("task_id", sa.String(1000), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("role_arn", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_service_linked_role_deletions"),
    )
    op.create_index("ix_service_linked_role_deletions_account_id", "service_linked_role_deletions", ["account_id"])
    op.create_table(
        "credential_reports",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("generated_at", _TS, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_credential_reports"),
    )
    op.create_table(
        "service_access_reports",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("owner_arn", sa.String(2048), nullable=False),
        sa.Column("entity_arn", sa.String(2048), nullable=False),
        sa.Column("granularity", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("completed_at", _TS, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_service_access_reports"),
    )
    op.create_index("ix_service_access_reports_account_id", "service_access_reports", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_service_access_reports_account_id", table_name="service_access_reports")
    op.drop_table("service_access_reports")
    op.drop_table("credential_reports")
    op.drop_index("ix_service_linked_role_deletions_account_id", table_name="service_linked_role_deletions")
    op.drop_table("service_linked_role_deletions")
    op.drop_table("account_settings")
    op.drop_table("account_aliases")
