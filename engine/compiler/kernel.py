"""Earning through rounding for one event type, written out as one generated function.

The plain path (``evaluate._earn_points``: :func:`.earning.earn`, :func:`.earning.stack`,
:func:`.limits.apply_limits`) is general: it loops over every rule, groups the parts by
rule, and asks every cap and budget whether it applies. It is the reference. For each
event type the compiler also writes that path out for the type's own rules, caps and
budgets: one function with a few lines per rule, and only the limits that can apply.

It does the same steps in the same order. The usual outcomes are written inline: a rule
that fires, misses or is excluded by ``unless``; a cap or budget that does not bite;
rounding that changes nothing. Anything else (a rule that fails or gives negative
points, a limit that bites, rounding that moves the total) calls the plain path's own
helper, so the rules of arithmetic and the wording of the trace live in one place. Tests
run both paths on the same events and compare every decision and state.

Only our own plan reaches the source: rule ids, field names, labels and notes are read
from a table of constants (``_c[3]``), never written into it, and the module runs with
no builtins. An event type whose rules compete in a ``best`` group keeps the plain path.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any, Callable

from ..policies.earning import (
    FAILURES,
    ONE,
    Part,
    multiply_step,
    rule_result,
    tier_part,
)
from ..policies.earning_limits import limit_plan
from ..runtime.decision import Step
from ..runtime.state import ZERO
from .codegen import NOT_WHEN, UNLESS
from .kernel_limits import HELPERS as LIMIT_HELPERS
from .kernel_limits import Writer, write_limits

__all__ = ["build_kernel", "kernel_source", "covers"]


def covers(compiled, plan) -> bool:
    """Can this plan be written out? Not when rules compete in a ``best`` group (the plain
    path picks the winner), nor when a budget is named twice, nor a cap names a tier."""
    stacking = compiled.model.earning.stacking
    groups = Counter(rule.group for rule in plan.rules if rule.group is not None)
    if stacking.groups == "best" and any(count > 1 for count in groups.values()):
        return False
    limits = limit_plan(compiled)
    budget_rules = [rule for rule, _, _ in limits.budgets]
    if len(set(budget_rules)) != len(budget_rules):
        return False
    return not any(spec.rule.startswith("tier:") for spec in limits.rule_caps)


def kernel_source(compiled, plan) -> tuple[str, list[Any]] | None:
    """The generated function's source and its constants; None when the plan is not covered."""
    if not covers(compiled, plan):
        return None
    out = Writer()
    out.add(0, "def kernel(run):")
    out.add(1, "ev, m, ctx = run.values(), run.member_view(), run.context()")
    out.add(1, "trace = run.trace")
    out.add(1, "lets = ctx.lets")
    names = _earning(out, plan)
    _stacking(out, compiled, plan, names)
    _tier(out, compiled)
    write_limits(out, compiled, names)
    return "\n".join(out.lines) + "\n", out.consts


def _earning(out: Writer, plan) -> list[tuple[str, Any]]:
    """A few lines per rule, bases first, as :func:`.earning.earn` considers them."""
    out.add(1, "base = ZERO")
    out.add(1, "kept = []")
    names = []
    for index, rule in enumerate(plan.bases + plan.rules):
        name = f"p{index}"
        names.append((name, rule))
        _consider(out, rule, name)
        out.add(1, f"if {name} is not None:")
        if index < len(plan.bases):
            out.add(2, f"base += {name}.raw")
            out.add(2, f"{name}.points = {name}.raw")
        out.add(2, f"kept.append({name})")
    return names


