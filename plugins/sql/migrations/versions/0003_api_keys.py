"""API keys of the HTTP service: each key's id, name, scopes and the SHA-256 digest of
its token (the token itself is shown once, when the key is made, and never stored).

Revision ID: 0003_api_keys
Revises: 0002_outbox
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_api_keys"
down_revision = "0002_outbox"
branch_labels = None
depends_on = None

# Spelled out here rather than imported, so this migration never changes with the code.
INSTANT = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("revoked_at", INSTANT),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
