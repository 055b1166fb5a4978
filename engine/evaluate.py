"""The pure core: ``evaluate(compiled, state, event, clock) -> (Decision, new_state)``.

Deterministic and side-effect free: the given state is never changed, the wall
clock is never read (``now`` is the event's time, or ``clock`` when injected), and
a rejected event returns the state it was given. Phases run in the order the rule
graph fixes: gates, earning, stacking, tier multiplier, caps and budgets, rounding,
ledger, tier re-evaluation, streaks and achievements.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable, Mapping
from decimal import Decimal, localcontext
from typing import Any, overload

from .housekeeping import housekeep
from .policies import (
    challenges,
    conversion,
    earning,
    gates,
    hold,
    imports,
    messages,
    offers,
    referrals,
    scoring,
    streaks,
    tier_override,
    tiers,
)
from .policies.lifecycle import handlers as lifecycle
from .policies.lifecycle.lots import FAR_FUTURE
from .program import Compiled, Plan
from .runtime.decision import Decision, Outcome, Step
from .runtime.events import Event, EventError, shown
from .runtime.numbers import MAX_BALANCE, figure, ruleset_context
from .runtime.run import Rejected, Run
from .runtime.state import ZERO, MemberState

__all__ = ["evaluate", "new_member", "walk", "PHASES", "BUILT_IN", "Clock"]

Clock = Callable[[], dt.datetime] | dt.datetime | None
log = logging.getLogger("punchcard.engine")

# The policy that runs each phase of the rule graph (graph.PHASES), in the order it fixes.
PHASES: dict[str, Callable[[Run, Plan], None]] = {
    "profile": scoring.on_event,  # only in rulesets with models: or offers: (compiler/graph.py)
    "gates": gates.on_event,
    "earning": earning.on_event,
    "ledger": lifecycle.on_event,
    "tiers": tiers.on_event,
    "streaks": streaks.on_event,
    "offers": offers.before_earning,
    "offer_choice": offers.after_event,
}
# Built-in event types and the policy that handles each.
BUILT_IN: dict[str, Callable[[Run], None]] = {**lifecycle.HANDLERS, "review_decision": gates.review_decision,
                                              **offers.HANDLERS, **conversion.HANDLERS, **tier_override.HANDLERS,
                                              **challenges.HANDLERS, **hold.HANDLERS, **imports.HANDLERS,
                                              **referrals.HANDLERS,
                                              # a refund takes back what the order added to challenges too
                                              "refund": challenges.with_refunds(lifecycle.HANDLERS["refund"])}


def new_member(member_id: str, profile: Mapping[str, Any] | None = None) -> MemberState:
    state = MemberState(member_id, dict(profile or {}))
    state.oldest_record = FAR_FUTURE  # no orders or redemptions yet
    return state


@overload
def evaluate(compiled: Compiled, state: MemberState, event: Event | Mapping[str, Any], clock: Clock = None,
             budgets: Mapping[str, Decimal] | None = None, *, owned: bool = False,
             trace: bool = True) -> tuple[Decision, MemberState]: ...


@overload
def evaluate(compiled: Compiled, state: MemberState | None, event: Event | Mapping[str, Any], clock: Clock = None,
             budgets: Mapping[str, Decimal] | None = None, *, owned: bool = False,
             trace: bool = True) -> tuple[Decision, MemberState | None]: ...


def evaluate(compiled: Compiled, state: MemberState | None, event: Event | Mapping[str, Any], clock: Clock = None,
             budgets: Mapping[str, Decimal] | None = None, *, owned: bool = False,
             trace: bool = True) -> tuple[Decision, MemberState | None]:
    """Decide ``event`` for the member whose ``state`` is given (None: a new member).
    The state is returned as well: the new one, or the one given when the event changes
    nothing (so None for an event that is not valid, of a member given as None).

    ``owned=True`` hands the state over: it is changed in place and returned, and the caller
    must not keep using an older reference to it. A refused event, or a failure, puts it back
    exactly as it was. Otherwise the state given is never changed.

    ``trace=False`` leaves the explanation out of the decision (its effects are the same).

    Arithmetic runs in the ruleset's exact context (:func:`.numbers.context`). A ruleset with
    variants decides with the program of the member's variant, and stamps it on the decision."""
    compiled = compiled.for_member(_member_of(state, event)) if compiled.split is not None else compiled
    with localcontext(ruleset_context(compiled)):
        return _evaluate(compiled, state, event, clock, budgets, owned, trace)


def _evaluate(compiled: Compiled, state: MemberState | None, event: Event | Mapping[str, Any], clock: Clock,
              budgets: Mapping[str, Decimal] | None, owned: bool, trace: bool) -> tuple[Decision, MemberState | None]:
    try:
        event = event if isinstance(event, Event) else compiled.schema.parse(event)
    except EventError as exc:
        return _invalid(compiled, state, event, exc), state
    if state is None:
        state = new_member(event.member)
    if state.member_id != event.member:
        raise ValueError(f"state of member {state.member_id} given for an event of member {event.member}")
    now = _now(clock, event, compiled)
    savepoint = state.savepoint() if owned else None
    run = Run(compiled, state if owned else state.clone(), event, now, budgets or {}, tiers.current_name, trace)
    try:
        _process(run)
    except Rejected as exc:
        if savepoint is not None:
            savepoint.restore()
        return _rejected(run, state, exc), state
    except Exception as exc:  # a failure no rule anticipated: refused, named, and nothing changes
        if savepoint is not None:
            savepoint.restore()
        return _failed(run, state, exc), state
    except BaseException:
        if savepoint is not None:
            savepoint.restore()
        raise
    if savepoint is not None:
        savepoint.release()
    return _decision(run), run.state


