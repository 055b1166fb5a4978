"""The lot-based ledger: earning, redeeming, clawing back, reversing and expiring.

Every function works on a cloned :class:`MemberState` and returns the effects it
caused. A lot always accounts for its points: ``amount == remaining + spent +
expired + clawed + repaid + voided``; the member's total is the sum of remaining
points less any negative balance (``debt``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from punchcard.dsl.duration import Duration

from ...program import Compiled, LotPlan
from ...runtime import calendar
from ...runtime.decision import Effect
from ...runtime.numbers import figure
from ...runtime.state import FAR_FUTURE, ZERO, Allocation, Lot, MemberState, Redemption

__all__ = ["Shortfall", "lot_expiry", "add_lot", "spend", "redeem", "claw_back", "reverse", "expire",
           "inactivity_deadline", "FAR_FUTURE"]



class Shortfall(Exception):
    def __init__(self, have: Decimal, need: Decimal) -> None:
        super().__init__(f"not enough points: {figure(have)} available, {figure(need)} needed")
        self.have, self.need = have, need


def lot_expiry(compiled: Compiled, earned_at: dt.datetime) -> dt.datetime | None:
    expiry = compiled.model.points.expiry
    if isinstance(expiry, str) or expiry.after is None:
        return None
    if expiry.round_to != "none":  # rounded expiry depends only on the earning's local month
        key = (earned_at.year, earned_at.month)
        cached = compiled.memo.get(key)
        if cached is None:
            cached = compiled.memo[key] = _expiry_at(compiled, expiry.after, expiry.round_to, earned_at)
        return cached
    return _expiry_at(compiled, expiry.after, expiry.round_to, earned_at)


def _expiry_at(compiled: Compiled, after: Duration, round_to: str, earned_at: dt.datetime) -> dt.datetime:
    moment = calendar.add(earned_at, after.amount, after.unit, compiled.tz)
    if round_to == "month_end":
        return calendar.month_end(moment, compiled.tz)
    if round_to == "year_end":
        return calendar.year_end(moment, compiled.tz)
    return moment


def _lot_dates(compiled: Compiled, plan: LotPlan,
               earned_at: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(expires_at, notice_at) of a lot earned at ``earned_at``."""
    if not plan.rounded:
        expires = lot_expiry(compiled, earned_at)
        return expires, _notice_at(compiled, expires)
    month = earned_at.year * 12 + earned_at.month
    dates = plan.months.get(month)
    if dates is None:
        expires = lot_expiry(compiled, earned_at)
        dates = plan.months[month] = (expires, _notice_at(compiled, expires))
    return dates


def add_lot(  # noqa: PLR0913 - a lot is what is known of its event: its id, source, points, time, order, hold
        compiled: Compiled, state: MemberState, lot_id: str, source: str, points: Decimal, now: dt.datetime, *,
        order: str | None = None, hold: str | None = None, pending: bool = True) -> list[Effect]:
    """A new lot. A negative balance is paid off first from the new points."""
    debt = state.debt
    repaid = points if points < debt else debt  # min(debt, points), the same object included
    plan = compiled.lot_plan
    expires, notice_at = _lot_dates(compiled, plan, now)
    wait = plan.pending if pending else None
    pending_until = None if wait is None else calendar.add(now, wait.amount, wait.unit, compiled.tz)
    lot = Lot(lot_id, source, now, points, points - repaid, pending_until, expires, hold, order,
              notice_at=notice_at, repaid=repaid)
    state.add_lot(lot)
    effects = [Effect("earn", points, lot_id, {"source": source, "pending_until": pending_until,
                                               "expires_at": expires, "hold": hold})]
    if repaid:
        state.debt -= repaid
        effects.append(Effect("debt_repaid", repaid, lot_id))
    state.count("issued", points)
    return effects


def _notice_at(compiled: Compiled, expires: dt.datetime | None) -> dt.datetime | None:
    notice = compiled.model.points.expiry_notice
    if expires is None or notice is None:
        return None
    expiry = compiled.model.points.expiry  # an Expiry, since the lot expires
    if isinstance(expiry, str) or expiry.round_to == "none":  # one instant per lot: nothing to share
        return calendar.add(expires, -notice.amount, notice.unit, compiled.tz)
    cached = compiled.memo.get(expires)
    if cached is None:
        cached = compiled.memo[expires] = calendar.add(expires, -notice.amount, notice.unit, compiled.tz)
    return cached


