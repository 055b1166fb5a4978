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
from decimal import Decimal, localcontext
from typing import Any, Callable, Mapping

from .housekeeping import housekeep
from .policies import tiers
from .policies.earning import RuleFailure, decided_by, earn, run_rule, stack
from .policies.earning_limits import (
    apply_limits,
    budget_effect,
    ledger_lines,
    round_points,
)
from .policies.lifecycle import handlers as builtins
from .policies.lifecycle import lots as ledger
from .policies.lifecycle.lots import FAR_FUTURE
from .policies.streaks import advance, due_rewards
from .runtime.decision import Decision, Effect, Outcome, Step
from .runtime.events import Event, EventError, shown
from .runtime.numbers import MAX_BALANCE, MAX_POINTS, figure, ruleset_context
from .runtime.run import Rejected, Run
from .runtime.state import ZERO, MemberState, OrderRecord
from .schedule import note_activity, schedule_prune, streak_deadline

__all__ = ["evaluate", "new_member", "price", "Clock"]

Clock = Callable[[], dt.datetime] | dt.datetime | None
_ONE = Decimal(1)
log = logging.getLogger("punchcard.engine")


def new_member(member_id: str, profile: Mapping[str, Any] | None = None) -> MemberState:
    state = MemberState(member_id, dict(profile or {}))
    state.oldest_record = FAR_FUTURE  # no orders or redemptions yet
    return state


def evaluate(compiled, state: MemberState | None, event: Event | Mapping[str, Any], clock: Clock = None,
             budgets: Mapping[str, Decimal] | None = None, *, owned: bool = False) -> tuple[Decision, MemberState]:
    """Decide ``event`` for the member whose ``state`` is given (None: a new member).

    ``owned=True`` hands the state over: it is changed in place and returned, and the caller
    must not keep using an older reference to it. A refused event, or a failure, puts it back
    exactly as it was. Otherwise the state given is never changed.

    Arithmetic runs in the ruleset's exact context (:func:`.numbers.context`)."""
    with localcontext(ruleset_context(compiled)):
        return _evaluate(compiled, state, event, clock, budgets, owned)


def _evaluate(compiled, state: MemberState | None, event: Event | Mapping[str, Any], clock: Clock,
              budgets: Mapping[str, Decimal] | None, owned: bool) -> tuple[Decision, MemberState]:
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
    run = Run(compiled, state if owned else state.clone(), event, now, budgets or {})
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
    return run.decision(), run.state


def _now(clock: Clock, event: Event, compiled) -> dt.datetime:
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
    handler = builtins.HANDLERS.get(run.event.type)
    if handler is not None:
        handler(run)
    else:
        _analyst_event(run)
    _within_balance_bound(state)


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


def run_gates(run: Run, plan) -> tuple[bool, bool]:
    """Fraud and compliance gates. Returns (review, no_points); raises Rejected to block."""
    review = no_points = False
    if not plan.gates:
        return review, no_points
    ev, m, ctx = run.values(), run.member_view(), run.context()
    for gate in plan.gates:
        try:
            fired = bool(run_rule(gate.when, ev, m, ctx, gate.id))
        except RuleFailure as exc:
            run.trace.append(Step("gates", gate.id, False, str(exc)))
            continue
        note = f"{gate.action}: {gate.when_text}" if fired else f"when: {gate.when_text}"
        run.trace.append(Step("gates", gate.id, fired, note, decided_by(gate.reads, ev, m, ctx)))
        if not fired or gate.action == "allow":
            continue
        if gate.action == "block":
            raise Rejected(gate.reason or f"{gate.kind} rule {gate.id} blocked it", Outcome.BLOCKED)
        review |= gate.action == "review"
        no_points |= gate.action == "no_points"
    return review, no_points


def _analyst_event(run: Run) -> None:
    compiled, state, event = run.compiled, run.state, run.event
    plan = compiled.plans[event.type]
    run.remember()
    review, no_points = run_gates(run, plan)
    hold = "review" if review else None
    if review:
        run.outcome, run.reason = Outcome.REVIEW, "held for review"
    total = ZERO if no_points else _earn_points(run, plan)
    _at_most_max(total)
    if no_points:
        run.trace.append(Step("earning", "compliance", False, "a compliance rule forbids points for this event"))
    if total > 0:
        run.effects += ledger.add_lot(compiled, state, event.id, "earn", total, run.now, event.id, hold)
        run.points += total
    if plan.is_order:
        _record_order(run, total)
    _after_ledger(run, plan, total, hold)
    if hold is not None:
        builtins.keep_review_hold(run)


def _earn_points(run: Run, plan) -> Decimal:
    if plan.kernel is not None:  # the same steps, written out for this event type
        return plan.kernel(run)
    compiled = run.compiled
    ev, m, ctx = run.values(), run.member_view(), run.context()
    kept = price(compiled, plan, ev, m, ctx, m["tier"], run.trace)
    total, uses = apply_limits(compiled, kept, run.state, run.now, run.budgets_used, run.trace)
    ledger_lines(kept, run.trace)
    run.effects += [budget_effect(rule, used) for rule, used in uses.items()]
    return total


