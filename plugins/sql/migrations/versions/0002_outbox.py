"""The outbox: messages decisions chose, written in the decision's transaction and
drained by ``punchcard messages send``.

Revision ID: 0002_outbox
Revises: 0001_ledger
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_outbox"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None

# Spelled out here rather than imported, so this migration never changes with the code.
# SQLite gets TEXT for instants: UTC ISO 8601 text, which sorts in time order.
INSTANT = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")
DOC = sa.JSON().with_variant(JSONB(), "postgresql")
ID, LOT_ID = 200, 420


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(LOT_ID), primary_key=True),
        sa.Column("member_id", sa.String(ID), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("ruleset", sa.String(ID), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("send_at", INSTANT, nullable=False),
        sa.Column("request", DOC, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", INSTANT),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("composed", DOC),
        sa.Column("sent_at", INSTANT),
        sa.Column("receipt", sa.Text()),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_outbox_status_send_at", "outbox", ["status", "send_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_send_at", table_name="outbox")
    op.drop_table("outbox")
