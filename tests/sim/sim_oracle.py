"""An independent reference model of the ledger, in exact integer minor units.

Written from docs/semantics.md ("The ledger is lot-based", "Events", "Idempotency",
"Numbers and bounds") and docs/storage.md (the postings), for the simulation's ruleset
(tests/sim/ledger.yaml, in GBP with a 0.01 step, or the same in JPY with a step of 1 or
in BHD with 0.001): a purchase earns 1.5 points per currency unit, floored to the step;
lots expire 60 days after they are earned; refunds and reversals are accepted for 3
months. It imports nothing from the engine: amounts are integers of the currency's
minor unit (named ``pence`` below, whatever the currency), points integers of the step,
and every rule below is spelled out again on purpose.

Where the docs are silent, the engine was read and the behaviour is noted here:

- an event that is rejected changes nothing, housekeeping included: the expiries it
  would have caused are posted by the member's next applied event;
- a negative ``adjust`` takes from spendable lots, earliest expiry first, and books the
  rest as a negative balance (``adjust`` postings, then ``negative_balance``);
- a positive ``adjust`` is a new lot named after the event, with the usual expiry;
- a clawback takes from the order's own lots, then from other lots (each earliest
  expiry first), then becomes a negative balance;
- the refund window is ``order time + 3 calendar months <= clock`` (rejected), the clock
  being the later of the event's time and the member's latest; the same for a reversal
  and its redemption's time (docs/semantics.md, "forgotten ... never on when memory was tidied");
- a purchase earning 0 points makes no lot, but is an order;
- input outside the documented bounds is refused before the idempotency check and not
  recorded: the same id sent again is refused again, never a duplicate;
- an event earlier than the member's last one (a late event) runs no housekeeping (the
  member's clock never goes back); a lot is spendable while its expiry is after the
  event's time.
"""

from __future__ import annotations

import calendar as _calendar
import copy
import datetime as dt
from dataclasses import dataclass, field

__all__ = ["Oracle", "OracleLot", "Posting", "Expected", "Units", "UNITS", "GBP", "RATE", "EXPIRY",
           "REFUND_MONTHS", "add_months"]

RATE = (3, 2)  # 1.5 points per currency unit
EXPIRY = dt.timedelta(days=60)  # "after: 60 days" in UTC: calendar days are 24 hours there
REFUND_MONTHS = 3
BALANCE_LIMIT = 10 ** 18  # points a member may hold, either way ("Numbers and bounds")
FAR = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Units:
    """How a ruleset counts: the currency's decimal places, and the rounding step's."""

    currency: str
    amount_places: int
    point_places: int

    def earned(self, pence: int) -> int:
        """Points, in steps, for an amount in minor units: 1.5 a currency unit, floored to the step."""
        return pence * RATE[0] * 10 ** self.point_places // (RATE[1] * 10 ** self.amount_places)

    @property
    def balance_limit(self) -> int:
        return BALANCE_LIMIT * 10 ** self.point_places


GBP = Units("GBP", 2, 2)
UNITS = {units.currency: units for units in (GBP, Units("JPY", 0, 0), Units("BHD", 3, 3))}


def _latest(m: _Member, now: dt.datetime) -> dt.datetime:
    """The member's clock for this event: the later of its time and the latest seen."""
    return now if m.clock is None or m.clock < now else m.clock


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Calendar months, the 31st clamped to a shorter month's last day."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, _calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass
class OracleLot:
    id: str
    earned_at: dt.datetime
    amount: int
    remaining: int
    order: str | None
    spent: int = 0
    expired: int = 0
    clawed: int = 0
    repaid: int = 0

    @property
    def expires_at(self) -> dt.datetime:
        return self.earned_at + EXPIRY

    def key(self) -> tuple:
        """Spending order: earliest expiry, then earliest earned, then id."""
        return (self.expires_at, self.earned_at, self.id)


@dataclass(frozen=True)
class Posting:
    """One ledger entry: its kind, the lot it touched, and the change to that lot and to
    the negative balance (the balance changes by ``lot - debt``)."""

    kind: str
    lot: str | None
    lot_points: int
    debt_points: int = 0


@dataclass
class Expected:
    outcome: str  # applied, rejected or duplicate
    points: int = 0
    postings: list[Posting] = field(default_factory=list)
    why: str = ""


@dataclass
class _Member:
    lots: dict[str, OracleLot] = field(default_factory=dict)
    debt: int = 0
    clock: dt.datetime | None = None
    orders: dict[str, list] = field(default_factory=dict)  # id -> [time, pence, points, refunded]
    redemptions: dict[str, list] = field(default_factory=dict)  # id -> [time, [(lot, points)], reversed]

    def total(self) -> int:
        return sum(lot.remaining for lot in self.lots.values()) - self.debt


