"""Built-in event types: refund, redeem, redeem_reversal, adjust, tick, review_decision."""

from __future__ import annotations

from decimal import Decimal

from ...compiler.codegen import EvalContext
from ...runtime import calendar
from ...runtime.decision import Effect, Outcome, Step
from ...runtime.numbers import figure
from ...runtime.run import Rejected, Run
from ...runtime.state import ZERO, Lot, OrderRecord
from ...schedule import note_activity, schedule_prune
from .. import tiers
from ..earning import RuleFailure, run_rule
from ..earning_limits import round_parts
from . import lots as ledger

__all__ = ["HANDLERS", "reprice", "keep_review_hold"]


def _gates(run: Run) -> None:
    from ...evaluate import run_gates

    plan = run.compiled.plans[run.event.type]
    if plan.gates:
        run.remember()
        review, _ = run_gates(run, plan)
        if review:
            raise Rejected(f"{run.event.type} needs review before it can be applied", Outcome.REVIEW)


def redeem(run: Run) -> None:
    _gates(run)
    points = run.event.fields["points"]
    if points <= 0:
        raise Rejected("points to redeem must be more than 0")
    if run.event.id in run.state.redemptions:
        raise Rejected(f"redemption {run.event.id} already exists")
    try:
        run.effects += ledger.redeem(run.state, run.event.id, points, run.now)
    except ledger.Shortfall as exc:
        raise Rejected(str(exc)) from None
    run.points -= points
    schedule_prune(run.compiled, run.state, run.now)
    run.trace.append(Step("ledger", "redeem", True, f"{figure(points)} points, earliest expiry first", after=-points))
    note_activity(run.compiled, run.state, run.event.type, run.now)


def redeem_reversal(run: Run) -> None:
    target = run.event.fields["redemption"]
    redemption = run.state.redemptions.get(target)
    if redemption is not None and _past_window(run, redemption.time):
        redemption = None  # the same window as refunds, whether or not housekeeping has forgotten it yet
    if redemption is None:
        raise Rejected(f"unknown redemption {target!r}: it was never made, or is older than the refund window "
                       f"({run.compiled.model.points.refunds.window})")
    if redemption.reversed:
        raise Rejected(f"redemption {target!r} was already reversed")
    effects = ledger.reverse(run.state, redemption, run.now)
    run.effects += effects
    returned = sum((e.points for e in effects if e.kind == "reverse"), ZERO)
    run.points += returned
    run.trace.append(Step("ledger", "redeem_reversal", True, f"{figure(returned)} of {figure(redemption.points)} points returned "
                          "to their lots", after=returned))


def adjust(run: Run) -> None:
    points, reason = run.event.fields["points"], run.event.fields["reason"]
    if not reason.strip():
        raise Rejected("an adjustment needs a reason")
    if points > 0:
        run.effects += ledger.add_lot(run.compiled, run.state, run.event.id, "adjust", points, run.now,
                                      pending=False)
    elif points < 0:
        allocations, left = ledger.spend(run.state, -points, run.now, "clawed")
        run.effects += [Effect("adjust", -a.points, a.lot, {"reason": reason}) for a in allocations]
        if left > 0:
            run.state.debt += left
            run.effects.append(Effect("negative_balance", -left, None, {"reason": reason}))
        run.state.count("adjusted_down", -points)
    run.points += points
    run.trace.append(Step("ledger", "adjust", True, reason, after=points))


def tick(run: Run) -> None:
    run.trace.append(Step("housekeeping", "tick", True, f"{len(run.effects)} effects up to {run.now.isoformat()}"))


def review_decision(run: Run) -> None:
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


def keep_review_hold(run: Run) -> None:
    """An event held for review that earned nothing still awaits its decision: a lot of 0
    points remembers the hold, so the release or void finds it and is applied, with 0 points."""
    event_id = run.event.id
    for lot in run.state.lots:
        if lot.order == event_id and lot.hold == "review":
            return  # its points are held already
    run.state.add_lot(Lot(event_id, "earn", run.now, ZERO, ZERO, hold="review", order=event_id))


def _past_window(run: Run, moment) -> bool:
    """The refund window, measured to the member's clock: the later of this event's time and
    the latest the member has seen. Housekeeping forgets a record only once it is past the
    window at that clock, so a late refund gets the same answer whether or not it was."""
    window = run.compiled.model.points.refunds.window
    clock = run.state.clock
    latest = run.now if clock is None or clock < run.now else clock
    return calendar.add(moment, window.amount, window.unit, run.compiled.tz) <= latest