def _member_of(state: MemberState | None, event: Event | Mapping[str, Any]) -> str:
    """Whose event this is, before it is parsed: the variant's program parses it."""
    if state is not None:
        return state.member_id
    if isinstance(event, Event):
        return event.member
    member = event.get("member") if isinstance(event, Mapping) else None  # anything: parsing refuses it
    return member if isinstance(member, str) else ""


def _decision(run: Run) -> Decision:
    balance, pending = run.state.balances(run.now)
    event = run.event
    return Decision(event.id, run.state.member_id, run.compiled.label, run.outcome, run.points, tuple(run.effects),
                    balance, pending, tiers.view(run.compiled, run.state, run.now), tuple(run.trace), run.reason,
                    event.type, event.time, run.compiled.variant, scoring.models_used(run))


def _now(clock: Clock, event: Event, compiled: Compiled) -> dt.datetime:
    if clock is None:
        return event.time
    moment = clock() if callable(clock) else clock
    return moment.astimezone(compiled.tz)


def _process(run: Run) -> None:
    _check_effective(run)
    state = run.state
    if state.joined is None:
        state.joined = run.now
    run.effects += housekeep(run.compiled, state, run.now)
    conversion.explain(run)  # what housekeeping converted, in the trace (nothing without conversion:)
    hold.check(run)  # a member on a legal hold neither earns nor spends (policies/hold.py)
    handler = BUILT_IN.get(run.event.type)
    if handler is not None:
        handler(run)
    else:
        plan = run.compiled.plans[run.event.type]
        (plan.walk or walk)(run, plan)
        challenges.on_event(run)  # once the event's own points are known (nothing without challenges:)
        referrals.qualify(run)  # a referred friend's first qualifying event (nothing without referrals:)
    _within_balance_bound(state)
    messages.choose(run)  # once every effect, housekeeping's included, is known


def _within_balance_bound(state: MemberState) -> None:
    """A member holds at most MAX_BALANCE points either way: past it, the event is refused."""
    total = state.total()
    if not -MAX_BALANCE <= total <= MAX_BALANCE:
        raise Rejected(f"this event would take the balance to {figure(total)} points, past the "
                       f"{MAX_BALANCE:,f} a member may hold")


def _check_effective(run: Run) -> None:
    effective = run.compiled.model.effective
    day = run.now.date()
    if effective.from_ is not None and day < effective.from_:
        raise Rejected(f"{run.compiled.label} takes effect on {effective.from_}")
    if effective.until is not None and day > effective.until:
        raise Rejected(f"{run.compiled.label} ended on {effective.until}")


def walk(run: Run, plan: Plan) -> None:
    """An analyst event walks its plan's phases, each run by the policy that owns it."""
    run.remember()  # window aggregates read the member's history, this event included
    for phase in plan.phases:
        PHASES[phase](run, plan)
    gates.keep_review_hold(run)  # a held event that earned nothing still awaits its review


def _rejected(run: Run, original: MemberState, exc: Rejected) -> Decision:
    """Nothing changes: the decision reports the balance of the state as it was given."""
    run.trace.append(Step("gates" if exc.outcome == Outcome.BLOCKED else "input", "event", False, exc.reason))
    return Decision(run.event.id, original.member_id, run.compiled.label, exc.outcome, ZERO, (),
                    original.available(run.now), original.pending(run.now),
                    tiers.view(run.compiled, original, run.now), tuple(run.trace), exc.reason, run.event.type,
                    run.event.time, run.compiled.variant, scoring.models_used(run))


def _failed(run: Run, original: MemberState, exc: Exception) -> Decision:
    """The rejection of an event whose evaluation failed unexpectedly, logged with its id only."""
    # the frames, not the message: an exception's text may quote a value of the event
    log.error("event %s could not be decided: %s\n%s", shown(run.event.id), type(exc).__name__,
              "".join(traceback.format_tb(exc.__traceback__)))
    refusal = Rejected(f"this event could not be decided ({type(exc).__name__}); nothing changed")
    try:
        return _rejected(run, original, refusal)
    except Exception:  # the balance or tier could not be read either: the refusal alone
        return Decision(run.event.id, original.member_id, run.compiled.label, refusal.outcome, reason=refusal.reason,
                        event_type=run.event.type, time=run.event.time, variant=run.compiled.variant)


def _invalid(compiled: Compiled, state: MemberState | None, raw: Any, exc: EventError) -> Decision:
    """The rejection of an event that is not valid: only its valid id, member and type are kept."""
    raw = raw if isinstance(raw, Mapping) else {}
    wrong = {problem.split(" ", 1)[0] for problem in exc.problems}
    member = raw.get("member") if "member" not in wrong and isinstance(raw.get("member"), str) else ""
    kind = raw.get("type")
    reason = "; ".join(exc.problems)
    # the member's committed balance: its sums do not depend on the moment (the time may be the invalid field)
    balance, pending = state.balances(None) if state is not None else (ZERO, ZERO)
    return Decision(exc.event_id or "", state.member_id if state else member, compiled.label, Outcome.REJECTED,
                    balance=balance, pending=pending, reason=reason,
                    event_type=kind if "type" not in wrong and isinstance(kind, str) else None,
                    trace=(Step("input", "event", False, reason),),
                    variant=compiled.variant if state is not None or member else None)
