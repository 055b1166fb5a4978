"""The lot-based ledger: earning, redeeming, clawing back, reversing and expiring.

Every function works on a cloned :class:`MemberState` and returns the effects it
caused. A lot always accounts for its points: ``amount == remaining + spent +
expired + clawed + repaid + voided``; the member's total is the sum of remaining
points less any negative balance (``debt``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from punchcard.dsl.duration import Duration

from ...program import Compiled, LotPlan
from ...runtime import calendar
from ...runtime.decision import Effect
from ...runtime.numbers import figure
from ...runtime.state import FAR_FUTURE, ZERO, Allocation, Lot, MemberState, Redemption

__all__ = ["Shortfall", "lot_expiry", "add_lot", "never_expires", "lift_expiry", "spend", "redeem", "claw_back",
           "reverse", "expire", "inactivity_deadline", "notice_date", "FAR_FUTURE"]



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
    if expires is not None and never_expires(compiled, state):  # earned at a level whose points never expire
        expires = notice_at = None
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


def never_expires(compiled: Compiled, state: MemberState) -> bool:
    """Whether the member's level now says its points never expire (``expiry: never`` on a tier
    level; docs/tiers.md). Read from the state, so the tiers policy can call :func:`lift_expiry`."""
    plan = compiled.tier_plan
    if plan is None or state.tier.level is None:
        return plan is not None and plan.levels[0].expiry == "never"
    return plan.levels[plan.rank.get(state.tier.level, 0)].expiry == "never"


def lift_expiry(state: MemberState, level: str) -> list[Effect]:
    """A member reaching a level whose points never expire: every live lot stops expiring
    (Starbucks from 2026: "Gold and Reserve members' Stars never expire", the balance, not only
    new Stars), and stays so after a downgrade. One ``expiry_lifted`` effect per lot."""
    effects: list[Effect] = []
    for index, lot in enumerate(state.lots):
        if lot.expires_at is not None and lot.remaining > 0:
            state.put_lot(index, lot.with_(expires_at=None, notice_at=None))
            effects.append(Effect("expiry_lifted", lot.remaining, lot.id, {"was": lot.expires_at, "level": level}))
    if effects:
        state.quiet_until = None  # the earliest lot deadline may have gone: worked out again when needed
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


def notice_date(compiled: Compiled, expires: dt.datetime | None) -> dt.datetime | None:
    """When the expiry notice of a lot expiring at ``expires`` is due (None: no notice)."""
    return _notice_at(compiled, expires)


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


def redeem(state: MemberState, redemption_id: str, points: Decimal, now: dt.datetime, **record: Any) -> list[Effect]:
    """Spend ``points``, earliest expiry first, and remember where they came from (``record``:
    the reward bought or the order paid, engine/policies/rewards.py)."""
    have = state.available(now)
    if points > have:
        raise Shortfall(have, points)
    allocations, _ = spend(state, points, now)
    state.put("redemptions", redemption_id, Redemption(redemption_id, now, points, tuple(allocations), **record))
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


def reverse(state: MemberState, redemption: Redemption, now: dt.datetime, points: Decimal | None = None,
            **changes: Any) -> list[Effect]:
    """Return redeemed points to their original lots; points whose lot has expired stay gone.
    ``points``: only so many (a partial refund of the order they paid), from the lots taken
    last, and the record keeps what is still out; None: all of it, and the record is reversed."""
    effects: list[Effect] = []
    out: list[Allocation] = []
    left = points
    for allocation in reversed(redemption.allocations):
        give = allocation.points if left is None else min(allocation.points, left)
        if give < allocation.points:
            out.append(Allocation(allocation.lot, allocation.points - give))
        if give <= 0:
            continue
        if left is not None:
            left -= give
        effects.append(_give_back(state, redemption.id, allocation.lot, give, now))
    effects.reverse()  # in the order the points were taken
    if points is None:  # the record as it was, reversed: allocations say where the points came from
        record = dataclasses.replace(redemption, reversed=True, **changes)
    else:
        record = dataclasses.replace(redemption, allocations=tuple(reversed(out)), reversed=not out, **changes)
    state.put("redemptions", redemption.id, record)
    return effects


def _give_back(state: MemberState, redemption: str, lot_id: str, points: Decimal, now: dt.datetime) -> Effect:
    found = state.lot(lot_id)
    if found is None or (found[1].expires_at is not None and found[1].expires_at <= now):
        return Effect("not_returned", ZERO, lot_id, {"points_lost": points, "why": "the lot has expired"})
    index, lot = found
    revived = lot.with_(remaining=lot.remaining + points, spent=lot.spent - points)
    state.put_lot(index, revived)
    state.lot_deadlines(revived)
    state.count("redeemed", -points)
    return Effect("reverse", points, lot.id, {"redemption": redemption})


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
