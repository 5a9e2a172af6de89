"""AWS Organizations: organizations, OUs, member accounts, policies, attachments, enabled policy types and
invitations (issue 17)

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "org_organizations",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("management_account_id", sa.String(12), nullable=False),
        sa.Column("root_id", sa.String(34), nullable=False),
        sa.Column("feature_set", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_org_organizations"),
        sa.UniqueConstraint("management_account_id", name="uq_org_organizations_management_account_id"),
    )
    op.create_table(
        "org_units",
        sa.Column("ou_id", sa.String(68), nullable=False),
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("parent_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("ou_id", name="pk_org_units"),
    )
    op.create_index("ix_org_units_parent_id", "org_units", ["parent_id"])
    op.create_table(
        "org_accounts",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("parent_id", sa.String(100), nullable=False),
        sa.Column("joined_method", sa.String(16), nullable=False),
        sa.Column("joined_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_org_accounts"),
    )
    op.create_index("ix_org_accounts_org_id", "org_accounts", ["org_id"])
    op.create_table(
        "org_policies",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("policy_id", sa.String(130), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.String(512), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("aws_managed", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "policy_id", name="pk_org_policies"),
    )
    op.create_table(
        "org_attachments",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("policy_id", sa.String(130), nullable=False),
        sa.Column("target_id", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "policy_id", "target_id", name="pk_org_attachments"),
    )
    op.create_index("ix_org_attachments_target", "org_attachments", ["org_id", "target_id"])
    op.create_table(
        "org_policy_types",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "type", name="pk_org_policy_types"),
    )
    op.create_table(
        "org_handshakes",
        sa.Column("handshake_id", sa.String(34), nullable=False),
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("handshake_id", name="pk_org_handshakes"),
    )
    op.create_index("ix_org_handshakes_org_id", "org_handshakes", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_org_handshakes_org_id", table_name="org_handshakes")
    op.drop_table("org_handshakes")
    op.drop_table("org_policy_types")
    op.drop_index("ix_org_attachments_target", table_name="org_attachments")
    op.drop_table("org_attachments")
    op.drop_table("org_policies")
    op.drop_index("ix_org_accounts_org_id", table_name="org_accounts")
    op.drop_table("org_accounts")
    op.drop_index("ix_org_units_parent_id", table_name="org_units")
    op.drop_table("org_units")
    op.drop_table("org_organizations")
