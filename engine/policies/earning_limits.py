"""Caps, budgets and rounding: the phases between stacking and the ledger.

Order (docs/semantics.md): caps on a rule, then budgets on a rule (across all
members), then caps on the member's total, then rounding. When a limit bites, the
points it removes come off the last contributions first (tier, then bonuses and
multipliers in reverse rule order, base last), and the trace says how much.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from punchcard.dsl.model import Rounding

from ..program import CapSpec, Compiled, LimitPlan, cap_key
from ..runtime.calendar import period_key
from ..runtime.decision import Effect, Step
from ..runtime.numbers import figure
from ..runtime.run import NO_TRACE
from ..runtime.state import ZERO, CapUsage, MemberState
from .earning_rules import Part

__all__ = ["ROUNDING_MODES", "LEDGER_NOTE", "round_points", "round_parts", "used_up", "apply_limits", "apply_cap",
           "clip", "record_usage", "ledger_lines", "paid", "budget_effect", "cap_key", "limit_plan", "LimitPlan",
           "CapSpec"]

ROUNDING_MODES = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}
LEDGER_NOTE = "points after stacking, caps and rounding"


def round_points(value: Decimal, mode: str, step: Decimal) -> Decimal:
    """Round to a multiple of ``step`` with the ruleset's mode; the only rounding there is."""
    if step == 1:  # the usual step, whole points: dividing by it changes nothing
        return value.to_integral_value(rounding=ROUNDING_MODES[mode]) * step
    units = (value / step).to_integral_value(rounding=ROUNDING_MODES[mode])
    return (units * step).quantize(step) if step < 1 else units * step


def limit_plan(compiled: Compiled) -> LimitPlan:
    """The ruleset's caps and budgets, worked out when it was compiled."""
    return compiled.limit_plan


def _usage(state: MemberState, spec: CapSpec, period: str, local: dt.datetime) -> CapUsage:
    current = period_key(local, period) if period != "lifetime" else 0
    usage = state.caps.get(spec.key)
    return usage if usage is not None and usage.period == current else CapUsage(current)


def _cut(parts: list[Part], excess: Decimal) -> None:
    for part in reversed(parts):
        if excess <= 0:
            return
        take = min(part.capped, excess)
        part.capped -= take
        excess -= take


def clip(parts: list[Part], limit: Decimal, label: str, trace: list[Step]) -> bool:
    """Cut ``parts`` down to ``limit``; the trace names ``label`` only when it bites."""
    total = ZERO
    for part in parts:
        total += part.capped
    if total <= limit:
        return False
    limit = max(limit, ZERO)
    _cut(parts, total - limit)
    trace.append(Step("caps", label, True, f"{figure(limit)} left of the limit: {figure(total - limit)} cut",
                      before=total, after=limit))
    return True


def _zero(parts: list[Part], label: str, note: str, trace: list[Step]) -> bool:
    total = sum((p.capped for p in parts), ZERO)
    if total <= 0:
        return False
    for part in parts:
        part.capped = ZERO
    trace.append(Step("caps", label, True, note, before=total, after=ZERO))
    return True


def used_up(spec: CapSpec, times: int, parts: list[Part], trace: list[Step]) -> bool:
    """A cap whose ``max_times`` is reached this period: ``parts`` pay nothing more."""
    return _zero(parts, spec.label, f"already paid {times} of {spec.max_times} times this {spec.period}", trace)


def apply_cap(spec: CapSpec, parts: list[Part], state: MemberState, local: dt.datetime, trace: list[Step],
              usages: dict[CapSpec, CapUsage]) -> bool:
    if spec.period is None:
        return spec.max_points is not None and clip(parts, spec.max_points, spec.label, trace)
    usage = usages[spec] = _usage(state, spec, spec.period, local)
    if spec.max_times is not None and usage.times >= spec.max_times:
        return used_up(spec, usage.times, parts, trace)
    if spec.max_points is not None:
        return clip(parts, spec.max_points - usage.points, spec.label, trace)
    return False


def _by_rule(parts: list[Part]) -> dict[str | None, list[Part]]:
    """The parts of each rule, looked up by a cap's rule (None: a cap on the total, never a part's)."""
    found: dict[str | None, list[Part]] = {}
    for part in parts:
        found.setdefault(part.rule, []).append(part)
    return found


