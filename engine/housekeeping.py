"""Housekeeping up to an instant: pending release, expiry, notices, tier windows, streaks.

It runs before every event of a member (so a balance is always current at the
event's time) and is all a ``tick`` event does. Running it twice for the same
instant changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from decimal import getcontext, localcontext

from .policies import streaks, tiers
from .policies.lifecycle.settle import settle
from .runtime import calendar
from .runtime.decision import Effect
from .runtime.numbers import ruleset_context
from .runtime.state import MemberState
from .schedule import forget_on, oldest_record, recompute_due

__all__ = ["housekeep", "prune"]


def housekeep(compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    """Everything due up to ``now``. Skipped entirely while nothing is due (``state.due``)."""
    clock = state.clock
    if clock is not None and now <= clock:
        return []
    state.clock = now
    due = state.due
    if due is None or now < due:
        return []
    context = ruleset_context(compiled)
    if getcontext().prec >= context.prec:  # inside evaluate, which already runs in it
        return _housekeep(compiled, state, now)
    with localcontext(context):  # exact, when called outside evaluate too
        return _housekeep(compiled, state, now)


def _housekeep(compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    effects, lots_ahead = settle(compiled, state, now)
    expired = _any_expired(effects)
    model = compiled.model
    if model.tiers is not None:
        effects += tiers.close_windows(compiled, state, now)
    if model.streaks:
        _break_streaks(compiled, state, now, effects)
    if state.oldest_record is None:  # not known (a state just loaded from storage)
        state.oldest_record = oldest_record(state)
    forget = forget_on(compiled, state)
    if expired or (forget is not None and forget <= now):
        prune(compiled, state, now)
    recompute_due(compiled, state, now, lots_ahead)
    return effects


def _any_expired(effects: list[Effect]) -> bool:
    for effect in effects:
        if effect.kind == "expire":
            return True
    return False


def _break_streaks(compiled, state: MemberState, now: dt.datetime, effects: list[Effect]) -> None:
    local = calendar.local(now, compiled.tz)
    for streak in compiled.model.streaks:
        updated, broken = streaks.check_break(streak, state.streaks.get(streak.id), local)
        if broken:
            state.put("streaks", streak.id, updated)
            effects += broken


def prune(compiled, state: MemberState, now: dt.datetime) -> None:
    """Forget what no rule can read any more, so state grows with members, not events.

    Runs when something expired, or when the oldest order or redemption is due to be
    forgotten, so most housekeeping passes skip it."""
    window = compiled.model.points.refunds.window
    horizon = calendar.add(now, -window.amount, window.unit, compiled.tz)
    if any(o.time < horizon for o in state.orders.values()):
        state.orders = {k: o for k, o in state.orders.items() if o.time >= horizon}
        state.shared = state.shared - {"orders"}
    if any(r.time < horizon for r in state.redemptions.values()):
        state.redemptions = {k: r for k, r in state.redemptions.items() if r.time >= horizon}
        state.shared = state.shared - {"redemptions"}
    referenced = {a.lot for r in state.redemptions.values() if not r.reversed for a in r.allocations}
    state.lots = [lot for lot in state.lots if lot.remaining > 0 or lot.id in referenced or
                  (lot.order in state.orders) or lot.hold is not None]
    state.pending_from = 0  # the lots were renumbered
    state.oldest_record = oldest_record(state)
    state.forget_on = None
