"""What the engine answers besides a fresh decision: the original decision of an id seen
before (a duplicate), the rejection of an id seen with another body (a conflict), and a
preview (:meth:`.engine.Engine.preview`): what an event would do, with what the member could
redeem before it, read in one snapshot."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal, localcontext

from .housekeeping import housekeep
from .program import Compiled
from .runtime.decision import Decision, Outcome, Step
from .runtime.events import Event, shown
from .runtime.numbers import ruleset_context
from .runtime.state import MemberState
from .store import ProcessedEvent

__all__ = ["Preview", "available_before", "housekept", "duplicate_of", "conflict_with"]

log = logging.getLogger("punchcard.engine")


@dataclass(frozen=True)
class Preview:
    """What :meth:`.engine.Engine.process` would answer now (``decision``), and the points the
    member could redeem at the event's time before it (``available``: points expired by then
    are not counted), both from the same read of the store."""

    decision: Decision
    available: Decimal


def housekept(program: Compiled, state: MemberState, moment: dt.datetime) -> MemberState:
    """A copy of ``state`` as housekeeping would leave it by ``moment``."""
    copy = state.clone()
    with localcontext(ruleset_context(program)):
        housekeep(program, copy, moment)
    return copy


def available_before(program: Compiled, state: MemberState | None, moment: dt.datetime, event_id: str) -> Decimal:
    """What the member could redeem at ``moment``, before an event then (None: a new member).
    Housekeeping that fails for this member fails the event's own decision too, which says so;
    the figure is then the one that rejection shows: the member's, without housekeeping."""
    if state is None:
        return Decimal(0)
    try:
        return housekept(program, state, moment).available(moment)
    except Exception as exc:
        log.warning("event %s: what its member could redeem before it is shown without housekeeping, "
                    "which failed (%s)", shown(event_id), type(exc).__name__)
        return state.available(moment)


def duplicate_of(prior: ProcessedEvent, event: Event, label: str, state: MemberState | None = None) -> Decision:
    """The answer to an id seen before: its original decision as a duplicate, or a conflict
    when the body differs (``state``: the event's member as loaded, for the balance)."""
    if prior.digest != event.digest:
        return conflict_with(prior, event, label, state)
    return dataclasses.replace(prior.decision, outcome=Outcome.DUPLICATE,
                               reason=f"event {event.id} was already processed; this is its original decision")


def conflict_with(prior: ProcessedEvent, event: Event, label: str, state: MemberState | None = None) -> Decision:
    """A rejection naming the fields that differ; it reports ``state``'s balance (None: a
    member not yet seen, 0)."""
    keys = sorted(set(prior.body) | set(event.body))
    differing = [k for k in keys if prior.body.get(k) != event.body.get(k)]
    # the fields are named, never their values: a decision or a log line carries no event body
    reason = f"conflict: event id {event.id} was already used with different fields: {', '.join(differing)}"
    log.warning(reason)
    balance, pending = state.balances(event.time) if state is not None else (Decimal(0), Decimal(0))
    return Decision(event.id, event.member, label, Outcome.REJECTED, balance=balance, pending=pending,
                    reason=reason, event_type=event.type, time=event.time,
                    trace=(Step("input", "idempotency", False, reason),))