def _spend_order(lot: Lot) -> tuple[dt.datetime, dt.datetime, str]:
    return (lot.expires_at or FAR_FUTURE, lot.earned_at, lot.id)


def spend(state: MemberState, points: Decimal, now: dt.datetime, field: str = "spent",
          lots: list[int] | None = None) -> tuple[list[Allocation], Decimal]:
    """Take points from lots, earliest expiry first. Returns allocations and what was left unpaid."""
    indexes = lots if lots is not None else sorted(
        (i for i, lot in enumerate(state.lots) if lot.spendable(now) and lot.remaining > 0),
        key=lambda i: _spend_order(state.lots[i]))
    allocations: list[Allocation] = []
    left = points
    for index in indexes:
        if left <= 0:
            break
        lot = state.lots[index]
        take = min(lot.remaining, left)
        if take <= 0:
            continue
        state.put_lot(index, lot.with_(remaining=lot.remaining - take, **{field: getattr(lot, field) + take}))
        allocations.append(Allocation(lot.id, take))
        left -= take
    return allocations, left


def redeem(state: MemberState, redemption_id: str, points: Decimal, now: dt.datetime) -> list[Effect]:
    have = state.available(now)
    if points > have:
        raise Shortfall(have, points)
    allocations, _ = spend(state, points, now)
    state.put("redemptions", redemption_id, Redemption(redemption_id, now, points, tuple(allocations)))
    state.count("redeemed", points)
    return [Effect("redeem", -a.points, a.lot, {"redemption": redemption_id}) for a in allocations]


def claw_back(state: MemberState, order_id: str, points: Decimal, now: dt.datetime,
              allow_negative: bool) -> list[Effect]:
    """Take back points for a refund: the order's own lots, then other lots, then a negative balance."""
    own = sorted((i for i, lot in enumerate(state.lots) if lot.order == order_id and lot.remaining > 0),
                 key=lambda i: _spend_order(state.lots[i]))
    others = sorted((i for i, lot in enumerate(state.lots) if lot.order != order_id and lot.remaining > 0),
                    key=lambda i: _spend_order(state.lots[i]))
    if not allow_negative and points > sum((state.lots[i].remaining for i in own + others), ZERO) - state.debt:
        raise Shortfall(state.total(), points)
    allocations, left = spend(state, points, now, "clawed", own + others)
    effects = [Effect("clawback", -a.points, a.lot, {"order": order_id}) for a in allocations]
    if left > 0:
        state.debt += left
        effects.append(Effect("negative_balance", -left, None, {"order": order_id}))
    state.count("clawed_back", points)
    return effects


def reverse(state: MemberState, redemption: Redemption, now: dt.datetime) -> list[Effect]:
    """Return redeemed points to their original lots; points whose lot has expired stay gone."""
    effects: list[Effect] = []
    for allocation in redemption.allocations:
        found = state.lot(allocation.lot)
        if found is None or (found[1].expires_at is not None and found[1].expires_at <= now):
            effects.append(Effect("not_returned", ZERO, allocation.lot,
                                  {"points_lost": allocation.points, "why": "the lot has expired"}))
            continue
        index, lot = found
        revived = lot.with_(remaining=lot.remaining + allocation.points, spent=lot.spent - allocation.points)
        state.put_lot(index, revived)
        state.lot_deadlines(revived)
        effects.append(Effect("reverse", allocation.points, lot.id, {"redemption": redemption.id}))
        state.count("redeemed", -allocation.points)
    state.put("redemptions", redemption.id, Redemption(
        redemption.id, redemption.time, redemption.points, redemption.allocations, redemption.debt, True))
    return effects


def expire(state: MemberState, index: int, lot: Lot, at: dt.datetime, why: str) -> Effect:
    state.put_lot(index, lot.with_(remaining=ZERO, expired=lot.expired + lot.remaining))
    state.count("expired", lot.remaining)
    return Effect("expire", -lot.remaining, lot.id, {"at": at, "why": why})


def inactivity_deadline(compiled: Compiled, state: MemberState) -> dt.datetime | None:
    if state.last_activity is None:  # checked first: it is None unless the ruleset expires on inactivity
        return None
    expiry = compiled.model.points.expiry
    if isinstance(expiry, str) or expiry.inactivity is None:
        return None
    return calendar.add(state.last_activity, expiry.inactivity.amount, expiry.inactivity.unit, compiled.tz)