def apply_limits(compiled: Compiled, parts: list[Part], state: MemberState, local: dt.datetime,
                 budgets_used: Mapping[str, Decimal], trace: list[Step],
                 ) -> tuple[Decimal, dict[str, tuple[Decimal, bool]]]:
    """Caps, budgets, rounding. Updates cap usage on ``state``; returns the total and, per budgeted
    rule that used its budget or was cut by it, (points used, whether the budget cut it)."""
    if not parts:  # nothing earned: no limit can bite, and nothing is rounded or used
        return ZERO, {}
    plan = compiled.limit_plan
    for part in parts:
        part.capped = part.points
    bit = False
    usages: dict[CapSpec, CapUsage] = {}
    by_rule = _by_rule(parts) if plan.rule_caps or plan.budgets else {}
    for spec in plan.rule_caps:
        targets = by_rule.get(spec.rule)
        if targets:  # a rule that did not fire uses none of its cap
            bit |= apply_cap(spec, targets, state, local, trace, usages)
    budget_parts: list[tuple[str, list[Part], bool]] = []
    for rule, max_points, label in plan.budgets:
        targets = by_rule.get(rule)
        if targets:
            clipped = clip(targets, max_points - budgets_used.get(rule, ZERO), label, trace)
            budget_parts.append((rule, targets, clipped))
            bit |= clipped
    for spec in plan.total_caps:
        bit |= apply_cap(spec, parts, state, local, trace, usages)
    total = round_parts(parts, compiled.model.rounding, bit, trace)
    if usages:
        record_usage(usages, by_rule, state, total)
    if not budget_parts:
        return total, {}
    uses = {rule: (paid(targets), clipped) for rule, targets, clipped in budget_parts}
    return total, {rule: use for rule, use in uses.items() if use[0] or use[1]}


def round_parts(parts: list[Part], rounding: Rounding, capped: bool, trace: list[Step]) -> Decimal:
    """Round per rule or per event; sets each part's ``final`` and returns the total."""
    unrounded = ZERO
    for part in parts:
        unrounded += part.capped
    if rounding.scope == "rule":
        total = ZERO
        for part in parts:
            part.final = round_points(part.capped, rounding.mode, rounding.step)
            total += part.final
    else:
        total = round_points(unrounded, rounding.mode, rounding.step)
        if capped and total > unrounded:  # rounding never lifts a capped total past its cap
            total = round_points(unrounded, "floor", rounding.step)
        _spread_rounding(parts, total - unrounded)
    if total != unrounded and trace is not NO_TRACE:
        note = f"{rounding.mode} to {figure(rounding.step)} per {rounding.scope}"
        trace.append(Step("rounding", "rounding", True, note, before=unrounded, after=total))
    return total


def _spread_rounding(parts: list[Part], delta: Decimal) -> None:
    """Per-rule figures add up to the rounded total: the difference goes to the largest part."""
    for part in parts:
        part.final = part.capped
    if not parts or not delta:
        return
    if delta > 0:
        max(parts, key=_final).final += delta
        return
    for part in sorted(parts, key=_final, reverse=True):
        if delta >= 0:
            break
        take = min(part.final, -delta)
        part.final -= take
        delta += take


def _final(part: Part) -> Decimal:
    return part.final


def paid(parts: list[Part]) -> Decimal:
    """What ``parts`` pay, after caps and rounding."""
    return sum((part.final for part in parts), ZERO)


def budget_effect(rule: str, used: Decimal, clipped: bool = False) -> Effect:
    """The points a budgeted rule took from its program budget for one event; ``clipped``
    when the budget cut them, so they depend on exactly how much of it was left."""
    return Effect("budget", used, None, {"rule": rule, "clipped": True} if clipped else {"rule": rule})


def ledger_lines(parts: list[Part], trace: list[Step]) -> None:
    """The ledger's trace line for each part: its points before and after caps and rounding."""
    if trace is NO_TRACE:
        return
    for part in parts:
        trace.append(Step("ledger", part.rule, True, LEDGER_NOTE, before=part.points, after=part.final))


def record_usage(usages: dict[CapSpec, CapUsage], by_rule: dict[str | None, list[Part]], state: MemberState,
                 total: Decimal) -> None:
    for spec, usage in usages.items():
        points = total if spec.rule is None else paid(by_rule[spec.rule])
        if points > 0:
            state.put("caps", spec.key, CapUsage(usage.period, usage.points + points, usage.times + 1))
