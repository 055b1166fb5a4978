"""Earning: what an event's rules pay, from the base through stacking, the tier multiplier,
caps, budgets and rounding (docs/semantics.md).

This module runs the earning phase of an event (:func:`on_event`) and re-prices an
order for a refund (:func:`reprice`). The rules and stacking are in
:mod:`.earning_rules`; caps, budgets and rounding in :mod:`.earning_limits`. Earning has
no deadlines and no housekeeping of its own: the caps' periods roll over when read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..program import Compiled, Plan
from ..runtime.context import EvalContext
from ..runtime.decision import Step
from ..runtime.numbers import MAX_POINTS, figure
from ..runtime.run import Rejected, Run
from ..runtime.state import OrderRecord
from .baskets import basket_of, line_points
from .earning_limits import apply_limits, budget_effect, ledger_lines, round_parts
from .earning_rules import Part, earn, stack
from .offers import paid_on
from .scoring import MemberScores, reads_segment

__all__ = ["on_event", "price", "reprice", "at_most_max"]

_ONE = Decimal(1)


def on_event(run: Run, plan: Plan) -> None:
    """The points the event's rules give (``run.earned``), unless a gate forbids them."""
    if run.no_points:
        run.trace.append(Step("earning", "compliance", False, "a compliance rule forbids points for this event"))
        return
    ev, m, ctx = run.values(), run.member_view(), run.context()
    kept = price(run.compiled, plan, ev, m, ctx, m["tier"], run.trace)
    total, uses = apply_limits(run.compiled, kept, run.state, run.now, run.budgets_used, run.trace)
    ledger_lines(kept, run.trace)
    lines = basket_of(ev)
    if lines:  # which line earned what, kept with the order for a refund naming items
        run.lines = line_points(kept, lines, run.compiled.model.rounding.step)
    run.effects += [budget_effect(rule, used, clipped) for rule, (used, clipped) in uses.items()]
    at_most_max(total)
    run.earned = total


def price(compiled: Compiled, plan: Plan, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext,
          tier_name: str | None, trace: list[Step]) -> list[Part]:
    """Earning, stacking and the tier multiplier of ``tier_name``: every part, before caps."""
    base, parts = earn(plan, ev, m, ctx, trace)
    tiers_model = compiled.model.tiers
    multiplier = compiled.tier_multipliers.get(tier_name, _ONE)
    applies_to = tiers_model.multiplier_applies_to if tiers_model else "base"
    return stack(base, parts, compiled.model.earning.stacking, multiplier, tier_name, applies_to, trace)


def reprice(run: Run, order: OrderRecord, amount: Decimal) -> Decimal:
    """The order's points had it been for ``amount``: same time, same tier, same rules.
    Caps are not applied again: the order keeps at most what it got."""
    compiled = run.compiled
    plan = compiled.plans[order.type]
    ev, m, ctx = order_view(run, order, amount)
    scratch: list[Step] = []
    kept = price(compiled, plan, ev, m, ctx, order.tier, scratch)
    for part in kept:
        part.capped = part.points
    return round_parts(kept, compiled.model.rounding, False, scratch)


def order_view(run: Run, order: OrderRecord, amount: Decimal) -> tuple[dict[str, Any], dict[str, Any], EvalContext]:
    """What the rules saw of the order, as if it had been for ``amount``: same time, same tier,
    and the offers whose granted rules paid on it (their own conditions are asked again)."""
    ev = {**dict(order.fields), "amount": amount, "id": order.id, "type": order.type,
          "member": run.state.member_id, "time": order.time}
    m = {**run.state.profile, "id": run.state.member_id, "tier": order.tier, "balance": run.state.available(run.now)}
    ctx = EvalContext(order.time, run.compiled.tz, run.state.history, None)
    ctx.active_offers = paid_on(run.compiled, run.state, order.id)  # the offers that paid on it pay again
    if run.compiled.scorers:  # a rule that read score("NAME") reads it again, as the member stands now
        ctx.scorer = MemberScores(run.compiled, run.state, order.time)
        if reads_segment(run.compiled):
            m["segment"] = ctx.scorer.segment()
    return ev, m, ctx


def at_most_max(points: Decimal) -> None:
    """One event earns at most MAX_POINTS: past it, the event is refused rather than cut."""
    if points > MAX_POINTS:
        raise Rejected(f"this event would earn {figure(points)} points, more than the "
                       f"{MAX_POINTS:,f} one event may earn")