class Oracle:
    """The expected ledger: ``apply`` each event (as plain values) in each member's order."""

    def __init__(self, units: Units = GBP):
        self.units = units
        self.members: dict[str, _Member] = {}
        self.seen: dict[str, tuple] = {}  # event id -> body, for duplicates and conflicts

    def member(self, member_id: str) -> _Member:
        return self.members.setdefault(member_id, _Member())

    def apply(self, event_id: str, member_id: str, kind: str, time: dt.datetime, body: tuple,
              valid: bool = True, **values) -> Expected:
        """The decision this event must get. ``body`` identifies the request (a retry sends
        the same one); ``valid`` is False for input outside the documented bounds."""
        if not valid:  # refused at the door: nothing is recorded, so a retry is refused again
            return Expected("rejected", why="out of bounds")
        if event_id in self.seen:
            same = self.seen[event_id] == (member_id, body)
            return Expected("duplicate" if same else "rejected", why="" if same else "conflict")
        self.seen[event_id] = (member_id, body)
        work = copy.deepcopy(self.member(member_id))
        postings = _housekeep(work, time)
        result = getattr(self, f"_{kind}")(work, event_id, time, **values)
        if result.outcome == "applied" and abs(work.total()) > self.units.balance_limit:
            return Expected("rejected", why="balance bound")
        if result.outcome == "applied":
            result.postings[:0] = postings
            self.members[member_id] = work
        return result

    # -- event types ------------------------------------------------------------------
    def _purchase(self, m: _Member, event_id: str, now, pence: int) -> Expected:
        points = self.units.earned(pence)
        postings = _add_lot(m, event_id, points, now, order=event_id) if points else []
        m.orders[event_id] = [now, pence, points, 0]
        return Expected("applied", points, postings)

    def _redeem(self, m: _Member, event_id: str, now, points: int) -> Expected:
        if points <= 0:
            return Expected("rejected", why="not more than 0")
        if points > _spendable(m, now) - m.debt:
            return Expected("rejected", why="not enough points")
        taken = _take(m, sorted(_live(m, now), key=OracleLot.key), points, "spent")
        m.redemptions[event_id] = [now, taken, False]
        return Expected("applied", -points, [Posting("redeem", lot, -n) for lot, n in taken])

    def _adjust(self, m: _Member, event_id: str, now, points: int) -> Expected:
        if points > 0:
            return Expected("applied", points, _add_lot(m, event_id, points, now, order=None))
        taken = _take(m, sorted(_live(m, now), key=OracleLot.key), -points, "clawed")
        postings = [Posting("adjust", lot, -n) for lot, n in taken]
        left = -points - sum(n for _, n in taken)
        if left:
            m.debt += left
            postings.append(Posting("negative_balance", None, 0, left))
        return Expected("applied", points, postings)

    def _refund(self, m: _Member, event_id: str, now, order: str, pence: int) -> Expected:
        record = m.orders.get(order)
        if record is None or add_months(record[0], REFUND_MONTHS) <= _latest(m, now):
            return Expected("rejected", why="unknown order")
        time, amount, points, refunded = record
        left = amount - refunded
        if pence <= 0 or pence > left:
            return Expected("rejected", why="more than refundable")
        clawback = points - min(self.units.earned(left - pence), points)
        postings = _claw_back(m, order, clawback) if clawback else []
        m.orders[order] = [time, amount, points - clawback, refunded + pence]
        return Expected("applied", -clawback, postings)

    def _redeem_reversal(self, m: _Member, event_id: str, now, redemption: str) -> Expected:
        record = m.redemptions.get(redemption)
        if record is None or add_months(record[0], REFUND_MONTHS) <= _latest(m, now):
            return Expected("rejected", why="unknown redemption")
        if record[2]:
            return Expected("rejected", why="already reversed")
        postings = []
        for lot_id, n in record[1]:
            lot = m.lots[lot_id]
            if lot.expires_at <= now:
                continue  # points whose lot expired meanwhile are not returned
            lot.remaining += n
            lot.spent -= n
            postings.append(Posting("reverse", lot_id, n))
        record[2] = True
        return Expected("applied", sum(p.lot_points for p in postings), postings)

    def _tick(self, m: _Member, event_id: str, now) -> Expected:
        return Expected("applied", 0, [])


def _housekeep(m: _Member, now: dt.datetime) -> list[Posting]:
    """Expire every lot whose expiry has come, once the member's clock moves on."""
    if m.clock is not None and now <= m.clock:
        return []
    m.clock = now
    postings = []
    for lot in m.lots.values():
        if lot.remaining > 0 and lot.expires_at <= now:
            postings.append(Posting("expire", lot.id, -lot.remaining))
            lot.expired += lot.remaining
            lot.remaining = 0
    return postings


def _live(m: _Member, now) -> list[OracleLot]:
    return [lot for lot in m.lots.values() if lot.remaining > 0 and lot.expires_at > now]


def _spendable(m: _Member, now) -> int:
    return sum(lot.remaining for lot in _live(m, now))


def _add_lot(m: _Member, lot_id: str, points: int, now, order: str | None) -> list[Posting]:
    """A new lot; a negative balance is paid off from it first."""
    repaid = min(m.debt, points)
    m.lots[lot_id] = OracleLot(lot_id, now, points, points - repaid, order, repaid=repaid)
    postings = [Posting("earn", lot_id, points)]
    if repaid:
        m.debt -= repaid
        postings.append(Posting("debt_repaid", lot_id, -repaid, -repaid))
    return postings


def _take(m: _Member, lots: list[OracleLot], points: int, into: str) -> list[tuple[str, int]]:
    taken = []
    for lot in lots:
        if points == 0:
            break
        n = min(lot.remaining, points)
        if n:
            lot.remaining -= n
            setattr(lot, into, getattr(lot, into) + n)
            taken.append((lot.id, n))
            points -= n
    return taken


def _claw_back(m: _Member, order: str, points: int) -> list[Posting]:
    holding = [lot for lot in m.lots.values() if lot.remaining > 0]
    own = sorted((lot for lot in holding if lot.order == order), key=OracleLot.key)
    others = sorted((lot for lot in holding if lot.order != order), key=OracleLot.key)
    taken = _take(m, own + others, points, "clawed")
    postings = [Posting("clawback", lot, -n) for lot, n in taken]
    left = points - sum(n for _, n in taken)
    if left:
        m.debt += left
        postings.append(Posting("negative_balance", None, 0, left))
    return postings
