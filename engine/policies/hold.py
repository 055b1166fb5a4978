"""A legal hold: the ``freeze`` and ``unfreeze`` built-in events (docs/operations.md).

They are admin events, like ``adjust``: the host sends them from its back office (a court
order, a fraud investigation, an estate being settled), never from the member's own
channel, and each carries a ``reason`` (and optionally ``by``: who ordered it) that the
decision, its trace and the member's state keep. A ruleset may gate them with ``fraud:``
rules as it gates any built-in event that moves points.

While a member is frozen (``state.frozen``: since when, why, and the event that froze it):

- what the member does that would earn or spend is refused, with the hold in the reason:
  every event type the ruleset declares (earning), ``redeem``, ``redeem_voucher`` and
  ``import``. A ``tier_override`` is refused too: a status match is a benefit granted to
  the member, and the level decides what the frozen points are worth and how long they
  last (redemption rates, ``expiry: never``), so it waits for the hold to be lifted.
  Admin corrections (``adjust``, ``refund``, ``redeem_reversal``, ``review_decision``),
  ``profile`` and ``tick`` still apply;
- the points' clocks stop: housekeeping neither releases, expires nor sends notices for
  the member's lots, the inactivity deadline does not pass, and no period end converts
  points into vouchers, nor do vouchers expire (:func:`paused` wraps those steps).

On ``unfreeze`` every deadline still ahead when the hold began moves later by the time the
hold lasted (exactly, in elapsed time): each lot's expiry, notice and pending release, each
voucher's expiry, and the last activity the inactivity deadline counts from. So a lot has,
after the hold, the life it had left when the hold began, and nothing expires because of
it. A lot added during the hold (an ``adjust``) moves by the time since it was added. The
period ends passed during the hold convert nothing: the points wait for the next one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..program import Compiled
from ..runtime.calendar import later
from ..runtime.decision import Effect, Step
from ..runtime.run import Rejected, Run
from ..runtime.state import Lot, MemberState
from ..runtime.voucher import ISSUED, Voucher
from .conversion import next_conversion
from .gates import gate_builtin
from .lifecycle.upkeep import inactivity_deadlines

__all__ = ["HANDLERS", "REFUSED_BUILT_INS", "check", "paused", "freeze", "unfreeze", "shifted", "elapsed"]

Upkeep = Callable[[Compiled, MemberState, dt.datetime, list[Effect]], list[dt.datetime]]

# Built-in events refused while frozen: they earn or spend (analyst event types are refused too),
# or, for tier_override, change what the frozen points are worth and how long they last.
REFUSED_BUILT_INS = frozenset({"redeem", "redeem_voucher", "import", "tier_override"})
_WHY = {"tier_override": "the tier is not changed by hand"}  # what a refusal says, by event type
_DATES = ("pending_until", "notice_at", "expires_at")  # a lot's deadlines, each paused by a hold


def check(run: Run) -> None:
    """Refuse an event that would earn or spend while the member is frozen."""
    frozen = run.state.frozen
    if frozen is None:
        return
    kind = run.event.type
    if kind in REFUSED_BUILT_INS or kind in run.compiled.model.schema_.events:
        since, reason, _event = frozen
        why = _WHY.get(kind, "no points are earned or spent")
        raise Rejected(f"the account is on hold since {since.isoformat()} ({reason}): {why} until it is lifted")


def paused(step: Upkeep) -> Upkeep:
    """A housekeeping step that does nothing while the member is frozen: its clock is stopped."""
    def unless_frozen(compiled: Compiled, state: MemberState, now: dt.datetime,
                      effects: list[Effect]) -> list[dt.datetime]:
        return [] if state.frozen is not None else step(compiled, state, now, effects)

    unless_frozen.__name__ = unless_frozen.__qualname__ = f"paused_{getattr(step, '__name__', 'step')}"
    return unless_frozen


def _reason(run: Run) -> str:
    reason = str(run.event.fields["reason"])  # a string: the event schema read it as one
    if not reason.strip():
        raise Rejected(f"a {run.event.type} needs a reason")
    return reason


def freeze(run: Run) -> None:
    gate_builtin(run)
    reason, state = _reason(run), run.state
    if state.frozen is not None:
        raise Rejected(f"the account is already on hold since {state.frozen[0].isoformat()} ({state.frozen[1]})")
    # housekeeping has run up to the member's clock: the clocks stop from there at the earliest
    since = run.now if state.clock is None or state.clock < run.now else state.clock
    state.frozen = (since, reason, run.event.id)
    by = run.event.fields.get("by")
    run.effects.append(Effect("freeze", None, None, {"since": since, "reason": reason, "by": by}))
    run.trace.append(Step("ledger", "freeze", True,
                          f"on hold ({reason}): earning and redeeming are refused, and the points' expiry, "
                          "release and inactivity clocks stop until the hold is lifted"))


def unfreeze(run: Run) -> None:
    gate_builtin(run)
    reason, state = _reason(run), run.state
    if state.frozen is None:
        raise Rejected("the account is not on hold")
    since, hold_reason, froze = state.frozen
    if run.now < since:
        raise Rejected(f"the hold began at {since.isoformat()}: it cannot be lifted before then")
    state.frozen = None
    moved = _shift_lots(run, since) + _shift_vouchers(state, since, run.now)
    _shift_activity(run.compiled, state, since, run.now)
    skipped = _skip_conversions(run.compiled, state, since, run.now)
    gap = _span(elapsed(since, run.now))
    run.effects.append(Effect("unfreeze", None, None, {
        "since": since, "held_for": gap, "reason": reason, "by": run.event.fields.get("by"),
        "froze": froze, "hold_reason": hold_reason, "moved": moved, "conversions_skipped": skipped}))
    run.trace.append(Step("ledger", "unfreeze", True,
                          f"hold lifted ({reason}) after {gap}: the deadlines of {moved} lots and vouchers moved "
                          f"{gap} later, so nothing expired because of the hold"))


def elapsed(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Real time between two instants (aware datetimes of one zone subtract as wall time)."""
    return end.astimezone(dt.UTC) - start.astimezone(dt.UTC)


