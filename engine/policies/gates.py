"""Gates: fraud and compliance rules, which run before earning.

A gate that fires may ``block`` the event (nothing changes), hold its points for
``review`` (they stay unspendable until a ``review_decision`` releases or voids them),
forbid points (``no_points``) or ``allow`` it. Built-in events that move points
(redeem, refund) pass the gates too; there, a review refuses the event instead.
This module owns all of it: the gate phase, the review hold and the review decision.
"""

from __future__ import annotations

from ..program import Plan
from ..runtime.decision import Effect, Outcome, Step
from ..runtime.rules import RuleFailure, decided_by, run_rule
from ..runtime.run import Rejected, Run
from ..runtime.state import ZERO, Lot

__all__ = ["on_event", "check", "gate_builtin", "review_decision", "keep_review_hold"]


def on_event(run: Run, plan: Plan) -> None:
    """The gate phase of an analyst event: block, hold for review, or forbid points."""
    review, run.no_points = check(run, plan)
    if review:
        run.hold = "review"
        run.outcome, run.reason = Outcome.REVIEW, "held for review"


def check(run: Run, plan: Plan) -> tuple[bool, bool]:
    """Run the event type's gates. Returns (review, no_points); raises Rejected to block."""
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
        if run.tracing:
            note = f"{gate.action}: {gate.when_text}" if fired else f"when: {gate.when_text}"
            run.trace.append(Step("gates", gate.id, fired, note, decided_by(gate.reads, ev, m, ctx)))
        if not fired or gate.action == "allow":
            continue
        if gate.action == "block":
            raise Rejected(gate.reason or f"{gate.kind} rule {gate.id} blocked it", Outcome.BLOCKED)
        review |= gate.action == "review"
        no_points |= gate.action == "no_points"
    return review, no_points


def gate_builtin(run: Run) -> None:
    """Gates on a built-in event that moves points: one that asks for review refuses it."""
    plan = run.compiled.plans[run.event.type]
    if plan.gates:
        run.remember()
        review, _ = check(run, plan)
        if review:
            raise Rejected(f"{run.event.type} needs review before it can be applied", Outcome.REVIEW)


def keep_review_hold(run: Run) -> None:
    """An event held for review that earned nothing still awaits its decision: a lot of 0
    points remembers the hold, so the release or void finds it and is applied, with 0 points."""
    if run.hold is None:
        return
    event_id = run.event.id
    for lot in run.state.lots:
        if lot.order == event_id and lot.hold == "review":
            return  # its points are held already
    run.state.add_lot(Lot(event_id, "earn", run.now, ZERO, ZERO, hold="review", order=event_id))


def review_decision(run: Run) -> None:
    """The ``review_decision`` event: release or void the points an event holds for review."""
    target, verdict = run.event.fields["target"], run.event.fields["verdict"]
    if verdict not in ("release", "void"):
        raise Rejected("verdict must be release or void")
    held = [(i, lot) for i, lot in enumerate(run.state.lots) if lot.order == target and lot.hold == "review"]
    if not held:
        raise Rejected(f"no points of event {target!r} are held for review")
    for index, lot in held:
        if verdict == "release":
            run.state.put_lot(index, lot.with_(hold=None))
            run.effects.append(Effect("release", lot.remaining, lot.id, {"review": "released"}))
        else:
            run.state.put_lot(index, lot.with_(hold=None, remaining=ZERO, voided=lot.voided + lot.remaining))
            run.state.count("voided", lot.remaining)
            run.effects.append(Effect("void", -lot.remaining, lot.id, {"review": "voided"}))
            run.points -= lot.remaining
    run.trace.append(Step("ledger", "review", True, f"{verdict} {len(held)} lot(s) of {target}"))
