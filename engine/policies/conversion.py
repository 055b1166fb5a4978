"""Conversion: points become money vouchers at the end of chosen months (the ruleset's
``conversion:`` section, docs/conversion.md).

This module owns the schedule (:func:`next_conversion`, :func:`due_by`: a period end
passed since housekeeping last ran makes it run), the conversion itself (:func:`housekeep`:
in whole blocks, the remainder kept as points), the vouchers' expiry, and the built-in
``redeem_voucher`` event (:data:`HANDLERS`).

A conversion at the period end ``T`` converts exactly what was spendable at ``T``: lots
earned before it, released by it and not expired at it, less any negative balance. It
runs before the lots are settled, so a late housekeeping (the member's next event a year
on) converts each missed period end as if it had run on time. Voucher ids are the member
and the month that ended, so replaying the same events gives the same vouchers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext
from zoneinfo import ZoneInfo

from punchcard.dsl.conversion import Conversion

from ..program import Compiled
from ..runtime import calendar
from ..runtime.decision import Effect, Step
from ..runtime.numbers import figure
from ..runtime.run import Rejected, Run
from ..runtime.state import ZERO, Lot, MemberState
from ..runtime.voucher import EXPIRED, ISSUED, REDEEMED, Voucher
from .gates import gate_builtin
from .lifecycle.lots import spend
from .lifecycle.upkeep import note_activity

__all__ = ["HANDLERS", "housekeep", "due_by", "next_conversion", "deadlines", "convert", "explain",
           "redeem_voucher", "voucher_money"]

_DECEMBER = 12
_EXACT_DIGITS = 60  # wide enough for any voucher's money, exactly


def next_conversion(conversion: Conversion, after: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The first period end strictly after ``after``: local midnight on the 1st of the month
    after a month in ``months``. None past the end of the calendar."""
    wall = calendar.local(after, tz)
    for year in (wall.year, wall.year + 1):
        for month in conversion.months:
            instant = _period_end(year, month, tz)
            if instant is None:
                return None
            if instant > after:
                return instant
    return None


def _period_end(year: int, month: int, tz: ZoneInfo) -> dt.datetime | None:
    """The first instant after local month ``month`` of ``year``."""
    year, month = (year + 1, 1) if month == _DECEMBER else (year, month + 1)
    return None if year > dt.MAXYEAR else dt.datetime(year, month, 1, tzinfo=tz)


def due_by(compiled: Compiled, clock: dt.datetime | None, due: dt.datetime | None) -> dt.datetime | None:
    """``due``, or earlier: the first period end after the member's last housekeeping (``clock``),
    so points earned since then are converted even when no other deadline was scheduled."""
    conversion = compiled.model.conversion
    if conversion is None or clock is None:
        return due
    end = next_conversion(conversion, clock, compiled.tz)
    return end if end is not None and (due is None or end < due) else due


def housekeep(compiled: Compiled, state: MemberState, now: dt.datetime, effects: list[Effect]) -> list[dt.datetime]:
    """Convert at each period end up to ``now`` not yet converted, expire vouchers; returns deadlines."""
    conversion = compiled.model.conversion
    if conversion is None:
        return []
    start = state.converted_to or _first_earning(state)
    end = next_conversion(conversion, start, compiled.tz) if start is not None else None
    while end is not None and end <= now:
        effects += convert(compiled, state, end)
        state.converted_to = end
        end = next_conversion(conversion, end, compiled.tz)
    effects += _expire(state, now)
    return deadlines(compiled, state, now)


def _first_earning(state: MemberState) -> dt.datetime | None:
    """Before a member's first conversion: the oldest lot still holding points (None: no points)."""
    times = [lot.earned_at for lot in state.lots if lot.remaining > 0]
    return min(times) if times else None


def deadlines(compiled: Compiled, state: MemberState, now: dt.datetime) -> list[dt.datetime]:
    """The next period end while the member holds points, and each live voucher's expiry."""
    found = [v.expires_at for v in state.vouchers if v.status == ISSUED and v.expires_at is not None]
    conversion = compiled.model.conversion
    if conversion is not None and any(lot.remaining > 0 for lot in state.lots):
        end = next_conversion(conversion, now, compiled.tz)
        if end is not None:
            found.append(end)
    return found


def _convertible(lot: Lot, at: dt.datetime) -> bool:
    """Spendable at ``at``: earned before it, released by it, not expired at it, not held."""
    return lot.remaining > 0 and lot.hold is None and lot.earned_at < at \
        and (lot.pending_until is None or lot.pending_until <= at) and (lot.expires_at is None or lot.expires_at > at)