def refund(run: Run) -> None:
    _gates(run)
    order_id, amount = run.event.fields["order"], run.event.fields["amount"]
    order = run.state.orders.get(order_id)
    if order is not None and _past_window(run, order.time):
        order = None  # past the refund window, even if housekeeping has not forgotten it yet
    if order is None:
        raise Rejected(f"unknown order {order_id!r}: it was never earned on, or is older than the refund window "
                       f"({run.compiled.model.points.refunds.window})")
    left = order.amount - order.refunded
    if amount <= 0 or amount > left:
        raise Rejected(f"refund of {figure(amount)} is more than the {figure(left)} still refundable on order {order_id}")
    # an order refunded in full keeps nothing: its rules are not asked what 0 would have earned
    new_points = min(reprice(run, order, left - amount), order.points) if amount < left else ZERO
    clawback = order.points - new_points
    if run.compiled.model.points.refunds.clawback == "none":
        clawback = ZERO
    if clawback > 0:
        allow = run.compiled.model.points.refunds.negative_balance == "allow"
        try:
            run.effects += ledger.claw_back(run.state, order_id, clawback, run.now, allow)
        except ledger.Shortfall:
            raise Rejected(f"clawing back {figure(clawback)} points would make the balance negative") from None
    run.points -= clawback
    run.trace.append(Step("ledger", "refund", True, f"order {order_id} re-evaluated at {figure(left - amount)}",
                          before=order.points, after=order.points - clawback))
    run.state.put("orders", order_id, OrderRecord(
        order.id, order.type, order.time, order.fields, order.amount, order.points - clawback,
        order.refunded + amount, order.tier, order.window))
    _lower_metric(run, order, amount, clawback)


def reprice(run: Run, order: OrderRecord, amount: Decimal) -> Decimal:
    """The order's points had it been for ``amount``: same time, same tier, same rules."""
    compiled = run.compiled
    plan = compiled.plans[order.type]
    ev, m, ctx = _order_view(run, order, amount)
    from ...evaluate import price

    scratch: list[Step] = []
    kept = price(compiled, plan, ev, m, ctx, order.tier, scratch)
    for part in kept:
        part.capped = part.points  # caps are not re-applied: the order keeps at most what it got
    return round_parts(kept, compiled.model.rounding, False, scratch)


def _order_view(run: Run, order: OrderRecord, amount: Decimal) -> tuple[dict, dict, EvalContext]:
    """What the rules saw of the order, as if it had been for ``amount``: same time, same tier."""
    ev = {**dict(order.fields), "amount": amount, "id": order.id, "type": order.type,
          "member": run.state.member_id, "time": order.time}
    m = {**run.state.profile, "id": run.state.member_id, "tier": order.tier, "balance": run.state.available(run.now)}
    return ev, m, EvalContext(order.time, run.compiled.tz, run.state.history, None)


def _lower_metric(run: Run, order: OrderRecord, amount: Decimal, clawback: Decimal) -> None:
    """The refund comes off the metric of the window the order counted in."""
    model = run.compiled.model.tiers
    if model is None or order.window is None:
        return
    if model.metric == "spend":
        lowered = amount
    elif model.metric == "points_earned":
        lowered = clawback
    elif isinstance(model.metric, str):
        return  # counts are of events: a refund does not undo one
    else:
        lowered = _custom_metric_lowered(run, order, amount)
        if lowered <= 0:
            return
    tiers.hold_levels(run.compiled, run.state, order.window, run.now)  # held levels last to the month end
    run.state.put_tier("metric", order.window, run.state.tier.metric.get(order.window, ZERO) - lowered)


def _custom_metric_lowered(run: Run, order: OrderRecord, amount: Decimal) -> Decimal:
    """``{on, add}`` with ``refund`` in ``on:``: the order's ``add:`` evaluated at what was left
    to refund and at what is left after this refund; the metric drops by the difference, as
    the order's points do. A refund never raises the metric."""
    fn = run.compiled.plans[order.type].metric
    if fn is None or "refund" not in run.compiled.model.tiers.metric.on:
        return ZERO  # the order never counted, or refunds are left out of the metric
    left = order.amount - order.refunded
    try:
        # an add: that cannot be computed rejects the refund, as it rejects an order (earning.run_rule)
        before = Decimal(run_rule(fn, *_order_view(run, order, left), "tiers.metric"))
        after = Decimal(run_rule(fn, *_order_view(run, order, left - amount), "tiers.metric")) \
            if amount < left else ZERO  # refunded in full: the order counts for nothing
    except RuleFailure as exc:
        run.trace.append(Step("tiers", "metric", False, str(exc)))
        return ZERO
    return max(before - after, ZERO)


def profile(run: Run) -> None:
    """Member fields (birth date, segment, ...) change through events too: audited and idempotent."""
    for name, value in run.event.fields.items():
        run.state.put("profile", name, value)
    run.trace.append(Step("ledger", "profile", True, f"updated {', '.join(sorted(run.event.fields)) or 'nothing'}"))


HANDLERS = {
    "profile": profile,
    "refund": refund,
    "redeem": redeem,
    "redeem_reversal": redeem_reversal,
    "adjust": adjust,
    "tick": tick,
    "review_decision": review_decision,
}
