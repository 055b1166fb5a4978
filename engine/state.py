"""A member's state, as the pure core reads and returns it.

State objects are small slotted dataclasses. The core never mutates the state it is
given: :meth:`MemberState.clone` copies the containers, and lots are frozen and
replaced when they change, so a clone costs a few list copies, not a deep copy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

__all__ = [
    "ZERO",
    "Lot",
    "Allocation",
    "Redemption",
    "OrderRecord",
    "TierState",
    "StreakState",
    "CapUsage",
    "HistoryItem",
    "MemberState",
]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Lot:
    """Points from one earning, with their own pending and expiry times."""

    id: str
    source: str  # "earn", "adjust", "streak:<id>", "achievement:<id>"
    earned_at: dt.datetime
    amount: Decimal
    remaining: Decimal
    pending_until: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    hold: str | None = None  # "review" while a fraud review holds it
    order: str | None = None  # the event the points were earned on
    noticed: bool = False  # an expiry notice was sent
    expired: Decimal = ZERO
    spent: Decimal = ZERO
    clawed: Decimal = ZERO
    repaid: Decimal = ZERO  # went to pay off a negative balance
    voided: Decimal = ZERO  # a fraud review voided it

    def accounted(self) -> Decimal:
        """Where the lot's points went; always equals ``amount``."""
        return self.remaining + self.spent + self.expired + self.clawed + self.repaid + self.voided

    def spendable(self, now: dt.datetime) -> bool:
        return self.hold is None and (self.pending_until is None or self.pending_until <= now) \
            and (self.expires_at is None or self.expires_at > now)

    def with_(self, **changes) -> "Lot":
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Allocation:
    lot: str
    points: Decimal


@dataclass(frozen=True, slots=True)
class Redemption:
    id: str
    time: dt.datetime
    points: Decimal
    allocations: tuple[Allocation, ...]
    debt: Decimal = ZERO  # an adjustment below zero; reversals never return it
    reversed: bool = False


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """What a refund needs to re-evaluate an order at its reduced amount."""

    id: str
    type: str
    time: dt.datetime
    fields: tuple[tuple[str, Any], ...]
    amount: Decimal
    points: Decimal  # points issued for it, net of earlier clawbacks
    refunded: Decimal = ZERO
    tier: str | None = None
    window: int | None = None  # tier window the order counted in


@dataclass(slots=True)
class TierState:
    level: str | None = None
    metric: dict[int, Decimal] = field(default_factory=dict)  # window key -> metric
    reached: dict[int, int] = field(default_factory=dict)  # window key -> highest level index reached
    closed: dict[int, int] = field(default_factory=dict)  # window key -> level index at window end

    def clone(self) -> "TierState":
        return TierState(self.level, dict(self.metric), dict(self.reached), dict(self.closed))


@dataclass(frozen=True, slots=True)
class StreakState:
    length: int = 0
    last_period: int | None = None
    freezes_left: int = 0
    paid: frozenset[str] = frozenset()
    best: int = 0


@dataclass(frozen=True, slots=True)
class CapUsage:
    period: int
    points: Decimal = ZERO
    times: int = 0


@dataclass(frozen=True, slots=True)
class HistoryItem:
    time: dt.datetime
    type: str
    values: tuple[tuple[str, Decimal], ...] = ()


@dataclass(slots=True)
class MemberState:
    member_id: str
    profile: dict[str, Any] = field(default_factory=dict)
    joined: dt.datetime | None = None
    clock: dt.datetime | None = None  # housekeeping has run up to here
    lots: list[Lot] = field(default_factory=list)
    debt: Decimal = ZERO
    redemptions: dict[str, Redemption] = field(default_factory=dict)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    tier: TierState = field(default_factory=TierState)
    streaks: dict[str, StreakState] = field(default_factory=dict)
    badges: frozenset[str] = frozenset()
    history: list[HistoryItem] = field(default_factory=list)
    last_activity: dt.datetime | None = None
    caps: dict[str, CapUsage] = field(default_factory=dict)
    totals: dict[str, Decimal] = field(default_factory=dict)  # lifetime issued, redeemed, expired, ...
    notices: frozenset[str] = frozenset()  # notices already sent that no lot remembers

    def clone(self) -> "MemberState":
        return MemberState(
            self.member_id, dict(self.profile), self.joined, self.clock, list(self.lots), self.debt,
            dict(self.redemptions), dict(self.orders), self.tier.clone(), dict(self.streaks), self.badges,
            list(self.history), self.last_activity, dict(self.caps), dict(self.totals), self.notices,
        )

    # -- balances ---------------------------------------------------------------------
    def total(self) -> Decimal:
        """Every live point, spendable or not, less any negative balance."""
        return sum((lot.remaining for lot in self.lots), ZERO) - self.debt

    def available(self, now: dt.datetime) -> Decimal:
        """What the member can spend now."""
        return sum((lot.remaining for lot in self.lots if lot.spendable(now)), ZERO) - self.debt

    def pending(self, now: dt.datetime) -> Decimal:
        return sum((lot.remaining for lot in self.lots if not lot.spendable(now)), ZERO)

    def lot(self, lot_id: str) -> tuple[int, Lot] | None:
        for index, lot in enumerate(self.lots):
            if lot.id == lot_id:
                return index, lot
        return None

    def count(self, key: str, amount: Decimal) -> None:
        self.totals[key] = self.totals.get(key, ZERO) + amount
