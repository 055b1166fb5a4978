"""Caps, budgets and rounding: the phases between stacking and the ledger.

Order (docs/semantics.md): caps on a rule, then budgets on a rule (across all
members), then caps on the member's total, then rounding. When a limit bites, the
points it removes come off the last contributions first (tier, then bonuses and
multipliers in reverse rule order, base last), and the trace says how much.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Mapping

from .calendar import period_key
from .decision import Step
from .earning import Part
from .state import ZERO, CapUsage, MemberState

__all__ = ["round_points", "round_parts", "apply_limits", "cap_key"]

_MODES = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


def round_points(value: Decimal, mode: str, step: Decimal) -> Decimal:
    """Round to a multiple of ``step`` with the ruleset's mode; the only rounding there is."""
    units = (value / step).to_integral_value(rounding=_MODES[mode])
    return (units * step).quantize(step) if step < 1 else units * step


def cap_key(index: int) -> str:
    return f"cap:{index}"


def _usage(state: MemberState, index: int, cap, local: dt.datetime) -> CapUsage:
    current = period_key(local, cap.period) if cap.period != "lifetime" else 0
    usage = state.caps.get(cap_key(index))
    return usage if usage is not None and usage.period == current else CapUsage(current)


def _cut(parts: list[Part], excess: Decimal) -> None:
    for part in reversed(parts):
        if excess <= 0:
            return
        take = min(part.capped, excess)
        part.capped -= take
        excess -= take


def _clip(parts: list[Part], limit: Decimal, what, trace: list[Step]) -> bool:
    """Cut ``parts`` down to ``limit``. ``what`` is a cap, or a label; named only when it bites."""
    total = ZERO
    for part in parts:
        total += part.capped
    if total <= limit:
        return False
    limit = max(limit, ZERO)
    _cut(parts, total - limit)
    label = what if isinstance(what, str) else _label(what)
    trace.append(Step("caps", label, True, f"{limit} left of the limit: {total - limit} cut", before=total,
                      after=limit))
    return True


def _zero(parts: list[Part], label: str, note: str, trace: list[Step]) -> bool:
    total = sum((p.capped for p in parts), ZERO)
    if total <= 0:
        return False
    for part in parts:
        part.capped = ZERO
    trace.append(Step("caps", label, True, note, before=total, after=ZERO))
    return True


def _label(cap) -> str:
    return f"cap:{cap.rule or 'total'}/{cap.period}"


def _apply_cap(index: int, cap, parts: list[Part], state: MemberState, local, trace, usages: dict) -> bool:
    if cap.per == "event" or cap.period == "event":
        return cap.max_points is not None and _clip(parts, cap.max_points, cap, trace)
    usage = usages[index] = _usage(state, index, cap, local)
    if cap.max_times is not None and usage.times >= cap.max_times:
        return _zero(parts, _label(cap), f"already paid {usage.times} of {cap.max_times} times this {cap.period}",
                     trace)
    if cap.max_points is not None:
        return _clip(parts, cap.max_points - usage.points, cap, trace)
    return False


def apply_limits(compiled, parts: list[Part], state: MemberState, local: dt.datetime,
                 budgets_used: Mapping[str, Decimal], trace: list[Step]) -> tuple[Decimal, dict[str, Decimal]]:
    """Caps, budgets, rounding. Updates cap usage on ``state``; returns the total and budget uses."""
    earning, rounding = compiled.model.earning, compiled.model.rounding
    for part in parts:
        part.capped = part.points
    bit = False
    usages: dict[int, CapUsage] = {}
    for index, cap in enumerate(earning.caps):
        if cap.rule is not None:
            targets = [p for p in parts if p.rule == cap.rule]
            if targets:  # a rule that did not fire uses none of its cap
                bit |= _apply_cap(index, cap, targets, state, local, trace, usages)
    budget_parts: dict[str, list[Part]] = {}
    for budget in earning.budgets:
        targets = [p for p in parts if p.rule == budget.rule]
        if targets:
            left = budget.max_points - budgets_used.get(budget.rule, ZERO)
            bit |= _clip(targets, left, f"budget:{budget.rule}", trace)
            budget_parts[budget.rule] = targets
    for index, cap in enumerate(earning.caps):
        if cap.rule is None and parts:
            bit |= _apply_cap(index, cap, parts, state, local, trace, usages)
    total = round_parts(parts, rounding, bit, trace)
    _record_usage(earning.caps, parts, state, total, usages)
    uses = {rule: sum((p.final for p in targets), ZERO) for rule, targets in budget_parts.items()}
    return total, {rule: used for rule, used in uses.items() if used}


def round_parts(parts: list[Part], rounding, capped: bool, trace: list[Step]) -> Decimal:
    """Round per rule or per event; sets each part's ``final`` and returns the total."""
    if rounding.scope == "rule":
        for part in parts:
            part.final = round_points(part.capped, rounding.mode, rounding.step)
        total = sum((p.final for p in parts), ZERO)
        unrounded = sum((p.capped for p in parts), ZERO)
    else:
        unrounded = sum((p.capped for p in parts), ZERO)
        total = round_points(unrounded, rounding.mode, rounding.step)
        if capped and total > unrounded:  # rounding never lifts a capped total past its cap
            total = round_points(unrounded, "floor", rounding.step)
        _spread_rounding(parts, total - unrounded)
    if total != unrounded:
        trace.append(Step("rounding", "rounding", True, f"{rounding.mode} to {rounding.step} per {rounding.scope}",
                          before=unrounded, after=total))
    return total


def _spread_rounding(parts: list[Part], delta: Decimal) -> None:
    """Per-rule figures add up to the rounded total: the difference goes to the largest part."""
    for part in parts:
        part.final = part.capped
    if parts and delta > 0:
        max(parts, key=lambda p: p.final).final += delta
    for part in sorted(parts, key=lambda p: p.final, reverse=True):
        if delta >= 0:
            break
        take = min(part.final, -delta)
        part.final -= take
        delta += take


def _record_usage(caps, parts: list[Part], state: MemberState, total: Decimal, usages: dict) -> None:
    for index, usage in usages.items():
        cap = caps[index]
        points = total if cap.rule is None else sum((p.final for p in parts if p.rule == cap.rule), ZERO)
        if points > 0:
            state.caps[cap_key(index)] = CapUsage(usage.period, usage.points + points, usage.times + 1)
