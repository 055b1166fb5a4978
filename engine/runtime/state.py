"""A member's state, as the pure core reads and returns it.

State objects are small slotted dataclasses. The records inside a state (lots, orders,
redemptions, cap usage, streaks, history) are treated as immutable and replaced when
they change: they are not frozen only because frozen dataclasses are several times
slower to build. :meth:`MemberState.clone` therefore copies containers, never records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .challenge import ChallengeRecord
from .referral import Referral
from .undo import MISSING, Savepoint
from .voucher import Voucher

__all__ = [
    "ZERO",
    "FAR_FUTURE",
    "FORGET",
    "Lot",
    "Allocation",
    "Redemption",
    "OrderRecord",
    "TierState",
    "StreakState",
    "CapUsage",
    "HistoryItem",
    "OfferRecord",
    "Profile",
    "MemberState",
]

ZERO = Decimal(0)
FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)
FORGET = object()  # MemberState.put_tier: remove the key


@dataclass(slots=True)
class Lot:
    """Points from one earning, with their own pending and expiry times.

    Treated as immutable: a change makes a new lot with :meth:`with_` (a state clone shares
    its lots with the original). Not frozen only because frozen dataclasses are slow to build."""

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
    notice_at: dt.datetime | None = None  # when the expiry notice is due
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

    def with_(self, **changes: Any) -> Lot:
        """A copy with some fields changed (dataclasses.replace is too slow for the hot path)."""
        new = Lot(self.id, self.source, self.earned_at, self.amount, self.remaining, self.pending_until,
                  self.expires_at, self.hold, self.order, self.noticed, self.notice_at, self.expired, self.spent,
                  self.clawed, self.repaid, self.voided)
        for name, value in changes.items():
            setattr(new, name, value)
        return new


def _held(lot: Lot) -> bool:
    """Held back from spending until housekeeping releases it, or a review does."""
    return lot.hold is not None or lot.pending_until is not None



@dataclass(slots=True)
class Allocation:
    lot: str
    points: Decimal


@dataclass(slots=True)
class Redemption:
    id: str
    time: dt.datetime
    points: Decimal
    allocations: tuple[Allocation, ...]
    debt: Decimal = ZERO  # an adjustment below zero; reversals never return it
    reversed: bool = False
    # engine/policies/rewards.py: the catalogue reward it bought (its stock goes back on reversal), or the
    # order it paid part of (amount: the order's; refunded: of it so far; a refund gives points back)
    reward: str | None = None
    order: str | None = None
    amount: Decimal | None = None
    refunded: Decimal = ZERO


@dataclass(slots=True)
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
    # per basket line, (sku, units still kept, points they still hold): what a refund naming
    # items claws back (policies/lifecycle/handlers.py, docs/baskets.md); () without items
    lines: tuple[tuple[str, int, Decimal], ...] = ()


@dataclass(slots=True)
class TierState:
    level: str | None = None
    metric: dict[int, Decimal] = field(default_factory=dict)  # window key -> metric
    reached: dict[int, int] = field(default_factory=dict)  # window key -> highest level index reached
    closed: dict[int, int] = field(default_factory=dict)  # window key -> level index at window end

    def clone(self) -> TierState:
        return TierState(self.level, dict(self.metric), dict(self.reached), dict(self.closed))


@dataclass(slots=True)
class StreakState:
    length: int = 0
    last_period: int | None = None
    freezes_left: int = 0
    paid: frozenset[str] = frozenset()
    best: int = 0


@dataclass(slots=True)
class CapUsage:
    period: int
    points: Decimal = ZERO
    times: int = 0


@dataclass(slots=True)
class HistoryItem:
    time: dt.datetime
    type: str
    values: tuple[tuple[str, Decimal], ...] = ()


@dataclass(slots=True)
class Profile:
    """The member's behaviour, folded from each analyst event by :mod:`engine.policies.profile`
    (which owns its meaning): compact and bounded whatever the member's history. Treated as
    immutable: each event that changes it makes a new one."""

    first: dt.datetime | None = None  # the first purchase
    last: dt.datetime | None = None  # the latest purchase
    days: tuple[tuple[int, int, Decimal], ...] = ()  # (day ordinal, visits, spend), bounded horizon, by day
    categories: tuple[tuple[str, Decimal], ...] = ()  # spend per category, by name
    hours: tuple[int, ...] = (0,) * 24  # visits per local hour of day
    weekdays: tuple[int, ...] = (0,) * 7  # visits per weekday, Monday first
    purchases: int = 0
    spend: Decimal = ZERO
    offers: tuple[tuple[str, int, int], ...] = ()  # (offer type:category, presented, used), by key


@dataclass(slots=True)
class OfferRecord:
    """One offer made to a member, from the decision that selected it to its end
    (engine/policies/offers.py). Treated as immutable, like a lot: a change is a new record."""

    id: str
    template: str
    status: str  # selected | presented | active | used | expired
    selected_at: dt.datetime
    valid_until: dt.datetime
    decision: str  # the event whose decision selected it
    fields: tuple[tuple[str, Any], ...] = ()  # as filled in for the member: offer.<field>, hours, days
    presented_at: dt.datetime | None = None
    activated_at: dt.datetime | None = None
    used_at: dt.datetime | None = None  # when its granted rule first paid
    ended_at: dt.datetime | None = None
    uses: int = 0  # times its granted rule paid
    paid: Decimal = ZERO  # points its granted rule paid
    progress: int = 0  # a streak reward: qualifying purchases so far
    orders: tuple[tuple[str, Decimal], ...] = ()  # (order id, points) its rule paid on: a refund re-prices with it


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
    due: dt.datetime | None = None  # the earliest instant housekeeping has anything to do
    shared: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # running sums over the lots, so a balance costs O(1): every remaining point, and those
    # held back (pending release or review). Kept by put_lot/add_lot; None means "recount".
    live: Decimal | None = field(default=None, compare=False)
    held: Decimal | None = field(default=None, compare=False)
    # the time of the oldest order or redemption kept: pruning waits until it may be forgotten
    # (schedule.forget_at). FAR_FUTURE: there is none; None: not known (worked out when needed)
    oldest_record: dt.datetime | None = field(default=None, compare=False)
    forget_on: dt.datetime | None = field(default=None, compare=False)  # schedule.forget_at(oldest_record)
    # housekeeping's shortcut past the lots (engine.settle): the first instant a live lot
    # expires or is due a notice (None: not known), and the first lot that may still be
    # pending. Kept exact, so a state decides the same whether or not it remembers them.
    quiet_until: dt.datetime | None = field(default=None, compare=False)
    pending_from: int = field(default=0, compare=False)
    journal: Savepoint | None = field(default=None, compare=False, repr=False)  # while a savepoint is open
    # the folded behaviour models and offers read (None: no analyst event folded yet, or a
    # ruleset that reads none). Not ``profile``: that name holds the member's declared fields.
    activity: Profile | None = None
    offers: dict[str, OfferRecord] = field(default_factory=dict)  # offer id -> its record (policies/offers.py)
    # vouchers converted from points, oldest first, replaced whole when one changes, and the last
    # period end conversion ran for (policies/conversion.py)
    vouchers: tuple[Voucher, ...] = ()
    converted_to: dt.datetime | None = None
    # named tier metrics (tiers.metrics): (metric, window key) -> its value (policies/tier_metrics.py)
    tier_metrics: dict[tuple[str, int], Decimal] = field(default_factory=dict)
    # a manual tier override (policies/tier_override.py): (level, until, the event that set it)
    tier_override: tuple[str, dt.datetime, str] | None = None
    frozen: tuple[dt.datetime, str, str] | None = None  # a legal hold (policies/hold.py): since, why, its event
    # challenge id -> the member's progress in it (policies/challenges.py)
    challenges: dict[str, ChallengeRecord] = field(default_factory=dict)
    referral: Referral | None = None  # as a friend and as a referrer (policies/referrals.py)

    # A clone shares every container with the state it came from and copies one only when
    # it is first written (see own()): most events write two or three of them. Lots are
    # copied at once: nearly every event writes them.
    SHARED = frozenset({"profile", "orders", "redemptions", "history", "tier", "streaks", "caps", "totals",
                        "offers", "tier_metrics", "challenges"})

    def clone(self) -> MemberState:  # written out from the fields below the class
        raise NotImplementedError

    def _sums(self) -> tuple[Decimal, Decimal]:
        if self.live is None or self.held is None:
            return self.recount()
        return self.live, self.held

    def recount(self) -> tuple[Decimal, Decimal]:
        """Rebuild the running sums from the lots (after loading state from storage)."""
        live = self.live = sum((lot.remaining for lot in self.lots), ZERO)
        held = self.held = sum((lot.remaining for lot in self.lots if _held(lot)), ZERO)
        return live, held

    def add_lot(self, lot: Lot) -> None:
        live, held = self._sums()
        self.lots.append(lot)
        self.live = live + lot.remaining
        if _held(lot):
            self.held = held + lot.remaining
        self.lot_deadlines(lot)

    def lot_deadlines(self, lot: Lot) -> None:
        """A new or revived lot: housekeeping must run by its deadlines. A lot holding nothing
        (all of it repaid debt) can neither expire nor need a notice, as a full pass sees it."""
        self.schedule(lot.pending_until)
        for deadline in (lot.notice_at, lot.expires_at):
            if deadline is not None:
                self.schedule(deadline)
                if self.quiet_until is not None and deadline < self.quiet_until and lot.remaining > 0:
                    self.quiet_until = deadline

    def put_lot(self, index: int, lot: Lot) -> None:
        """Replace a lot, keeping the running sums right."""
        live, held = self._sums()
        old = self.lots[index]
        if self.journal is not None:
            self.journal.replaced(self.lots, index, old)
        self.lots[index] = lot
        self.live = live + (lot.remaining - old.remaining)
        self.held = held + ((lot.remaining if _held(lot) else ZERO) - (old.remaining if _held(old) else ZERO))
        if old.remaining > 0 >= lot.remaining and self.quiet_until is not None \
                and self.quiet_until in (old.expires_at, None if old.noticed else old.notice_at):
            self.quiet_until = None  # the earliest deadline may have gone with this lot: not known any more

    def put(self, name: str, key: Any, value: Any) -> None:
        """Set ``<name>[key]`` in one of the dicts (orders, redemptions, caps, totals, streaks,
        profile): a shared one is copied first, and a savepoint journals the old value."""
        self._write(self.own(name), key, value)

    def put_tier(self, which: str, key: int, value: object) -> None:
        """Set (or, with ``FORGET``, remove) a window of ``tier.metric``, ``reached`` or ``closed``."""
        self._write(getattr(self.own("tier"), which), key, value)

    def set_tier_level(self, level: str | None) -> None:
        tier = self.own("tier")
        if self.journal is not None:
            self.journal.replaced_attribute(tier, "level", tier.level)
        tier.level = level

    def _write(self, container: dict[Any, Any], key: Any, value: Any) -> None:
        if self.journal is not None:
            self.journal.writes.append((container, key, container.get(key, MISSING)))
        if value is not FORGET:
            container[key] = value
        elif key in container:
            del container[key]

    def savepoint(self) -> Savepoint:
        """Start recording changes so :meth:`Savepoint.restore` can undo them."""
        return Savepoint(self)

    def own(self, name: str) -> Any:
        """The container ``name``, copied first if this state still shares it with another."""
        if name in self.shared:
            value = getattr(self, name)
            setattr(self, name, value.clone() if isinstance(value, TierState) else
                    dict(value) if isinstance(value, dict) else list(value))
            self.shared = self.shared - {name}
        return getattr(self, name)

    def schedule(self, instant: dt.datetime | None) -> None:
        """Housekeeping must run again no later than ``instant``."""
        if instant is not None and (self.due is None or instant < self.due):
            self.due = instant

    # -- balances ---------------------------------------------------------------------
    def total(self) -> Decimal:
        """Every live point, spendable or not, less any negative balance."""
        return self._sums()[0] - self.debt

    def available(self, now: dt.datetime) -> Decimal:
        """What the member can spend now."""
        return self.balances(now)[0]

    def pending(self, now: dt.datetime) -> Decimal:
        return self.balances(now)[1]

    def balances(self, now: dt.datetime | None) -> tuple[Decimal, Decimal]:
        """(spendable less any negative balance, held back). Exact once housekeeping has run
        up to ``now``: releases and expiries happen there, so the sums are current (None:
        as last committed)."""
        live, held = self._sums()
        return live - held - self.debt, held

    def lot(self, lot_id: str) -> tuple[int, Lot] | None:
        for index, lot in enumerate(self.lots):
            if lot.id == lot_id:
                return index, lot
        return None

    def count(self, key: str, amount: Decimal) -> None:
        self.put("totals", key, self.totals.get(key, ZERO) + amount)


def _write_clone() -> None:
    """``MemberState.clone``, written out from the fields (as ``collections.namedtuple``
    writes its methods), so a new field cannot be forgotten: a clone shares every value and
    container with its state (those in ``SHARED`` are copied on their first write), copies
    the lots at once, and has no savepoint open."""
    own_ways = {"lots": "list(self.lots)", "shared": "self.SHARED", "live": "sums[0]", "held": "sums[1]",
                "journal": "None"}
    arguments = ", ".join(own_ways.get(f.name, f"self.{f.name}") for f in dataclasses.fields(MemberState))  # in order
    scope: dict[str, Any] = {"MemberState": MemberState}
    exec(f"def clone(self):\n    sums = self._sums()\n    return MemberState({arguments})\n", scope)
    clone = scope["clone"]
    clone.__doc__, clone.__qualname__ = "A copy that shares what it can (see _write_clone).", "MemberState.clone"
    MemberState.clone = clone  # type: ignore[method-assign]


_write_clone()
