"""Earning's rules: base points, then multipliers and bonuses combined as ``stacking`` says,
then the tier multiplier. Caps, budgets and rounding follow in :mod:`.earning_limits`;
:mod:`.earning` runs the phase.

Stacking (docs/semantics.md):

* ``multipliers: add``      -> base x (1 + sum(m - 1));  each rule contributes base x (m - 1)
* ``multipliers: multiply`` -> base x prod(m);  rule i contributes running x (m_i - 1), in rule order
* ``groups: best``          -> within a named group only the largest contribution counts
* bonuses add; the tier multiplier T adds base x (T - 1) (``multiplier_applies_to: base``)
  or (base + rules) x (T - 1) (``multiplier_applies_to: earned``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from punchcard.dsl.model import Stacking

from ..program import Plan, Rule
from ..runtime.context import NOT_WHEN, UNLESS, EvalContext
from ..runtime.decision import Step
from ..runtime.numbers import figure
from ..runtime.rules import FAILURES, decided_by, failure, uncomputable
from ..runtime.run import NO_TRACE, Rejected
from ..runtime.state import ZERO

__all__ = ["Part", "consider", "rule_result", "earn", "stack", "multiply_step", "tier_part"]

ONE = Decimal(1)


@dataclass(slots=True)
class Part:
    """One rule's share of an event's points, followed through every phase."""

    rule: str
    kind: str  # base | multiply | bonus | tier
    raw: Decimal  # base points, the multiplier, or the bonus
    group: str | None = None
    points: Decimal = ZERO  # after stacking
    capped: Decimal = ZERO  # after caps and budgets
    final: Decimal = ZERO  # after rounding


def consider(rule: Rule, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext, trace: list[Step]) -> Part | None:
    try:
        raw = rule.decide(ev, m, ctx)  # when, unless and value in one generated function
    except FAILURES as exc:
        raw = exc
    return rule_result(rule, raw, ev, m, ctx, trace)


def rule_result(rule: Rule, raw: Any, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext,
                trace: list[Step]) -> Part | None:
    """A rule's trace line and part, given what its function returned (or the failure it raised).
    Failed arithmetic rejects the event: paying 0 for a rule that cannot be computed would
    hide the fault. A missing optional field only means the rule does not fire. Without a
    trace (``NO_TRACE``) no line is worded at all."""
    traced = trace is not NO_TRACE
    if isinstance(raw, Exception):
        if not isinstance(raw, KeyError):
            raise Rejected(uncomputable(rule.id, raw))
        if traced:
            trace.append(Step("earning", rule.id, False, failure(raw), decided_by(rule.reads, ev, m, ctx)))
        return None
    if raw is NOT_WHEN or raw is UNLESS:
        if traced:
            note = rule.when_note if raw is NOT_WHEN else "unless: matched"
            trace.append(Step("earning", rule.id, False, note, decided_by(rule.reads, ev, m, ctx)))
        return None
    if type(raw) is not Decimal:
        raw = Decimal(raw)
    if raw < 0:
        if traced:
            trace.append(Step("earning", rule.id, False, f"gave {figure(raw)}; negative points are ignored"))
        return None
    if traced:
        trace.append(Step("earning", rule.id, True, rule.when_note, decided_by(rule.reads, ev, m, ctx), after=raw))
    return Part(rule.id, rule.kind, raw, rule.group)


def earn(plan: Plan, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext,
         trace: list[Step]) -> tuple[Decimal, list[Part]]:
    """Base points and the rules that fired, before stacking."""
    base = ZERO
    parts: list[Part] = []
    for rule in plan.bases:
        part = consider(rule, ev, m, ctx, trace)
        if part is not None:
            base += part.raw
            part.points = part.raw
            parts.append(part)
    for rule in plan.rules:
        part = consider(rule, ev, m, ctx, trace)
        if part is not None:
            parts.append(part)
    return base, parts


def stack(base: Decimal, parts: list[Part], stacking: Stacking, tier_multiplier: Decimal, tier_name: str | None,
          applies_to: str, trace: list[Step]) -> list[Part]:
    """Combine fired rules into per-rule contributions; returns the parts that count."""
    kept = _best_of_groups(base, parts, stacking, trace)
    running = base
    for part in kept:
        if part.kind == "multiply":
            if stacking.multipliers == "add":
                part.points = base * (part.raw - ONE)
            else:
                part.points = running * (part.raw - ONE)
                running *= part.raw
            if trace is not NO_TRACE:
                trace.append(multiply_step(part, stacking.multipliers))
        elif part.kind == "bonus":
            part.points = part.raw
    if tier_multiplier != ONE and tier_name is not None:
        on = base if applies_to == "base" else sum((p.points for p in kept), ZERO)
        kept.append(tier_part(tier_name, tier_multiplier, on, applies_to, trace))
    return kept


def multiply_step(part: Part, mode: str) -> Step:
    """The stacking trace line of a multiplier that counts."""
    return Step("stacking", part.rule, True, f"x{figure(part.raw)} ({mode})", before=part.raw, after=part.points)


def tier_part(tier_name: str, multiplier: Decimal, on: Decimal, applies_to: str, trace: list[Step]) -> Part:
    """The tier multiplier's share: ``on`` x (T - 1), with its trace line."""
    tier = Part(f"tier:{tier_name}", "tier", multiplier, points=on * (multiplier - ONE))
    if trace is not NO_TRACE:
        trace.append(Step("tier_multiplier", tier.rule, True, f"x{figure(multiplier)} on {applies_to}",
                          before=on, after=tier.points))
    return tier


def _best_of_groups(base: Decimal, parts: list[Part], stacking: Stacking, trace: list[Step]) -> list[Part]:
    if stacking.groups != "best":
        return list(parts)
    best: dict[str, Part] = {}
    for part in parts:
        if part.group is None:
            continue
        if part.group not in best or _worth(base, part) > _worth(base, best[part.group]):
            best[part.group] = part
    kept: list[Part] = []
    for part in parts:
        if part.group is None or best[part.group] is part:
            kept.append(part)
        else:
            winner = best[part.group]
            trace.append(Step("stacking", part.rule, False, f"group {part.group}: {winner.rule} is worth more"))
    return kept


def _worth(base: Decimal, part: Part) -> Decimal:
    return base * (part.raw - ONE) if part.kind == "multiply" else part.raw
