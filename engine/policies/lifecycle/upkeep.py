"""The points lifecycle's housekeeping: settling lots, the inactivity deadline, and forgetting
orders and redemptions past the refund window.

Housekeeping runs only when an event's time reaches ``state.due``. Changes that create
new deadlines call :meth:`MemberState.schedule` with them; an early ``due`` only costs a
pass that finds nothing, a late one would be a bug, so every deadline here errs early.
"""

from __future__ import annotations

import datetime as dt

from ...program import Compiled
from ...runtime import calendar
from ...runtime.decision import Effect
from ...runtime.duration import early_after
from ...runtime.state import FAR_FUTURE, MemberState
from .lots import inactivity_deadline
from .settle import settle

__all__ = ["settle_lots", "forget_old", "note_activity", "inactivity_deadlines", "oldest_record", "forget_on",
           "forget_at", "schedule_prune", "prune"]

_ACTIVITY = "lifecycle:activity"  # its key in ``compiled.memo`` (a string: its hash is kept)
_LAST_YEAR = FAR_FUTURE.year  # only a time in this year can equal FAR_FUTURE


def settle_lots(compiled: Compiled, state: MemberState, now: dt.datetime,
                effects: list[Effect]) -> list[dt.datetime]:
    """Housekeeping's first step: release, expire and notify the lots due by ``now``.
    Returns the lots' and the inactivity deadlines after ``now``."""
    settled, lots_ahead = settle(compiled, state, now)
    effects += settled
    found = [lots_ahead] if lots_ahead is not None else []
    if state.last_activity is not None:  # no inactivity deadline without it
        found += inactivity_deadlines(compiled, state)
    return found


def forget_old(compiled: Compiled, state: MemberState, now: dt.datetime,
               effects: list[Effect]) -> list[dt.datetime]:
    """Housekeeping's last step: forget orders, redemptions and spent lots no rule can read
    any more. Returns when the oldest record left may be forgotten."""
    if state.oldest_record is None:  # not known (a state just loaded from storage)
        state.oldest_record = oldest_record(state)
    forget = forget_on(compiled, state)
    if _any_expired(effects) or (forget is not None and forget <= now):
        prune(compiled, state, now)
        forget = forget_on(compiled, state)
    return [forget] if forget is not None else []


def _any_expired(effects: list[Effect]) -> bool:
    return any(effect.kind == "expire" for effect in effects)


def note_activity(compiled: Compiled, state: MemberState, event_type: str, now: dt.datetime) -> None:
    """An event of a qualifying type moves the inactivity deadline (and its notice) later."""
    if event_type not in _activity_types(compiled):
        return
    state.last_activity = now
    for deadline in inactivity_deadlines(compiled, state):
        state.schedule(deadline)


def _activity_types(compiled: Compiled) -> frozenset[str]:
    """The event types that move the inactivity deadline (none without inactivity expiry),
    worked out once per compiled ruleset."""
    types = compiled.memo.get(_ACTIVITY)
    if types is None:
        expiry = compiled.model.points.expiry
        if isinstance(expiry, str) or expiry.inactivity is None:
            types = compiled.memo[_ACTIVITY] = frozenset()
        else:
            types = compiled.memo[_ACTIVITY] = frozenset(expiry.activity)
    return types


def inactivity_deadlines(compiled: Compiled, state: MemberState) -> list[dt.datetime]:
    deadline = inactivity_deadline(compiled, state)
    if deadline is None:
        return []
    notice = compiled.model.points.expiry_notice
    found = [deadline]
    if notice is not None:
        found.append(calendar.add(deadline, -notice.amount, notice.unit, compiled.tz))
    return found


def oldest_record(state: MemberState) -> dt.datetime:
    """The time of the oldest order or redemption kept (``FAR_FUTURE``: none)."""
    times = [o.time for o in state.orders.values()] + [r.time for r in state.redemptions.values()]
    return min(times) if times else FAR_FUTURE


def forget_on(compiled: Compiled, state: MemberState) -> dt.datetime | None:
    """When the oldest record kept may be forgotten; None: there is none, or it is not known."""
    oldest = state.oldest_record
    # only a time in the year 9999 can equal FAR_FUTURE; comparing across zones is costly
    if oldest is None or oldest is FAR_FUTURE or (oldest.year == _LAST_YEAR and oldest == FAR_FUTURE):
        return None
    if state.forget_on is None:
        state.forget_on = forget_at(compiled, oldest)
    return state.forget_on


def forget_at(compiled: Compiled, moment: dt.datetime) -> dt.datetime:
    # Pruning is memory housekeeping, not semantics (refunds check the window themselves),
    # so it waits a further quarter and then forgets three months of orders in one pass.
    window = compiled.model.points.refunds.window
    return calendar.add(calendar.add(moment, window.amount, window.unit, compiled.tz), 3, "month", compiled.tz)


def schedule_prune(compiled: Compiled, state: MemberState, moment: dt.datetime) -> None:
    """A new order or redemption must be forgotten some day; usually something earlier is due."""
    oldest = state.oldest_record
    # (FAR_FUTURE, kept when there is no record, is after every time before the year 9999)
    if oldest is not None and (oldest is not FAR_FUTURE or moment.year == _LAST_YEAR) and oldest <= moment:
        return  # the older record is forgotten first, and that is scheduled already
    if oldest is None and state.due is not None \
            and state.due <= early_after(moment, compiled.model.points.refunds.window):
        return  # not known yet: housekeeping runs before then and works it out
    forget = forget_at(compiled, moment)
    if oldest is not None:
        state.oldest_record, state.forget_on = moment, forget
    state.schedule(forget)


def prune(compiled: Compiled, state: MemberState, now: dt.datetime) -> None:
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
