"""Indexes that page every listing in SQL (keyset pagination), and per-account quota overrides

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INDEXES = [
    *((f"ix_{table}_account_path", table, ["account_id", "path"]) for table in ("users", "groups", "roles", "instance_profiles", "server_certificates")),
    ("ix_users_boundary", "users", ["account_id", "permissions_boundary"]),
    ("ix_roles_boundary", "roles", ["account_id", "permissions_boundary"]),
    ("ix_instance_profile_roles_role", "instance_profile_roles", ["account_id", "role_key", "profile_key"]),
    ("ix_group_members_user", "group_members", ["account_id", "user_key", "group_key"]),
    ("ix_attachments_policy", "attachments", ["policy_arn", "account_id", "entity_type", "entity_key"]),
    ("ix_mfa_devices_account_serial", "mfa_devices", ["account_id", "serial"]),
    ("ix_mfa_devices_user", "mfa_devices", ["account_id", "user_key"]),
]


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "account_quotas",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "name", name="pk_account_quotas"),
    )


def downgrade() -> None:
    op.drop_table("account_quotas")
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