def convert(compiled: Compiled, state: MemberState, at: dt.datetime) -> list[Effect]:
    """Whole blocks of the points spendable at ``at`` become one voucher; the rest stays."""
    conversion = compiled.model.conversion
    if conversion is None:
        return []
    indexes = sorted((i for i, lot in enumerate(state.lots) if _convertible(lot, at)),
                     key=lambda i: (state.lots[i].expires_at or calendar.FAR_FUTURE, state.lots[i].earned_at,
                                    state.lots[i].id))
    have = sum((state.lots[i].remaining for i in indexes), ZERO) - state.debt
    blocks = int(have // conversion.block) if have >= (conversion.minimum or conversion.block) else 0
    if blocks < 1:
        return []
    points = conversion.block * blocks
    allocations, _ = spend(state, points, at, "spent", indexes)  # have >= points: nothing is left unpaid
    month = calendar.local(at - dt.timedelta(days=1), compiled.tz)
    cent = Decimal(1).scaleb(-compiled.model.money_places)  # the value is whole money: dsl/conversion_checks.py
    with localcontext(prec=_EXACT_DIGITS):  # blocks (at most 25 digits) times the value (14): never rounded
        money = (conversion.value * blocks).quantize(cent)
    voucher = Voucher(f"{state.member_id}:{month.year:04d}-{month.month:02d}", money, points, at,
                      _expiry(compiled, conversion, at))
    state.vouchers = (*state.vouchers, voucher)
    state.count("converted", points)
    effects = [Effect("converted", -a.points, a.lot, {"voucher": voucher.id, "at": at}) for a in allocations]
    why = (f"{figure(have)} points at the end of {month.year:04d}-{month.month:02d}: {blocks} "
           f"{'block' if blocks == 1 else 'blocks'} of {figure(conversion.block)} points at "
           f"{conversion.value.quantize(cent)} {compiled.model.currency} each make a voucher of {voucher.value}; "
           f"{figure(have - points)} points kept")
    effects.append(Effect("voucher_issued", None, None, {
        "voucher": voucher.id, "value": voucher.value, "currency": compiled.model.currency, "points": points,
        "blocks": blocks, "kept": have - points, "at": at, "expires_at": voucher.expires_at, "why": why}))
    return effects


def explain(run: Run) -> None:
    """Each conversion housekeeping made before this event, as a trace step in words."""
    if run.compiled.model.conversion is None:
        return
    for effect in run.effects:
        if effect.kind == "voucher_issued":
            run.trace.append(Step("housekeeping", "conversion", True, str(effect.detail["why"]),
                                  after=-effect.detail["points"]))


def _expiry(compiled: Compiled, conversion: Conversion, at: dt.datetime) -> dt.datetime | None:
    if conversion.expires is None:
        return None
    return calendar.add(at, conversion.expires.amount, conversion.expires.unit, compiled.tz)


def _expire(state: MemberState, now: dt.datetime) -> list[Effect]:
    """Vouchers past their expiry: expired at that instant, with their money."""
    if not any(v.status == ISSUED and v.expires_at is not None and v.expires_at <= now for v in state.vouchers):
        return []
    effects: list[Effect] = []
    kept: list[Voucher] = []
    for voucher in state.vouchers:
        if voucher.status == ISSUED and voucher.expires_at is not None and voucher.expires_at <= now:
            kept.append(_ended(voucher, EXPIRED, voucher.expires_at, None))
            effects.append(Effect("voucher_expired", None, None, {"voucher": voucher.id, "value": voucher.value,
                                                                  "at": voucher.expires_at}))
        else:
            kept.append(voucher)
    state.vouchers = tuple(kept)
    return effects


def _ended(voucher: Voucher, status: str, at: dt.datetime, by: str | None) -> Voucher:
    return Voucher(voucher.id, voucher.value, voucher.points, voucher.issued_at, voucher.expires_at, status, at, by)


def voucher_money(state: MemberState, now: dt.datetime | None = None) -> Decimal:
    """The money of the vouchers the member can still spend (at ``now``; None: not yet ended)."""
    return sum((v.value for v in state.vouchers
                if v.status == ISSUED and (now is None or v.live(now))), ZERO)


def redeem_voucher(run: Run) -> None:
    """Spend a whole voucher, once, before it expires."""
    gate_builtin(run)
    wanted = run.event.fields["voucher"]
    found = [i for i, v in enumerate(run.state.vouchers) if v.id == wanted]
    if not found:
        raise Rejected(f"unknown voucher {wanted!r}: the member was never issued it")
    index = found[0]
    voucher = run.state.vouchers[index]
    if voucher.status == REDEEMED:
        raise Rejected(f"voucher {wanted!r} was already redeemed")
    if not voucher.live(run.now):
        raise Rejected(f"voucher {wanted!r} expired at {voucher.expires_at.isoformat() if voucher.expires_at else '?'}")
    spent = _ended(voucher, REDEEMED, run.now, run.event.id)
    run.state.vouchers = (*run.state.vouchers[:index], spent, *run.state.vouchers[index + 1:])
    currency = run.compiled.model.currency
    run.effects.append(Effect("voucher_redeemed", None, None, {"voucher": voucher.id, "value": voucher.value,
                                                               "currency": currency}))
    run.trace.append(Step("ledger", "redeem_voucher", True,
                          f"voucher {voucher.id} worth {figure(voucher.value)} {currency} redeemed"))
    note_activity(run.compiled, run.state, run.event.type, run.now)


HANDLERS = {"redeem_voucher": redeem_voucher}
