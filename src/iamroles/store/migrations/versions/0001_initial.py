"""initial schema: accounts, keys, users, groups, roles, instance profiles, policies, tags

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _entity(name: str, id_column: str, *extra: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column(id_column, sa.String(32), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        *extra,
        sa.PrimaryKeyConstraint("account_id", "name_key", name=f"pk_{name}"),
        sa.UniqueConstraint(id_column, name=f"uq_{name}_{id_column}"),
        sa.UniqueConstraint("arn", name=f"uq_{name}_arn"),
    )


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("partition", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_accounts"),
    )
    op.create_table(
        "generations",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_generations"),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("user_key", sa.String(64), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("last_used_service", sa.String(64), nullable=True),
        sa.Column("last_used_region", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("access_key_id", name="pk_access_keys"),
    )
    op.create_index("ix_access_keys_account_id", "access_keys", ["account_id"])
    _entity("users", "user_id", sa.Column("permissions_boundary", sa.String(2048), nullable=True))
    _entity("groups", "group_id")
    _entity(
        "roles",
        "role_id",
        sa.Column("trust_policy", sa.Text, nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("max_session_duration", sa.Integer, nullable=False),
        sa.Column("permissions_boundary", sa.String(2048), nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("last_used_region", sa.String(32), nullable=True),
    )
    _entity("instance_profiles", "instance_profile_id")
    op.create_table(
        "instance_profile_roles",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("profile_key", sa.String(128), nullable=False),
        sa.Column("role_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "profile_key", "role_key", name="pk_instance_profile_roles"),
    )
    op.create_table(
        "group_members",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("group_key", sa.String(128), nullable=False),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "group_key", "user_key", name="pk_group_members"),
    )
    op.create_table(
        "policies",
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("policy_id", sa.String(32), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("default_version", sa.String(16), nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_policies"),
        sa.UniqueConstraint("policy_id", name="uq_policies_policy_id"),
        sa.UniqueConstraint("account_id", "name_key", name="uq_policies_account_name"),
    )
    op.create_index("ix_policies_account_id", "policies", ["account_id"])
    op.create_table(
        "policy_versions",
        sa.Column("policy_arn", sa.String(2048), nullable=False),
        sa.Column("version_id", sa.String(16), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("policy_arn", "version_id", name="pk_policy_versions"),
        sa.ForeignKeyConstraint(["policy_arn"], ["policies.arn"], ondelete="CASCADE", name="fk_policy_versions_policy_arn_policies"),
    )
    op.create_table(
        "attachments",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("entity_type", sa.String(8), nullable=False),
        sa.Column("entity_key", sa.String(128), nullable=False),
        sa.Column("policy_arn", sa.String(2048), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "entity_type", "entity_key", "policy_arn", name="pk_attachments"),
    )
    op.create_table(
        "inline_policies",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("entity_type", sa.String(8), nullable=False),
        sa.Column("entity_key", sa.String(128), nullable=False),
        sa.Column("name_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "entity_type", "entity_key", "name_key", name="pk_inline_policies"),
    )
    op.create_table(
        "tags",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("resource_type", sa.String(24), nullable=False),
        sa.Column("resource_key", sa.String(2048), nullable=False),
        sa.Column("key_fold", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "resource_type", "resource_key", "key_fold", name="pk_tags"),
    )


def downgrade() -> None:
    for table in (
        "tags", "inline_policies", "attachments", "policy_versions", "policies", "group_members",
        "instance_profile_roles", "instance_profiles", "roles", "groups", "users", "access_keys",
        "generations", "accounts",
    ):
        op.drop_table(table)
