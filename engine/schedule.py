"""When a member's housekeeping next has something to do.

Housekeeping (release, expiry, notices, tier windows, streak breaks, pruning) runs
only when an event's time reaches ``state.due``, so most events skip it entirely.
Changes that create new deadlines call :meth:`MemberState.schedule` with them; an
early ``due`` only costs a housekeeping pass that finds nothing, a late one would be
a bug, so every deadline below errs early.
"""

from __future__ import annotations

import datetime as dt

from .policies import tiers
from .policies.lifecycle.lots import inactivity_deadline
from .runtime import calendar
from .runtime.state import FAR_FUTURE, MemberState

__all__ = ["recompute_due", "streak_deadline", "inactivity_deadlines", "oldest_record", "forget_on", "forget_at",
           "note_activity", "early_after", "schedule_prune"]

_EARLY_DAYS = {"minute": 0, "hour": 0, "day": 1, "week": 7, "month": 28, "year": 365}


def early_after(moment: dt.datetime, duration) -> dt.datetime:
    """A cheap instant no later than ``moment + duration`` (months count as 28 days)."""
    if duration.unit in ("minute", "hour"):
        return moment
    return moment + dt.timedelta(days=_EARLY_DAYS[duration.unit] * duration.amount - 1)


def note_activity(compiled, state: MemberState, event_type: str, now: dt.datetime) -> None:
    """An event of a qualifying type moves the inactivity deadline (and its notice) later."""
    if event_type not in _activity_types(compiled):
        return
    state.last_activity = now
    for deadline in inactivity_deadlines(compiled, state):
        state.schedule(deadline)


def _activity_types(compiled) -> frozenset[str]:
    """The event types that move the inactivity deadline (none without inactivity expiry),
    worked out once per compiled ruleset."""
    types = compiled.expiry_cache.get(_ACTIVITY)
    if types is None:
        expiry = compiled.model.points.expiry
        active = not isinstance(expiry, str) and expiry.inactivity is not None
        types = compiled.expiry_cache[_ACTIVITY] = frozenset(expiry.activity) if active else frozenset()
    return types


_ACTIVITY = "schedule:activity"  # keys in ``compiled.expiry_cache`` (strings: their hash is kept)


def inactivity_deadlines(compiled, state: MemberState) -> list[dt.datetime]:
    deadline = inactivity_deadline(compiled, state)
    if deadline is None:
        return []
    notice = compiled.model.points.expiry_notice
    found = [deadline]
    if notice is not None:
        found.append(calendar.add(deadline, -notice.amount, notice.unit, compiled.tz))
    return found


def streak_deadline(streak, current, tz) -> dt.datetime | None:
    """The start of the first period whose miss the streak's freezes cannot cover."""
    if current is None or current.length == 0 or current.last_period is None:
        return None
    return calendar.period_start(current.last_period + current.freezes_left + 2, streak.period, tz)


def oldest_record(state: MemberState) -> dt.datetime:
    """The time of the oldest order or redemption kept (``FAR_FUTURE``: none)."""
    times = [o.time for o in state.orders.values()] + [r.time for r in state.redemptions.values()]
    return min(times) if times else FAR_FUTURE


def forget_on(compiled, state: MemberState) -> dt.datetime | None:
    """When the oldest record kept may be forgotten; None: there is none, or it is not known."""
    oldest = state.oldest_record
    # only a time in the year 9999 can equal FAR_FUTURE; comparing across zones is costly
    if oldest is None or oldest is FAR_FUTURE or (oldest.year == 9999 and oldest == FAR_FUTURE):
        return None
    if state.forget_on is None:
        state.forget_on = forget_at(compiled, oldest)
    return state.forget_on


def forget_at(compiled, moment: dt.datetime) -> dt.datetime:
    # Pruning is memory housekeeping, not semantics (refunds check the window themselves),
    # so it waits a further quarter and then forgets three months of orders in one pass.
    window = compiled.model.points.refunds.window
    return calendar.add(calendar.add(moment, window.amount, window.unit, compiled.tz), 3, "month", compiled.tz)


def schedule_prune(compiled, state: MemberState, moment: dt.datetime) -> None:
    """A new order or redemption must be forgotten some day; usually something earlier is due."""
    oldest = state.oldest_record
    # (FAR_FUTURE, kept when there is no record, is after every time before the year 9999)
    if oldest is not None and (oldest is not FAR_FUTURE or moment.year == 9999) and oldest <= moment:
        return  # the older record is forgotten first, and that is scheduled already
    if oldest is None and state.due is not None \
            and state.due <= early_after(moment, compiled.model.points.refunds.window):
        return  # not known yet: housekeeping runs before then and works it out
    forget = forget_at(compiled, moment)
    if oldest is not None:
        state.oldest_record, state.forget_on = moment, forget
    state.schedule(forget)


def _tier_deadlines(compiled, state: MemberState, now: dt.datetime) -> list[dt.datetime]:
    """The current window's end and every status deadline still ahead."""
    return tiers.deadlines(compiled, state, now)


def recompute_due(compiled, state: MemberState, now: dt.datetime, lots_ahead: dt.datetime | None) -> None:
    """``lots_ahead`` is the earliest lot deadline after ``now``, from housekeeping's pass over the lots."""
    found: list[dt.datetime] = [lots_ahead] if lots_ahead is not None else []
    if state.last_activity is not None:  # no inactivity deadline without it
        found += inactivity_deadlines(compiled, state)
    if compiled.model.tiers is not None:
        found += _tier_deadlines(compiled, state, now)
    for streak in compiled.model.streaks:
        deadline = streak_deadline(streak, state.streaks.get(streak.id), compiled.tz)
        if deadline is not None:
            found.append(deadline)
    forget = forget_on(compiled, state)
    if forget is not None:
        found.append(forget)
    due = None
    for deadline in found:  # the first of the earliest after now, as min() would pick
        if deadline > now and (due is None or deadline < due):
            due = deadline
    state.due = due
