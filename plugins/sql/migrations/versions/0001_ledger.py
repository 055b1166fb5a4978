"""The ledger: members, lots, ledger entries, processed events, member records
(orders, redemptions), tiers, streaks, history and budgets.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-03-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out here rather than imported, so this migration never changes with the code.
# SQLite gets TEXT for points and instants: its NUMERIC affinity would turn "0.1" into a float.
MONEY = sa.Numeric().with_variant(sa.Text(), "sqlite")
INSTANT = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")
DOC = sa.JSON().with_variant(JSONB(), "postgresql")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID, LOT_ID = 200, 420


def _member_fk(table: str, primary: bool = False) -> sa.Column:
    return sa.Column("member_id", sa.String(ID), sa.ForeignKey("members.member_id", name=f"fk_{table}_member_id"),
                     primary_key=primary, nullable=False)


def _money(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, MONEY, nullable=nullable)


def _members() -> None:
    op.create_table(
        "members",
        sa.Column("member_id", sa.String(ID), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64)),
        _money("balance"), _money("debt"),
        sa.Column("tier", sa.String(ID)),
        sa.Column("joined", INSTANT), sa.Column("clock", INSTANT), sa.Column("last_activity", INSTANT),
        sa.Column("profile", DOC, nullable=False),
        sa.Column("state", DOC, nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False)
          for name in ("next_lot", "next_record", "next_history", "windows", "streaks", "history", "records")],
    )


def _lots() -> None:
    op.create_table(
        "lots",
        _member_fk("lots", primary=True),
        sa.Column("lot_id", sa.String(LOT_ID), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(ID), nullable=False),
        sa.Column("earned_at", INSTANT, nullable=False),
        _money("amount"), _money("remaining"),
        sa.Column("pending_until", INSTANT), sa.Column("expires_at", INSTANT),
        sa.Column("hold", sa.String(40)), sa.Column("order_id", sa.String(ID)),
        sa.Column("noticed", sa.Boolean(), nullable=False),
        *[_money(name) for name in ("expired", "spent", "clawed", "repaid", "voided")],
        sa.Column("notice_at", INSTANT),
        sa.Column("extra", DOC),
    )


def _ledger_entries() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        _member_fk("ledger_entries"),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("ruleset", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        _money("points"),
        sa.Column("lot_id", sa.String(LOT_ID)),
        _money("lot_points", nullable=True), _money("debt_points"), _money("balance_before"), _money("balance_after"),
        sa.Column("time", INSTANT, nullable=False),
        sa.Column("detail", DOC, nullable=False),
    )
    op.create_index("ix_ledger_entries_member_id_id", "ledger_entries", ["member_id", "id"])
    op.create_index("ix_ledger_entries_event_id", "ledger_entries", ["event_id"])


def _processed_events() -> None:
    op.create_table(
        "processed_events",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(ID), nullable=False),
        _member_fk("processed_events"),
        sa.Column("digest", sa.String(64)), sa.Column("body", DOC), sa.Column("event_type", sa.String(ID)),
        sa.Column("time", INSTANT), sa.Column("ruleset", sa.String(ID)), sa.Column("outcome", sa.String(20)),
        sa.Column("decision", DOC),
        sa.UniqueConstraint("event_id", name="uq_processed_events_event_id"),
    )
    op.create_index("ix_processed_events_member_id_id", "processed_events", ["member_id", "id"])


def _member_records() -> None:
    op.create_table(
        "member_records",
        _member_fk("member_records", primary=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("record_id", sa.String(LOT_ID), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("doc", DOC, nullable=False),
    )


def _member_state() -> None:
    op.create_table(
        "tier_windows",
        _member_fk("tier_windows", primary=True),
        sa.Column("window", sa.BigInteger(), primary_key=True, autoincrement=False),
        _money("metric", nullable=True),
        sa.Column("reached", sa.Integer()), sa.Column("closed", sa.Integer()),
    )
    op.create_table(
        "streaks",
        _member_fk("streaks", primary=True),
        sa.Column("streak_id", sa.String(ID), primary_key=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in ("position", "length")],
        sa.Column("last_period", sa.BigInteger()),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in ("freezes_left", "best")],
        sa.Column("paid", DOC, nullable=False),
    )
    op.create_table(
        "history",
        _member_fk("history", primary=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("time", INSTANT, nullable=False),
        sa.Column("type", sa.String(ID), nullable=False),
        sa.Column("values", DOC, nullable=False),
    )


def _budgets() -> None:
    op.create_table("budgets", sa.Column("rule", sa.String(ID), primary_key=True), _money("used"))
    op.create_table(
        "budget_uses",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(ID), sa.ForeignKey("budgets.rule", name="fk_budget_uses_rule"), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("member_id", sa.String(ID), nullable=False),
        _money("points"),
    )
    op.create_index("ix_budget_uses_rule", "budget_uses", ["rule"])


def upgrade() -> None:
    _members()
    _lots()
    _ledger_entries()
    _processed_events()
    _member_records()
    _member_state()
    _budgets()


def downgrade() -> None:
    for table in ("budget_uses", "budgets", "history", "streaks", "tier_windows", "member_records", "processed_events",
                  "ledger_entries", "lots", "members"):
        op.drop_table(table)