def _consider(out: Writer, rule, name: str) -> None:
    """:func:`.earning.consider` for one rule: the usual outcomes inline, the rest through
    :func:`.earning.rule_result`, which words every trace line the same way."""
    rule_id = out.const(rule.id)
    out.add(1, "try:")
    out.add(2, f"raw = {out.const(rule.decide)}(ev, m, ctx)")
    out.add(1, "except FAILURES as exc:")
    out.add(2, "raw = exc")
    _decided_by(out, rule.reads)
    out.add(1, "if raw.__class__ is Decimal and raw >= 0:")
    out.add(2, f"trace.append(Step('earning', {rule_id}, True, {out.const(rule.when_note)}, values, None, raw))")
    out.add(2, f"{name} = Part({rule_id}, {out.const(rule.kind)}, raw, {out.const(rule.group)})")
    out.add(1, "elif raw is NOT_WHEN:")
    out.add(2, f"trace.append(Step('earning', {rule_id}, False, {out.const(rule.when_note)}, values))")
    out.add(2, f"{name} = None")
    out.add(1, "elif raw is UNLESS:")
    out.add(2, f"trace.append(Step('earning', {rule_id}, False, 'unless: matched', values))")
    out.add(2, f"{name} = None")
    out.add(1, "else:")
    out.add(2, f"{name} = rule_result({out.const(rule)}, raw, ev, m, ctx, trace)")


def _decided_by(out: Writer, reads) -> None:
    """``values``: :func:`.earning.decided_by` of ``reads``, key for key in the same order."""
    literal = []
    for position, (root, name, label) in enumerate(reads):
        if root not in ("event", "member"):
            break
        literal.append(f"{out.const(label)}: {'ev' if root == 'event' else 'm'}.get({out.const(name)})")
    else:
        position = len(reads)
    out.add(1, f"values = {{{', '.join(literal)}}}")
    for root, name, label in reads[position:]:
        if root in ("event", "member"):
            out.add(1, f"values[{out.const(label)}] = {'ev' if root == 'event' else 'm'}.get({out.const(name)})")
        else:
            out.add(1, f"if {out.const(name)} in lets:")
            out.add(2, f"values[{out.const(label)}] = lets[{out.const(name)}]")


def _stacking(out: Writer, compiled, plan, names) -> None:
    """Multipliers and bonuses, in rule order, as :func:`.earning.stack` combines them."""
    mode = compiled.model.earning.stacking.multipliers
    if mode == "multiply" and any(rule.kind == "multiply" for _, rule in names):
        out.add(1, "running = base")
    for name, rule in names[len(plan.bases):]:
        out.add(1, f"if {name} is not None:")
        if rule.kind == "bonus":
            out.add(2, f"{name}.points = {name}.raw")
            continue
        if mode == "add":
            out.add(2, f"{name}.points = base * ({name}.raw - ONE)")
        else:
            out.add(2, f"{name}.points = running * ({name}.raw - ONE)")
            out.add(2, f"running *= {name}.raw")
        out.add(2, f"trace.append(multiply_step({name}, {out.const(mode)}))")


def _tier(out: Writer, compiled) -> None:
    """The tier multiplier, when a level has one: on the base, or on everything earned."""
    if not any(value != ONE for value in compiled.tier_multipliers.values()):
        return
    applies_to = compiled.model.tiers.multiplier_applies_to
    out.add(1, "tier_name = m['tier']")
    out.add(1, f"multiplier = {out.const(compiled.tier_multipliers)}.get(tier_name, ONE)")
    out.add(1, "if multiplier != ONE and tier_name is not None:")
    if applies_to == "base":
        out.add(2, "on = base")
    else:
        out.add(2, "on = ZERO")
        out.add(2, "for part in kept:")
        out.add(3, "on += part.points")
    out.add(2, f"kept.append(tier_part(tier_name, multiplier, on, {out.const(applies_to)}, trace))")


_HELPERS = {"rule_result": rule_result, "multiply_step": multiply_step, "tier_part": tier_part, "Part": Part,
            "Step": Step, "Decimal": Decimal, "FAILURES": FAILURES, "NOT_WHEN": NOT_WHEN, "UNLESS": UNLESS,
            "ZERO": ZERO, "ONE": ONE, **LIMIT_HELPERS}


def build_kernel(compiled, plan) -> Callable | None:
    """The event type's earning, stacking, tier multiplier, caps, budgets and rounding as one
    function of a :class:`.run.Run`, returning the points; None keeps the plain path."""
    written = kernel_source(compiled, plan)
    if written is None:
        return None
    source, consts = written
    namespace: dict[str, Any] = {"__builtins__": {}, "_c": consts, **_HELPERS}
    code = compile(source, f"<punchcard kernel {plan.event_type}>", "exec")
    exec(code, namespace)  # noqa: S102 - source written above from the compiled plan only
    return namespace["kernel"]
