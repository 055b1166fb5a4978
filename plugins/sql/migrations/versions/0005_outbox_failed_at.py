"""The outbox keeps when a row's last delivery failed (``failed_at``), beside its error: an
operator reading a failed or retrying message or webhook sees when, not only why.

Revision ID: 0005_outbox_failed_at
Revises: 0004_deployments
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_outbox_failed_at"
down_revision = "0004_deployments"
branch_labels = None
depends_on = None

# Spelled out here rather than imported, so this migration never changes with the code.
INSTANT = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("failed_at", INSTANT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("failed_at")