def price(compiled, plan, ev: dict, m: dict, ctx, tier_name: str | None, trace: list[Step]):
    """Earning, stacking and the tier multiplier of ``tier_name``: every part, before caps."""
    base, parts = earn(plan, ev, m, ctx, trace)
    tiers_model = compiled.model.tiers
    multiplier = compiled.tier_multipliers.get(tier_name, _ONE)
    applies_to = tiers_model.multiplier_applies_to if tiers_model else "base"
    return stack(base, parts, compiled.model.earning.stacking, multiplier, tier_name, applies_to, trace)


def _record_order(run: Run, points: Decimal) -> None:
    event, state = run.event, run.state
    window = None
    if run.compiled.model.tiers is not None:
        window = tiers.window_key(run.compiled.model.tiers, run.now, state.joined)
    if run.member is not None:  # the tier the rules saw: it only changes in a later phase
        tier = run.member["tier"]
    else:
        level = tiers.current_level(run.compiled, state)
        tier = level.name if level else None
    schedule_prune(run.compiled, state, event.time)
    state.put("orders", event.id, OrderRecord(
        event.id, event.type, event.time, tuple(event.fields.items()), event.fields["amount"], points, ZERO,
        tier, window))


def _after_ledger(run: Run, plan, earned: Decimal, hold: str | None) -> None:
    compiled, state = run.compiled, run.state
    if compiled.model.tiers is not None:
        amount = metric_amount(run, plan, run.values(), earned)
        if amount:
            tiers.add_metric(compiled, state, amount, run.now)
        run.effects += tiers.upgrade(compiled, state, run.now)
    _streaks(run, plan, hold)
    _achievements(run, plan, hold)
    note_activity(compiled, state, run.event.type, run.now)


def metric_amount(run: Run, plan, ev: dict, earned: Decimal) -> Decimal:
    metric = run.compiled.model.tiers.metric
    if metric == "spend":
        return ev.get("amount", ZERO) if plan.is_order else ZERO
    if metric == "points_earned":
        return earned
    if isinstance(metric, str):
        return Decimal(1) if metric == f"count({run.event.type})" else ZERO
    if plan.metric is None:
        return ZERO
    try:
        return Decimal(run_rule(plan.metric, ev, run.member_view(), run.context(), "tiers.metric"))
    except RuleFailure as exc:
        run.trace.append(Step("tiers", "metric", False, str(exc)))
        return ZERO


def _bonus(run: Run, label: str, source: str, fn, hold: str | None) -> None:
    try:
        raw = Decimal(run_rule(fn, run.values(), run.member_view(), run.context(), label))
    except RuleFailure as exc:
        run.trace.append(Step("streaks", label, False, str(exc)))
        return
    rounding = run.compiled.model.rounding
    points = round_points(max(raw, ZERO), rounding.mode, rounding.step)
    _at_most_max(points)
    run.trace.append(Step("streaks", label, True, "bonus", before=raw, after=points))
    if points > 0:
        lot_id = f"{run.event.id}#{source}"
        run.effects += ledger.add_lot(run.compiled, run.state, lot_id, source, points, run.now, run.event.id, hold)
        run.points += points


def _streaks(run: Run, plan, hold: str | None) -> None:
    for streak, when, bonuses in plan.streaks:
        if when is not None and not _holds(run, when, f"streak:{streak.id}"):
            continue
        state, effects, counted = advance(streak, run.state.streaks.get(streak.id), run.now)
        run.effects += effects
        if counted:
            state, due = due_rewards(streak, state)
            run.context().streak_length = state.length
            for label, reward in due:
                _bonus(run, label, f"streak:{label}", bonuses[id(reward)], hold)
        run.state.put("streaks", streak.id, state)
        run.state.schedule(streak_deadline(streak, state, run.compiled.tz))


def _achievements(run: Run, plan, hold: str | None) -> None:
    for achievement, when, bonus in plan.achievements:
        if achievement.id in run.state.badges or not _holds(run, when, f"achievement:{achievement.id}"):
            continue
        run.state.badges = run.state.badges | {achievement.id}
        run.effects.append(Effect("badge", None, None, {"achievement": achievement.id, "badge": achievement.badge}))
        if bonus is not None:
            _bonus(run, f"achievement:{achievement.id}", f"achievement:{achievement.id}", bonus, hold)


def _holds(run: Run, fn, label: str) -> bool:
    try:
        return bool(run_rule(fn, run.values(), run.member_view(), run.context(), label))
    except RuleFailure as exc:
        run.trace.append(Step("streaks", label, False, str(exc)))
        return False


def _rejected(run: Run, original: MemberState, exc: Rejected) -> Decision:
    """Nothing changes: the decision reports the balance of the state as it was given."""
    run.trace.append(Step("gates" if exc.outcome == Outcome.BLOCKED else "input", "event", False, exc.reason))
    return Decision(run.event.id, original.member_id, run.compiled.label, exc.outcome, ZERO, (),
                    original.available(run.now), original.pending(run.now),
                    tiers.view(run.compiled, original, run.now), tuple(run.trace), exc.reason, run.event.type,
                    run.event.time)


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
                        event_type=run.event.type, time=run.event.time)


def _at_most_max(points: Decimal) -> None:
    """One event earns at most MAX_POINTS: past it, the event is refused rather than cut."""
    if points > MAX_POINTS:
        raise Rejected(f"this event would earn {figure(points)} points, more than the "
                       f"{MAX_POINTS:,f} one event may earn")


def _invalid(compiled, state: MemberState | None, raw: Any, exc: EventError) -> Decision:
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
                    trace=(Step("input", "event", False, reason),))
