"""What the points lifecycle does to an event: the ledger phase of an analyst event (its
points become a lot, an order is remembered for refunds), and the built-in events that
move points: refund, redeem, redeem_reversal, adjust, profile and tick."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ...program import Plan
from ...runtime import calendar
from ...runtime.decision import Effect, Step
from ...runtime.numbers import figure
from ...runtime.run import Rejected, Run
from ...runtime.state import ZERO, OrderRecord, Redemption
from .. import baskets, rewards, tiers
from ..baskets import Line
from ..earning import order_view, reprice
from ..gates import gate_builtin
from . import lots as ledger
from .upkeep import note_activity, schedule_prune

__all__ = ["HANDLERS", "on_event"]

_NAMED_LINES = 5  # returned lines a refund's trace names


def redeem(run: Run) -> None:
    gate_builtin(run)
    points, record, why = rewards.priced(run)  # the event's points, a reward's price, or an order's share
    if points <= 0:
        raise Rejected("points to redeem must be more than 0")
    if run.event.id in run.state.redemptions:
        raise Rejected(f"redemption {run.event.id} already exists")
    try:
        run.effects += ledger.redeem(run.state, run.event.id, points, run.now, **record)
    except ledger.Shortfall as exc:
        raise Rejected(str(exc)) from None
    run.effects += rewards.drawn(run, points, record)
    run.points -= points
    schedule_prune(run.compiled, run.state, run.now)
    run.trace.append(Step("ledger", "redeem", True, f"{figure(points)} points, earliest expiry first{why}",
                          after=-points))
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
    returned = sum((e.points for e in effects if e.kind == "reverse" and e.points is not None), ZERO)
    run.points += returned
    run.trace.append(Step("ledger", "redeem_reversal", True,
                          f"{figure(returned)} of {figure(redemption.points)} points returned to their lots",
                          after=returned))
    run.effects += rewards.restock(run, redemption)


def _paid_in_points(run: Run, order_id: str) -> Redemption | None:
    """The redemption that paid part of the order in points, within the refund window."""
    paid = rewards.paid_order(run.state.redemptions, order_id)
    return None if paid is None or _past_window(run, paid.time) else paid


def _refund_paid_only(run: Run, order_id: str, amount: Decimal) -> None:
    """A refund of an order that earned nothing here: one paid in part with points gives them back."""
    paid = _paid_in_points(run, order_id)
    if paid is None:
        raise Rejected(f"unknown order {order_id!r}: it was never earned on, or is older than the refund window "
                       f"({run.compiled.model.points.refunds.window})")
    left = (paid.amount or ZERO) - paid.refunded
    if amount <= 0 or amount > left:
        raise Rejected(f"refund of {figure(amount)} is more than the {figure(left)} still refundable "
                       f"on order {paid.order}")
    rewards.refund_points(run, paid, amount)


def _points_back(run: Run, order_id: str, amount: Decimal) -> None:
    """The points that paid part of a refunded order go back to their lots."""
    paid = _paid_in_points(run, order_id)
    if paid is not None:
        rewards.refund_points(run, paid, amount)


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


def _past_window(run: Run, moment: dt.datetime) -> bool:
    """The refund window, measured to the member's clock: the later of this event's time and
    the latest the member has seen. Housekeeping forgets a record only once it is past the
    window at that clock, so a late refund gets the same answer whether or not it was."""
    window = run.compiled.model.points.refunds.window
    clock = run.state.clock
    latest = run.now if clock is None or clock < run.now else clock
    return calendar.add(moment, window.amount, window.unit, run.compiled.tz) <= latest


def refund(run: Run) -> None:
    gate_builtin(run)
    order_id, amount = run.event.fields["order"], run.event.fields["amount"]
    order = run.state.orders.get(order_id)
    if order is not None and _past_window(run, order.time):
        order = None  # past the refund window, even if housekeeping has not forgotten it yet
    if order is None:  # unknown to earning: an order paid in part with points, or no order at all
        return _refund_paid_only(run, order_id, amount)
    left = order.amount - order.refunded
    if amount <= 0 or amount > left:
        raise Rejected(f"refund of {figure(amount)} is more than the {figure(left)} still refundable "
                       f"on order {order_id}")
    clawback, lines, note = _clawback(run, order, amount, left)
    if run.compiled.model.points.refunds.clawback == "none":
        clawback = ZERO
    _take_back(run, order_id, clawback)
    run.trace.append(Step("ledger", "refund", True, note, before=order.points, after=order.points - clawback))
    run.state.put("orders", order_id, OrderRecord(
        order.id, order.type, order.time, order.fields, order.amount, order.points - clawback,
        order.refunded + amount, order.tier, order.window, lines))
    tiers.on_refund(run, order, amount, clawback, lambda at: order_view(run, order, at))
    _points_back(run, order_id, amount)


def _take_back(run: Run, order_id: str, clawback: Decimal) -> None:
    """Claw ``clawback`` points back from the order's lots (and the balance, as the ruleset allows)."""
    if clawback > 0:
        allow = run.compiled.model.points.refunds.negative_balance == "allow"
        try:
            run.effects += ledger.claw_back(run.state, order_id, clawback, run.now, allow)
        except ledger.Shortfall:
            raise Rejected(f"clawing back {figure(clawback)} points would make the balance negative") from None
    run.points -= clawback


