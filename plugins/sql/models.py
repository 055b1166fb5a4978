"""The ledger schema, as SQLAlchemy 2.0 declarative models.

The migrations in ``migrations/versions`` create exactly these tables; a test keeps
the two in step. Auditor-facing tables (``ledger_entries``, ``processed_events``,
``budget_uses``) are append-only: a correction is a new entry, never an update.
``members``, ``lots``, ``tier_windows``, ``streaks``, ``history`` and ``budgets`` hold
current state, and the auditor checks them against the append-only tables.
``outbox`` (revision 0002) holds the messages decisions chose, until they are sent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import Document, Instant, Money, Tagged

__all__ = ["Base", "Member", "LotRow", "LedgerEntry", "ProcessedEventRow", "MemberRecord", "TierWindow", "StreakRow",
           "HistoryRow", "Budget", "BudgetUse", "OutboxMessage", "ID", "LOT_ID", "SERIAL"]

# Tables with serial keys never hand the new key back (implicit_returning off): nothing
# needs it, and writes can then be pipelined without waiting for replies.
ID = 200  # events and members: the engine refuses longer ids
LOT_ID = 420  # "<event id>#<source>"
SERIAL = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Each model maps one plain table; typed so (SQLAlchemy says FromClause), insert() and update() take it.
    __table__: ClassVar[Table]


def _member_fk() -> Mapped[str]:
    return mapped_column(String(ID), ForeignKey("members.member_id"), nullable=False)


class Member(Base):
    """One row per member: the row every unit of work locks first, its profile, and
    the state that is not normalised (badges, notices, caps, totals) as a document."""

    __tablename__ = "members"
    member_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # 0: a lock row, never saved
    timezone: Mapped[str | None] = mapped_column(String(64))
    balance: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))  # total(): lots less debt
    debt: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    tier: Mapped[str | None] = mapped_column(String(ID))
    joined: Mapped[dt.datetime | None] = mapped_column(Instant)
    clock: Mapped[dt.datetime | None] = mapped_column(Instant)
    last_activity: Mapped[dt.datetime | None] = mapped_column(Instant)
    profile: Mapped[Any] = mapped_column(Tagged, nullable=False, default=dict)
    # badges, notices, caps, totals and any other state field: small, changed together.
    state: Mapped[Any] = mapped_column(Tagged, nullable=False, default=dict)
    # Positions the next new lot, record and history item get: rows keep their order.
    next_lot: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_record: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_history: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Row counts of the child tables, so loading a member skips the empty ones.
    windows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    streaks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    history: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    records: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class LotRow(Base):
    """A lot: points from one earning. ``live`` is false once housekeeping forgot it;
    the row stays so every point in the ledger keeps a lot that accounts for it."""

    __tablename__ = "lots"
    member_id: Mapped[str] = mapped_column(String(ID), ForeignKey("members.member_id"), primary_key=True)
    lot_id: Mapped[str] = mapped_column(String(LOT_ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # the order lots were added in
    live: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    source: Mapped[str] = mapped_column(String(ID), nullable=False)
    earned_at: Mapped[dt.datetime] = mapped_column(Instant, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    remaining: Mapped[Decimal] = mapped_column(Money, nullable=False)
    pending_until: Mapped[dt.datetime | None] = mapped_column(Instant)
    expires_at: Mapped[dt.datetime | None] = mapped_column(Instant)
    hold: Mapped[str | None] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(ID))
    noticed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    expired: Mapped[Decimal] = mapped_column(Money, nullable=False)
    spent: Mapped[Decimal] = mapped_column(Money, nullable=False)
    clawed: Mapped[Decimal] = mapped_column(Money, nullable=False)
    repaid: Mapped[Decimal] = mapped_column(Money, nullable=False)
    voided: Mapped[Decimal] = mapped_column(Money, nullable=False)
    notice_at: Mapped[dt.datetime | None] = mapped_column(Instant)  # when its expiry notice is due
    extra: Mapped[Any | None] = mapped_column(Tagged)  # any other lot field; NULL when there is none


class LedgerEntry(Base):
    """Append-only: one posting. ``points`` moves the balance, ``lot_points`` the lot's
    remaining points, ``debt_points`` the negative balance; always
    ``points == lot_points - debt_points`` and ``balance_after == balance_before + points``."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index(None, "member_id", "id"), Index(None, "event_id"), {"implicit_returning": False})
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = _member_fk()
    event_id: Mapped[str] = mapped_column(String(ID), nullable=False)
    ruleset: Mapped[str] = mapped_column(String(ID), nullable=False)  # id@version
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    points: Mapped[Decimal] = mapped_column(Money, nullable=False)
    lot_id: Mapped[str | None] = mapped_column(String(LOT_ID))
    lot_points: Mapped[Decimal | None] = mapped_column(Money)
    debt_points: Mapped[Decimal] = mapped_column(Money, nullable=False)
    balance_before: Mapped[Decimal] = mapped_column(Money, nullable=False)
    balance_after: Mapped[Decimal] = mapped_column(Money, nullable=False)
    time: Mapped[dt.datetime] = mapped_column(Instant, nullable=False)
    detail: Mapped[Any] = mapped_column(Document, nullable=False, default=dict)


class ProcessedEventRow(Base):
    """Append-only: the idempotency record. ``event_id`` is unique across members."""

    __tablename__ = "processed_events"
    __table_args__ = (Index(None, "member_id", "id"), {"implicit_returning": False})
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(ID), nullable=False, unique=True)
    member_id: Mapped[str] = _member_fk()
    # The rest is filled in before commit: it is empty only inside the transaction
    # that claimed the id (see Dialect.claim), and the auditor checks that.
    digest: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[Any | None] = mapped_column(Document)
    event_type: Mapped[str | None] = mapped_column(String(ID))
    time: Mapped[dt.datetime | None] = mapped_column(Instant)
    ruleset: Mapped[str | None] = mapped_column(String(ID))
    outcome: Mapped[str | None] = mapped_column(String(20))
    decision: Mapped[Any | None] = mapped_column(Document)


