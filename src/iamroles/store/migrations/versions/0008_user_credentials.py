"""Users' other credentials: login profiles, the account password policy, SSH public keys, service-specific
credentials, signing certificates; server certificates; MFA devices' clock drift (issue 14, item 3)

Revision ID: 0008
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("mfa_devices", sa.Column("drift", sa.Integer, nullable=True))
    op.create_table(
        "login_profiles",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("previous_hashes", sa.Text, nullable=False),
        sa.Column("reset_required", sa.Boolean, nullable=False),
        sa.Column("max_signin_session", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("password_set_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "user_id", name="pk_login_profiles"),
    )
    op.create_table(
        "password_policies",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("minimum_length", sa.Integer, nullable=False),
        sa.Column("require_symbols", sa.Boolean, nullable=False),
        sa.Column("require_numbers", sa.Boolean, nullable=False),
        sa.Column("require_uppercase", sa.Boolean, nullable=False),
        sa.Column("require_lowercase", sa.Boolean, nullable=False),
        sa.Column("allow_users_to_change", sa.Boolean, nullable=False),
        sa.Column("max_age", sa.Integer, nullable=True),
        sa.Column("reuse_prevention", sa.Integer, nullable=True),
        sa.Column("hard_expiry", sa.Boolean, nullable=True),
        sa.PrimaryKeyConstraint("account_id", name="pk_password_policies"),
    )
    op.create_table(
        "ssh_public_keys",
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(48), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_ssh_public_keys"),
    )
    op.create_index("ix_ssh_public_keys_user_id", "ssh_public_keys", ["user_id"])
    op.create_table(
        "service_credentials",
        sa.Column("credential_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("service_name", sa.String(64), nullable=False),
        sa.Column("service_user_name", sa.String(200), nullable=False),
        sa.Column("password_sealed", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("credential_id", name="pk_service_credentials"),
    )
    op.create_index("ix_service_credentials_user_id", "service_credentials", ["user_id"])
    op.create_table(
        "signing_certificates",
        sa.Column("certificate_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("certificate_id", name="pk_signing_certificates"),
        sa.UniqueConstraint("account_id", "fingerprint", name="uq_signing_certificates_account_fingerprint"),
    )
    op.create_index("ix_signing_certificates_user_id", "signing_certificates", ["user_id"])
    op.create_table(
        "server_certificates",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("server_certificate_id", sa.String(32), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("chain", sa.Text, nullable=True),
        sa.Column("key_sealed", sa.LargeBinary, nullable=False),
        sa.Column("expiration", TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "name_key", name="pk_server_certificates"),
        sa.UniqueConstraint("server_certificate_id", name="uq_server_certificates_server_certificate_id"),
        sa.UniqueConstraint("arn", name="uq_server_certificates_arn"),
    )


def downgrade() -> None:
    for table in ("server_certificates", "signing_certificates", "service_credentials", "ssh_public_keys",
                  "password_policies", "login_profiles"):
        op.drop_table(table)
    op.drop_column("mfa_devices", "drift")
