"""Caches are invalidated by what changed: a change log replaces the per-account generation counters (issue 13)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seq = op.create_table(
        "change_seq",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_seq"),
    )
    op.bulk_insert(seq, [{"id": 1, "value": 0}])
    op.create_table(
        "change_log",
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", "scope", name="pk_change_log"),
    )
    op.drop_table("generations")


def downgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_generations"),
    )
    op.execute("INSERT INTO generations (account_id, value) SELECT account_id, 0 FROM accounts")
    op.drop_table("change_log")
    op.drop_table("change_seq")
