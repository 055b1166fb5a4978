"""Earning through rounding for one event type, written out as one generated function.

The plain path (``evaluate._earn_points``: :func:`.earning.earn`, :func:`.earning.stack`,
:func:`.limits.apply_limits`) is general: it loops over every rule, groups the parts by
rule, and asks every cap and budget whether it applies. It is the reference. For each
event type the compiler also writes that path out for the type's own rules, caps and
budgets: one function with a line per rule, and only the limits that can apply to it.
It does the same steps in the same order and uses the plain path's helpers for every
rule of arithmetic (a rule's value and trace, a cap that bites, rounding, recording
usage), so the two paths agree by construction; tests run both on the same events and
compare every decision and state.

Only our own plan reaches the source: rule ids, labels and notes are read from a table
of constants (``_c[3]``), never written into it, and the module runs with no builtins.
An event type whose rules compete in a ``best`` group keeps the plain path.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from .earning import ONE, consider, multiply_step, tier_part
from .limits import apply_cap, budget_effect, clip, ledger_lines, limit_plan, paid, record_usage, round_parts
from .state import ZERO

__all__ = ["build_kernel", "kernel_source", "covers"]


class _Writer:
    """Lines of source, and the constants they refer to by index."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: list[Any] = []

    def const(self, value: Any) -> str:
        for index, known in enumerate(self.consts):
            if known is value:
                return f"_c[{index}]"
        self.consts.append(value)
        return f"_c[{len(self.consts) - 1}]"

    def add(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)


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
    out = _Writer()
    out.add(0, "def kernel(run):")
    out.add(1, "ev, m, ctx = run.values(), run.member_view(), run.context()")
    out.add(1, "trace = run.trace")
    names = _earning(out, plan)
    _stacking(out, compiled, plan, names)
    _tier(out, compiled)
    _limits(out, compiled, plan, names)
    return "\n".join(out.lines) + "\n", out.consts


def _earning(out: _Writer, plan) -> list[tuple[str, Any]]:
    """One line per rule, bases first, as :func:`.earning.earn` considers them."""
    out.add(1, "base = ZERO")
    out.add(1, "kept = []")
    names = []
    for index, rule in enumerate(plan.bases + plan.rules):
        name = f"p{index}"
        names.append((name, rule))
        out.add(1, f"{name} = consider({out.const(rule)}, ev, m, ctx, trace)")
        out.add(1, f"if {name} is not None:")
        if index < len(plan.bases):
            out.add(2, f"base += {name}.raw")
            out.add(2, f"{name}.points = {name}.raw")
        out.add(2, f"kept.append({name})")
    return names


def _stacking(out: _Writer, compiled, plan, names) -> None:
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


def _tier(out: _Writer, compiled) -> None:
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


def _limits(out: _Writer, compiled, plan, names) -> None:
    """Caps on a rule, budgets, caps on the total, rounding, as :func:`.limits.apply_limits`,
    then the ledger's trace line for each part and the budgets' effects, as ``_earn_points``."""
    limits = limit_plan(compiled)
    out.add(1, "if not kept:")
    out.add(2, "return ZERO")
    out.add(1, "for part in kept:")
    out.add(2, "part.capped = part.points")
    targets = _targets(out, limits, names)
    rule_caps = [spec for spec in limits.rule_caps if spec.rule in targets]
    counted = bool(rule_caps or limits.total_caps)  # caps whose usage is kept on the member
    out.add(1, "bit = False")
    if counted:
        out.add(1, "usages = {}")
        out.add(1, "state, local = run.state, run.now")
    _caps_and_budgets(out, limits, targets, rule_caps)
    out.add(1, f"total = round_parts(kept, {out.const(compiled.model.rounding)}, bit, trace)")
    if counted:
        capped = ", ".join(f"{out.const(spec.rule)}: {targets[spec.rule]}" for spec in rule_caps)
        out.add(1, "if usages:")
        out.add(2, f"record_usage(usages, {{{capped}}}, state, total)")
    out.add(1, "ledger_lines(kept, trace)")
    _budget_effects(out, limits, targets)
    out.add(1, "return total")


def _caps_and_budgets(out: _Writer, limits, targets: dict[str, str], rule_caps) -> None:
    """Only the limits that can apply: a rule's own, when the rule fired."""
    for spec in rule_caps:
        out.add(1, f"if {targets[spec.rule]}:")
        out.add(2, f"bit |= apply_cap({out.const(spec)}, {targets[spec.rule]}, state, local, trace, usages)")
    for rule, max_points, label in limits.budgets:
        if rule in targets:
            out.add(1, f"if {targets[rule]}:")
            out.add(2, f"bit |= clip({targets[rule]}, {out.const(max_points)} - run.budgets_used.get("
                       f"{out.const(rule)}, ZERO), {out.const(label)}, trace)")
    for spec in limits.total_caps:
        out.add(1, f"bit |= apply_cap({out.const(spec)}, kept, state, local, trace, usages)")


def _targets(out: _Writer, limits, names) -> dict[str, str]:
    """For each rule a rule cap or a budget names and this event type has: a variable holding
    the parts of that rule that fired, in rule order."""
    found = {}
    named = [spec.rule for spec in limits.rule_caps] + [rule for rule, _, _ in limits.budgets]
    for rule_id in dict.fromkeys(named):
        parts = [name for name, rule in names if rule.id == rule_id]
        if parts:
            found[rule_id] = f"t{len(found)}"
            out.add(1, f"{found[rule_id]} = [part for part in ({', '.join(parts)},) if part is not None]")
    return found


def _budget_effects(out: _Writer, limits, targets: dict[str, str]) -> None:
    for rule, _, _ in limits.budgets:
        if rule in targets:
            out.add(1, f"if {targets[rule]}:")
            out.add(2, f"used = paid({targets[rule]})")
            out.add(2, "if used:")
            out.add(3, f"run.effects.append(budget_effect({out.const(rule)}, used))")


_HELPERS = {"consider": consider, "apply_cap": apply_cap, "clip": clip, "round_parts": round_parts,
            "record_usage": record_usage, "ledger_lines": ledger_lines, "multiply_step": multiply_step,
            "tier_part": tier_part, "paid": paid, "budget_effect": budget_effect, "ZERO": ZERO, "ONE": ONE}


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