def _span(gap: dt.timedelta) -> str:
    """A hold's length as people read it: "31 days", or "31 days, 4:00:00" with hours."""
    if gap.seconds or gap.microseconds or not gap.days:
        return str(gap)
    return f"{gap.days} day{'s' * (gap.days != 1)}"


def shifted(lot: Lot, since: dt.datetime, now: dt.datetime) -> Lot | None:
    """The lot with each deadline still ahead at the hold's start (or at the lot's own, for a
    lot added during the hold) moved later by the time since then; None: nothing moves."""
    start = lot.earned_at if lot.earned_at > since else since
    if start >= now:
        return None
    gap = elapsed(start, now)
    changes = {name: later(moment, gap) for name in _DATES
               if (moment := getattr(lot, name)) is not None and moment > start}
    return lot.with_(**changes) if changes else None


def _shift_lots(run: Run, since: dt.datetime) -> int:
    state, moved = run.state, 0
    for index, lot in enumerate(state.lots):
        new = shifted(lot, since, run.now)
        if new is None:
            continue
        state.put_lot(index, new)
        state.lot_deadlines(new)
        moved += 1
        if new.remaining > 0:
            run.effects.append(Effect("hold_extended", new.remaining, new.id, {
                "expires_at": new.expires_at, "was": lot.expires_at, "pending_until": new.pending_until}))
    state.quiet_until, state.pending_from = None, 0  # every lot deadline moved: worked out again by a full pass
    return moved


def _shift_vouchers(state: MemberState, since: dt.datetime, now: dt.datetime) -> int:
    gap, moved, kept = elapsed(since, now), 0, []
    for voucher in state.vouchers:
        if voucher.status == ISSUED and voucher.expires_at is not None and voucher.expires_at > since:
            expires = later(voucher.expires_at, gap)
            kept.append(Voucher(voucher.id, voucher.value, voucher.points, voucher.issued_at, expires, voucher.status,
                                voucher.ended_at, voucher.redeemed_by))
            state.schedule(expires)
            moved += 1
        else:
            kept.append(voucher)
    if moved:
        state.vouchers = tuple(kept)
    return moved


def _shift_activity(compiled: Compiled, state: MemberState, since: dt.datetime, now: dt.datetime) -> None:
    """The inactivity clock stood still: the last activity moves later by the hold."""
    if state.last_activity is None:
        return
    start = state.last_activity if state.last_activity > since else since
    state.last_activity = later(state.last_activity, elapsed(start, now))
    for deadline in inactivity_deadlines(compiled, state):
        state.schedule(deadline)


def _skip_conversions(compiled: Compiled, state: MemberState, since: dt.datetime, now: dt.datetime) -> int:
    """Period ends passed during the hold convert nothing: conversion goes on from the last of them."""
    conversion = compiled.model.conversion
    if conversion is None:
        return 0
    skipped, end = 0, next_conversion(conversion, since, compiled.tz)
    while end is not None and end <= now:
        state.converted_to, skipped = end, skipped + 1
        end = next_conversion(conversion, end, compiled.tz)
    return skipped


HANDLERS = {"freeze": freeze, "unfreeze": unfreeze}
