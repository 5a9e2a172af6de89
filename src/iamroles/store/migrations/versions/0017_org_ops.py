"""AWS Organizations' other operations (issue 17): tags, CreateAccount's requests, delegated administrators, the
delegation policy; the name and e-mail address of an account CreateAccount made; when a handshake was answered

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("org_accounts") as batch:
        batch.add_column(sa.Column("name", sa.String(128), nullable=True))
        batch.add_column(sa.Column("email", sa.String(64), nullable=True))
    op.create_index("ix_org_accounts_email", "org_accounts", ["email"], unique=True)
    with op.batch_alter_table("org_handshakes") as batch:
        batch.add_column(sa.Column("updated_at", _TS, nullable=True))
    op.create_index("ix_org_handshakes_account_id", "org_handshakes", ["account_id"])
    op.create_table(
        "org_tags",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("resource_id", sa.String(130), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "resource_id", "key", name="pk_org_tags"),
    )
    op.create_table(
        "org_create_account_requests",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("account_name", sa.String(50), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=True),
        sa.Column("failure_reason", sa.String(64), nullable=True),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("completed_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_org_create_account_requests"),
    )
    op.create_index("ix_org_create_account_requests_org_id", "org_create_account_requests", ["org_id"])
    op.create_table(
        "org_delegated_admins",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("service_principal", sa.String(128), nullable=False),
        sa.Column("enabled_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "account_id", "service_principal", name="pk_org_delegated_admins"),
    )
    op.create_table(
        "org_resource_policies",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("policy_id", sa.String(131), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_org_resource_policies"),
    )


def downgrade() -> None:
    op.drop_table("org_resource_policies")
    op.drop_table("org_delegated_admins")
    op.drop_index("ix_org_create_account_requests_org_id", table_name="org_create_account_requests")
    op.drop_table("org_create_account_requests")
    op.drop_table("org_tags")
    op.drop_index("ix_org_handshakes_account_id", table_name="org_handshakes")
    with op.batch_alter_table("org_handshakes") as batch:
        batch.drop_column("updated_at")
    op.drop_index("ix_org_accounts_email", table_name="org_accounts")
    with op.batch_alter_table("org_accounts") as batch:
        batch.drop_column("email")
        batch.drop_column("name")
