"""Centralized root access: the services an organization gave trusted access (EnableAWSServiceAccess) and the
root access features enabled for it (EnableOrganizationsRootCredentialsManagement, EnableOrganizationsRootSessions);
an organization's feature set wide enough for CONSOLIDATED_BILLING (20 characters; PostgreSQL refused it in 16)

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("org_organizations") as batch:
        batch.alter_column("feature_set", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)
    op.create_table(
        "org_service_access",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("service_principal", sa.String(128), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "service_principal", name="pk_org_service_access"),
    )
    op.create_table(
        "org_root_features",
        sa.Column("org_id", sa.String(34), nullable=False),
        sa.Column("feature", sa.String(32), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "feature", name="pk_org_root_features"),
    )


def downgrade() -> None:
    op.drop_table("org_root_features")
    op.drop_table("org_service_access")
    with op.batch_alter_table("org_organizations") as batch:
        batch.alter_column("feature_set", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
