"""The kernel's caps, budgets, rounding and ledger lines (see :mod:`engine.kernel`).

Written in the order :func:`.limits.apply_limits` applies them: caps on a rule, budgets,
caps on the total, rounding; then the usage the caps keep, the ledger's trace line for
each part and the budgets' effects, as ``evaluate._earn_points`` adds them. A limit is
checked inline; when it bites, the plain path's helper cuts the parts and writes the
trace line.
"""

from __future__ import annotations

from typing import Any

from ..policies.earning_limits import (
    LEDGER_NOTE,
    ROUNDING_MODES,
    budget_effect,
    clip,
    limit_plan,
    paid,
    round_parts,
    used_up,
)
from ..runtime.calendar import period_key
from ..runtime.state import ZERO, CapUsage

__all__ = ["Writer", "write_limits", "HELPERS"]


class Writer:
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


def write_limits(out: Writer, compiled, names) -> None:
    limits = limit_plan(compiled)
    out.add(1, "if not kept:")
    out.add(2, "return ZERO")
    out.add(1, "for part in kept:")
    out.add(2, "part.capped = part.points")
    targets = _targets(out, limits, names)
    rule_caps = [spec for spec in limits.rule_caps if spec.rule in targets]
    counted = [spec for spec in rule_caps + list(limits.total_caps) if spec.period is not None]
    out.add(1, "bit = False")
    if counted:
        out.add(1, "state, local = run.state, run.now")
    for spec in rule_caps:
        out.add(1, f"if {targets[spec.rule]}:")
        _cap(out, spec, targets[spec.rule], 2)
    for rule, max_points, label in limits.budgets:
        if rule in targets:
            out.add(1, f"if {targets[rule]}:")
            limit = f"{out.const(max_points)} - run.budgets_used.get({out.const(rule)}, ZERO)"
            _clip(out, targets[rule], limit, label, 2)
    for spec in limits.total_caps:
        _cap(out, spec, "kept", 1)
    _rounding(out, compiled.model.rounding)
    _usage(out, counted, targets)
    out.add(1, "for part in kept:")
    out.add(2, "trace.append(Step('ledger', part.rule, True, LEDGER_NOTE, {}, part.points, part.final))")
    _budget_effects(out, limits, targets)
    out.add(1, "return total")


def _targets(out: Writer, limits, names) -> dict[str, str]:
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


def _cap(out: Writer, spec, parts: str, indent: int) -> None:
    """:func:`.limits.apply_cap`: the member's usage this period (kept in ``used<i>`` and
    ``times<i>`` for :func:`_usage`), then the cap on times or on points."""
    if spec.period is None:
        if spec.max_points is not None:
            _clip(out, parts, out.const(spec.max_points), spec.label, indent)
        return
    i = spec.index
    now = "0" if spec.period == "lifetime" else f"period_key(local, {out.const(spec.period)})"
    out.add(indent, f"key{i} = {now}")
    out.add(indent, f"usage = state.caps.get({out.const(spec.key)})")
    out.add(indent, f"if usage is not None and usage.period == key{i}:")
    out.add(indent + 1, f"used{i}, times{i} = usage.points, usage.times")
    out.add(indent, "else:")
    out.add(indent + 1, f"used{i}, times{i} = ZERO, 0")
    if spec.max_times is not None:
        out.add(indent, f"if times{i} >= {out.const(spec.max_times)}:")
        out.add(indent + 1, f"bit |= used_up({out.const(spec)}, times{i}, {parts}, trace)")
        if spec.max_points is not None:
            out.add(indent, "else:")
            _clip(out, parts, f"{out.const(spec.max_points)} - used{i}", spec.label, indent + 1)
    elif spec.max_points is not None:
        _clip(out, parts, f"{out.const(spec.max_points)} - used{i}", spec.label, indent)


def _clip(out: Writer, parts: str, limit: str, label: str, indent: int) -> None:
    """:func:`.limits.clip`, called only when the limit bites."""
    out.add(indent, f"limit = {limit}")
    out.add(indent, "total = ZERO")
    out.add(indent, f"for part in {parts}:")
    out.add(indent + 1, "total += part.capped")
    out.add(indent, "if total > limit:")
    out.add(indent + 1, f"bit |= clip({parts}, limit, {out.const(label)}, trace)")


def _rounding(out: Writer, rounding) -> None:
    """:func:`.limits.round_parts`; for whole points per event, inline when rounding changes nothing."""
    if rounding.scope != "event" or rounding.step != 1:
        out.add(1, f"total = round_parts(kept, {out.const(rounding)}, bit, trace)")
        return
    out.add(1, "unrounded = ZERO")
    out.add(1, "for part in kept:")
    out.add(2, "unrounded += part.capped")
    mode, step = out.const(ROUNDING_MODES[rounding.mode]), out.const(rounding.step)
    out.add(1, f"total = unrounded.to_integral_value(rounding={mode}) * {step}")  # as round_points does
    out.add(1, "if total == unrounded:")
    out.add(2, "for part in kept:")
    out.add(3, "part.final = part.capped")
    out.add(1, "else:")
    out.add(2, f"total = round_parts(kept, {out.const(rounding)}, bit, trace)")


def _usage(out: Writer, counted, targets: dict[str, str]) -> None:
    """:func:`.limits.record_usage`: a cap that ran counts the points its parts were paid."""
    for spec in counted:
        indent = 1
        if spec.rule is not None:
            out.add(1, f"if {targets[spec.rule]}:")
            indent = 2
        i = spec.index
        out.add(indent, f"points = {'total' if spec.rule is None else f'paid({targets[spec.rule]})'}")
        out.add(indent, "if points > 0:")
        usage = f"CapUsage(key{i}, used{i} + points, times{i} + 1)"
        out.add(indent + 1, f"state.put('caps', {out.const(spec.key)}, {usage})")


def _budget_effects(out: Writer, limits, targets: dict[str, str]) -> None:
    for rule, _, _ in limits.budgets:
        if rule in targets:
            out.add(1, f"if {targets[rule]}:")
            out.add(2, f"used = paid({targets[rule]})")
            out.add(2, "if used:")
            out.add(3, f"run.effects.append(budget_effect({out.const(rule)}, used))")


HELPERS = {"period_key": period_key, "clip": clip, "used_up": used_up, "round_parts": round_parts, "paid": paid,
           "budget_effect": budget_effect, "CapUsage": CapUsage, "LEDGER_NOTE": LEDGER_NOTE, "ZERO": ZERO}
