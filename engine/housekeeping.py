"""Housekeeping up to an instant: each policy's upkeep, in a fixed order, and the next
instant any of them has something to do.

It runs before every event of a member (so a balance is always current at the event's
time) and is all a ``tick`` event does. It is skipped entirely until an event's time
reaches ``state.due``: the earliest deadline the policies returned last time, or one a
change scheduled since (:meth:`MemberState.schedule`). Running it twice for the same
instant changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import getcontext, localcontext

from .policies import challenges, conversion, hold, offers, streaks, tiers
from .policies.lifecycle import upkeep
from .program import Compiled
from .runtime.decision import Effect
from .runtime.numbers import ruleset_context
from .runtime.state import MemberState

__all__ = ["housekeep", "first_after", "UPKEEP"]

Upkeep = Callable[[Compiled, MemberState, dt.datetime, list[Effect]], list[dt.datetime]]

# Each step does what is due by ``now``, adds its effects, and returns its deadlines after it.
UPKEEP: tuple[Upkeep, ...] = (
    # points into vouchers at each period end passed, as of that instant; expire vouchers (not during a hold)
    hold.paused(conversion.housekeep),
    hold.paused(upkeep.settle_lots),  # release pending points, expire lots, send notices (not during a hold)
    tiers.housekeep,  # close the windows that ended
    streaks.housekeep,  # break the streaks whose periods were missed
    challenges.housekeep,  # expire the progress of challenge periods that ended
    offers.housekeep,  # expire offers at their deadline, forget ended ones
    upkeep.forget_old,  # forget what no rule can read any more
)


def housekeep(compiled: Compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    """Everything due up to ``now``. Skipped entirely while nothing is due (``state.due``)."""
    clock = state.clock
    if clock is not None and now <= clock:
        return []
    state.clock = now
    due = conversion.due_by(compiled, clock, state.due)  # a period end passed converts, whatever else is due
    if due is None or now < due:
        return []
    context = ruleset_context(compiled)
    if getcontext().prec >= context.prec:  # inside evaluate, which already runs in it
        return _housekeep(compiled, state, now)
    with localcontext(context):  # exact, when called outside evaluate too
        return _housekeep(compiled, state, now)


def _housekeep(compiled: Compiled, state: MemberState, now: dt.datetime) -> list[Effect]:
    effects: list[Effect] = []
    deadlines: list[dt.datetime] = []
    for step in UPKEEP:
        deadlines += step(compiled, state, now, effects)
    state.due = first_after(now, deadlines)
    return effects


def first_after(now: dt.datetime, deadlines: list[dt.datetime]) -> dt.datetime | None:
    """The earliest deadline after ``now`` (the first of equal ones, as min() picks), or None."""
    due = None
    for deadline in deadlines:
        if deadline > now and (due is None or deadline < due):
            due = deadline
    return due
