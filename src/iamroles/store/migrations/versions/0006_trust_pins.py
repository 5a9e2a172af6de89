"""Trust policies remember the unique ids of the users and roles they name

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("roles", sa.Column("trust_pins", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("roles", "trust_pins")
