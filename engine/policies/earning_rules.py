"""Earning's rules: base points, then multipliers and bonuses combined as ``stacking`` says,
then the tier multiplier. Caps, budgets and rounding follow in :mod:`.earning_limits`;
:mod:`.earning` runs the phase.

Stacking (docs/semantics.md):

* ``multipliers: add``      -> base x (1 + sum(m - 1));  each rule contributes base x (m - 1)
* ``multipliers: multiply`` -> base x prod(m);  rule i contributes running x (m_i - 1), in rule order
* ``groups: best``          -> within a named group only the largest contribution counts
* bonuses add; the tier multiplier T adds base x (T - 1) (``multiplier_applies_to: base``)
  or (base + rules) x (T - 1) (``multiplier_applies_to: earned``).

A ``per_item`` rule is asked of each line of ``event.items`` and pays the lines' points added
up; rules run highest ``priority`` first, and an ``exclusive`` rule that pays stops the later
rules of its group (docs/baskets.md). Without either, rules run as written, as they always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from punchcard.dsl.functions import LINE_KEY
from punchcard.dsl.model import Stacking

from ..program import Plan, Rule
from ..runtime.context import NOT_WHEN, UNLESS, EvalContext
from ..runtime.decision import Step
from ..runtime.numbers import figure
from ..runtime.rules import FAILURES, decided_by, failure, uncomputable
from ..runtime.run import NO_TRACE, Rejected
from ..runtime.state import ZERO

__all__ = ["Part", "consider", "consider_lines", "rule_result", "earn", "stack", "multiply_step", "tier_part"]

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
    shares: dict[str, Decimal] | None = None  # a per_item rule's raw points per line (sku), docs/baskets.md


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


def consider_lines(rule: Rule, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext, trace: list[Step],
                   taken: frozenset[str] = frozenset()) -> Part | None:
    """A per_item rule, asked of each line of event.items but those in ``taken`` (an exclusive
    rule of its group paid on them): one part, its points the lines' own added up."""
    view = dict(ev)  # the event's values, and the line being asked (item.<field>)
    shares: dict[str, Decimal] = {}
    skipped = 0
    for line in ev.get("items") or ():
        if line["sku"] in taken:
            skipped += 1
            continue
        view[LINE_KEY] = line
        try:
            raw = rule.decide(view, m, ctx)
        except FAILURES as exc:
            if not isinstance(exc, KeyError):
                raise Rejected(f"{uncomputable(rule.id, exc)} (sku {line['sku']})") from None
            continue  # a missing optional field: the line does not pay
        if raw is NOT_WHEN or raw is UNLESS:
            continue
        raw = raw if type(raw) is Decimal else Decimal(raw)
        if raw >= 0:  # negative points are ignored, line by line
            shares[line["sku"]] = raw
    if trace is not NO_TRACE:
        trace.append(_lines_step(rule, shares, len(ev.get("items") or ()), skipped))
    return Part(rule.id, rule.kind, sum(shares.values(), ZERO), rule.group, shares=shares) if shares else None


_SHOWN_LINES = 20  # lines a per_item rule's trace names with their points


def _lines_step(rule: Rule, shares: dict[str, Decimal], count: int, taken: int) -> Step:
    when = f"; {rule.when_note}" if rule.when_note else ""
    if taken:  # an exclusive rule of the group won these lines first
        when += f"; {taken} line{'s' if taken != 1 else ''} taken by an exclusive rule of group {rule.group}"
    if not shares:
        return Step("earning", rule.id, False, f"per item: none of the {count} lines of event.items paid{when}")
    shown = dict(list(shares.items())[:_SHOWN_LINES])
    return Step("earning", rule.id, True, f"per item: paid on {len(shares)} of {count} lines{when}",
                {f"item {sku}": points for sku, points in shown.items()}, after=sum(shares.values(), ZERO))


def earn(plan: Plan, ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext,
         trace: list[Step]) -> tuple[Decimal, list[Part]]:
    """Base points and the rules that fired, before stacking."""
    base = ZERO
    parts: list[Part] = []
    for rule in plan.bases:
        part = consider_lines(rule, ev, m, ctx, trace) if rule.per_item else consider(rule, ev, m, ctx, trace)
        if part is not None:
            base += part.raw
            part.points = part.raw
            parts.append(part)
    if any(rule.per_item or rule.exclusive for rule in plan.rules):
        parts += ranked(plan.rules, ev, m, ctx, trace)
        return base, parts
    for rule in plan.rules:
        part = consider(rule, ev, m, ctx, trace)
        if part is not None:
            parts.append(part)
    return base, parts


def ranked(rules: list[Rule], ev: dict[str, Any], m: dict[str, Any], ctx: EvalContext,
           trace: list[Step]) -> list[Part]:
    """The rules in priority order, where an exclusive rule that pays stops the later rules of
    its group: every one of them, or (a per_item rule) those lines it paid on."""
    won: dict[str, Rule] = {}  # group -> the exclusive rule that stops the rest of it
    lines: dict[str, dict[str, Rule]] = {}  # group -> sku -> the per_item exclusive rule that paid on it
    parts: list[Part] = []
    for rule in rules:
        winner = won.get(rule.group) if rule.group is not None else None
        if winner is None and rule.group in lines and not rule.per_item:
            winner = next(iter(lines[rule.group].values()))
        if winner is not None:
            if trace is not NO_TRACE:
                trace.append(Step("earning", rule.id, False, _stopped(rule.group, winner)))
            continue
        taken = frozenset(lines.get(rule.group, ())) if rule.group is not None else frozenset()
        part = consider_lines(rule, ev, m, ctx, trace, taken) if rule.per_item else \
            consider(rule, ev, m, ctx, trace)
        if part is None:
            continue
        parts.append(part)
        if rule.exclusive and rule.group is not None:
            _claim(rule, part, won, lines, trace)
    return parts


def _claim(rule: Rule, part: Part, won: dict[str, Rule], lines: dict[str, dict[str, Rule]],
           trace: list[Step]) -> None:
    """An exclusive rule paid: the later rules of its group stop, for the lines it paid on only
    when it is a per_item rule. The trace says which rule won, and why."""
    group = rule.group
    assert group is not None  # an exclusive rule has a group (the ruleset model says so)
    if part.shares is not None:
        lines.setdefault(group, {}).update(dict.fromkeys(part.shares, rule))
        count = len(part.shares)
        scope = f"on the {count} line{'s' if count != 1 else ''} it paid on"
    else:
        won[group] = rule
        scope = "on this event"
    if trace is not NO_TRACE:
        trace.append(Step("earning", rule.id, True, f"won group {group}: exclusive at priority {rule.priority}, "
                                                    f"so the later rules of the group do not pay {scope}"))


def _stopped(group: str | None, winner: Rule) -> str:
    return f"group {group}: {winner.id} won (exclusive, priority {winner.priority}, ahead of this rule)"


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