def _clawback(run: Run, order: OrderRecord, amount: Decimal, left: Decimal) -> tuple[Decimal, tuple[Line, ...], str]:
    """The points a refund takes back, the order's lines after it, and the trace's note. The
    order is re-evaluated on what it keeps (docs/baskets.md): its amount less the refund, and
    for an order with lines, the lines not returned; it never keeps more than it holds."""
    returned = run.event.fields.get("items")
    if returned:
        return _items_clawback(run, order, returned, left - amount)
    if order.lines and amount < left:
        raise Rejected(f"order {order.id} has line items: name the items returned "
                       "(a refund of the whole amount left returns every line)")
    # an order refunded in full keeps nothing: its rules are not asked what 0 would have earned
    new_points = min(reprice(run, order, left - amount), order.points) if amount < left else ZERO
    lines = tuple((sku, 0, ZERO) for sku, _units, _points in order.lines)  # in full: every line is returned
    return order.points - new_points, lines, f"order {order.id} re-evaluated at {figure(left - amount)}"


def _items_clawback(run: Run, order: OrderRecord, returned: tuple[dict[str, Any], ...],
                    rest: Decimal) -> tuple[Decimal, tuple[Line, ...], str]:
    """A refund naming items: the order re-evaluated on the lines it keeps, at the amount left."""
    model = run.compiled.model
    lines, basket = baskets.kept_basket(order, returned, model.money_places)
    new_points = ZERO  # an order with no units left keeps nothing, whatever its amount
    if basket:
        fields = tuple((key, basket if key == "items" else value) for key, value in order.fields)
        new_points = min(reprice(run, replace(order, fields=fields), rest), order.points)
    skus = ", ".join(f"{line.get('quantity', 'all')} x {line['sku']}" for line in returned[:_NAMED_LINES])
    note = (f"order {order.id} re-evaluated on the lines kept after the items returned ({skus}): "
            f"{figure(order.points - new_points)} points back")
    return order.points - new_points, baskets.reshared(lines, new_points, model.rounding.step), note


def on_event(run: Run, plan: Plan) -> None:
    """The ledger phase: the points earned become a lot (held if a gate holds the event),
    and an order is remembered so a refund can re-price it."""
    earned = run.earned
    if earned > 0:
        run.effects += ledger.add_lot(run.compiled, run.state, run.event.id, "earn", earned, run.now,
                                      order=run.event.id, hold=run.hold)
        run.points += earned
    if plan.is_order:
        _record_order(run, earned)
    note_activity(run.compiled, run.state, run.event.type, run.now)


def _record_order(run: Run, points: Decimal) -> None:
    event, state = run.event, run.state
    window = tiers.order_window(run.compiled, state, run.now)
    # the tier the rules saw: it only changes in a later phase
    tier = run.member["tier"] if run.member is not None else tiers.current_name(run.compiled, state)
    schedule_prune(run.compiled, state, event.time)
    lines = run.lines or baskets.unearned(baskets.basket_of(event.fields))  # which line earned what
    state.put("orders", event.id, OrderRecord(
        event.id, event.type, event.time, tuple(event.fields.items()), event.fields["amount"], points, ZERO,
        tier, window, lines))


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
}
