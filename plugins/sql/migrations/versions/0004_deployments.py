"""Deployments of the HTTP service: every ruleset version made live, its text and digest,
who deployed it, when, and from which version; one live version per ruleset.

Revision ID: 0004_deployments
Revises: 0003_api_keys
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_deployments"
down_revision = "0003_api_keys"
branch_labels = None
depends_on = None

# Spelled out here rather than imported, so this migration never changes with the code.
INSTANT = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID = 200


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("ruleset", sa.String(ID), nullable=False),
        sa.Column("version", sa.String(ID), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("deployed_at", INSTANT, nullable=False),
        sa.Column("deployed_by", sa.String(ID), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("previous", sa.String(ID)),
        sa.Column("parent", SERIAL),
        sa.Column("live", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_deployments_ruleset_id", "deployments", ["ruleset", "id"])
    # One live version per ruleset: two workers deploying at once cannot both win.
    op.create_index("uq_deployments_live", "deployments", ["ruleset"], unique=True,
                    postgresql_where=sa.text("live"), sqlite_where=sa.text("live"))


def downgrade() -> None:
    op.drop_index("uq_deployments_live", table_name="deployments")
    op.drop_index("ix_deployments_ruleset_id", table_name="deployments")
    op.drop_table("deployments")