class MemberRecord(Base):
    """A member's orders (what a refund re-evaluates) and redemptions (what a reversal
    returns), one row each, so an event writes only the records it changes."""

    __tablename__ = "member_records"
    member_id: Mapped[str] = mapped_column(String(ID), ForeignKey("members.member_id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # "order" | "redemption"
    record_id: Mapped[str] = mapped_column(String(LOT_ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # insertion order within the kind
    doc: Mapped[Any] = mapped_column(Tagged, nullable=False)


class TierWindow(Base):
    """A member's tier metric per qualifying window, the level reached in it, and the
    level it closed at."""

    __tablename__ = "tier_windows"
    member_id: Mapped[str] = mapped_column(String(ID), ForeignKey("members.member_id"), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    metric: Mapped[Decimal | None] = mapped_column(Money)
    reached: Mapped[int | None] = mapped_column(Integer)
    closed: Mapped[int | None] = mapped_column(Integer)


class StreakRow(Base):
    __tablename__ = "streaks"
    member_id: Mapped[str] = mapped_column(String(ID), ForeignKey("members.member_id"), primary_key=True)
    streak_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    length: Mapped[int] = mapped_column(Integer, nullable=False)
    last_period: Mapped[int | None] = mapped_column(BigInteger)
    freezes_left: Mapped[int] = mapped_column(Integer, nullable=False)
    best: Mapped[int] = mapped_column(Integer, nullable=False)
    paid: Mapped[Any] = mapped_column(Document, nullable=False, default=list)


class HistoryRow(Base):
    """The member's own recent events, as window aggregates read them."""

    __tablename__ = "history"
    member_id: Mapped[str] = mapped_column(String(ID), ForeignKey("members.member_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[dt.datetime] = mapped_column(Instant, nullable=False)
    type: Mapped[str] = mapped_column(String(ID), nullable=False)
    values: Mapped[Any] = mapped_column(Tagged, nullable=False)


class Budget(Base):
    """A campaign budget's running total: the row that serialises its spending."""

    __tablename__ = "budgets"
    rule: Mapped[str] = mapped_column(String(ID), primary_key=True)
    used: Mapped[Decimal] = mapped_column(Money, nullable=False)


class BudgetUse(Base):
    """Append-only: each event's draw on a budget; they add up to ``budgets.used``."""

    __tablename__ = "budget_uses"
    __table_args__ = (Index(None, "rule"), {"implicit_returning": False})
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(ID), ForeignKey("budgets.rule"), nullable=False)
    event_id: Mapped[str] = mapped_column(String(ID), nullable=False)
    member_id: Mapped[str] = mapped_column(String(ID), nullable=False)
    points: Mapped[Decimal] = mapped_column(Money, nullable=False)


class OutboxMessage(Base):
    """A chosen message, written in its decision's transaction and drained by the sender
    (``punchcard messages send``). ``request`` is the message effect's detail; ``composed``
    the text stored before the first delivery; ``lease_until`` ends a sender's claim, the
    backoff after a failed delivery, or the quiet hours a message waits out."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "status", "send_at"),)
    id: Mapped[str] = mapped_column(String(LOT_ID), primary_key=True)  # "<event id>/<message kind>"
    member_id: Mapped[str] = mapped_column(String(ID), nullable=False)
    event_id: Mapped[str] = mapped_column(String(ID), nullable=False)
    ruleset: Mapped[str] = mapped_column(String(ID), nullable=False)
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    send_at: Mapped[dt.datetime] = mapped_column(Instant, nullable=False)
    request: Mapped[Any] = mapped_column(Document, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # pending | sent | failed | expired
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)  # claims by a sender
    lease_until: Mapped[dt.datetime | None] = mapped_column(Instant)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    composed: Mapped[Any | None] = mapped_column(Document)
    sent_at: Mapped[dt.datetime | None] = mapped_column(Instant)
    receipt: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[dt.datetime | None] = mapped_column(Instant)  # when last_error happened (revision 0005)


class ApiKeyRow(Base):
    """An API key of the HTTP service (revision 0003): the token's SHA-256 digest, never the token;
    ``scopes`` space-separated; a revoked key keeps its row, so ``keys list`` shows when."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    scopes: Mapped[str] = mapped_column(String(200), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(Instant, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Instant)


class DeploymentRow(Base):
    """A ruleset version the service made live (revision 0004): its YAML text and sha256 digest, who
    deployed it, when, and from which version. Rows change only in ``live``; one per ruleset is live
    (a partial unique index); ``parent`` is the row a rollback of this one returns to."""

    __tablename__ = "deployments"
    __table_args__ = (Index(None, "ruleset", "id"),)
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    ruleset: Mapped[str] = mapped_column(String(ID), nullable=False)
    version: Mapped[str] = mapped_column(String(ID), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    deployed_at: Mapped[dt.datetime] = mapped_column(Instant, nullable=False)
    deployed_by: Mapped[str] = mapped_column(String(ID), nullable=False)
    action: Mapped[str] = mapped_column(String(20), nullable=False)  # start | deploy | rollback
    previous: Mapped[str | None] = mapped_column(String(ID))  # the version live before
    parent: Mapped[int | None] = mapped_column(SERIAL)
    live: Mapped[bool] = mapped_column(Boolean, nullable=False)


Index("uq_deployments_live", DeploymentRow.ruleset, unique=True, postgresql_where=DeploymentRow.live,
      sqlite_where=DeploymentRow.live)
__all__ += ["DeploymentRow"]
