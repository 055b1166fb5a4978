"""The one generator: each analyst event type's walk through the policies, written out as
one Python function from the compiled plan.

The general path (:func:`engine.evaluate.walk`) loops over a plan's phases and asks each
policy in turn, whether or not it has anything to do for this event type. The generated
function calls the same policy functions, in the same order, and leaves out the ones the
plan makes idle: no gates, no tiers, no streaks, no history to remember, no review hold to
keep. Nothing of a policy's semantics is written here; the policies own them once.

``compile_ruleset(..., specialise=False)`` turns generation off (the conformance suite
runs every ruleset's tests both ways). The source is kept on the plan, each line notes the
ruleset lines it stands for, and it is registered with :mod:`linecache`, so a traceback
through it shows what ran.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Iterator
from typing import Any

from ..program import Compiled, Plan

__all__ = ["generate_walks", "walk_source", "register_source"]

Step = Callable[..., None]


def generate_walks(compiled: Compiled, phases: dict[str, Step], remember: Step, close: Step,
                   built_in: frozenset[str] = frozenset()) -> None:
    """Give every analyst event type's plan its generated walk (``plan.walk``).

    ``phases`` maps a phase to the policy step that runs it, ``remember`` records the event
    in the member's history, ``close`` keeps a review hold: the same callables the general
    path uses. Built-in event types (``built_in``) have handlers of their own, and no walk."""
    for plan in compiled.plans.values():
        if plan.phases and plan.event_type not in built_in:
            source, names = walk_source(compiled, plan, phases, remember, close)
            plan.walk = _build(source, names, f"<punchcard {compiled.label} {plan.event_type}>")
            plan.walk_source = source


def walk_source(compiled: Compiled, plan: Plan, phases: dict[str, Step], remember: Step,
                close: Step) -> tuple[str, dict[str, Any]]:
    """The walk's source and the names it calls."""
    names: dict[str, Any] = {}
    lines = ["def walk(run, plan):" + _comment(f"{plan.event_type} in {compiled.label}")]
    if plan.event_type in compiled.history_types:
        names["remember"] = remember
        lines.append("    remember(run)  # count(...) and sum(...) windows read the member's history")
    for phase in plan.phases:
        if _idle(compiled, plan, phase):
            continue
        names[phase] = phases[phase]
        lines.append(f"    {phase}(run, plan)" + _comment(", ".join(_where(compiled, plan, phase))))
    if any(gate.action == "review" for gate in plan.gates):
        names["close"] = close
        lines.append("    close(run)  # a held event that earned nothing still awaits its review")
    if len(lines) == 1:
        lines.append("    return None")
    return "\n".join(lines) + "\n", names


def _idle(compiled: Compiled, plan: Plan, phase: str) -> bool:
    """A phase with nothing to do for this event type, whatever the event."""
    if phase == "gates":
        return not plan.gates
    if phase == "streaks":
        return not plan.streaks and not plan.achievements
    if phase == "tiers":
        return compiled.model.tiers is None
    if phase == "earning":  # no rule to pay, no tier multiplier to add 0 with its trace line, no gate to forbid
        return (not plan.bases and not plan.rules and all(m == 1 for m in compiled.tier_multipliers.values())
                and not any(gate.action == "no_points" for gate in plan.gates))
    return False


def _comment(text: str) -> str:
    """A trailing comment. It ends at a line break: whatever an analyst named stays inside it."""
    return "  # " + "".join(c if c.isprintable() else "?" for c in text) if text else ""


def _where(compiled: Compiled, plan: Plan, phase: str) -> list[str]:
    """The ruleset lines a phase runs for this event type."""
    return [f"{owner} line {line}" for owner, line in _owners(compiled, plan, phase)]


def _owners(compiled: Compiled, plan: Plan, phase: str) -> Iterator[tuple[str, int]]:
    wanted = {"gates": ("fraud", "forbid"), "earning": ("base", "rule"), "tiers": ("tiers",),
              "streaks": ("streak", "achievement")}.get(phase, ())
    seen = set()
    for path, expr in compiled.checked.exprs.items():
        kind = expr.owner.split(":", 1)[0]
        if kind in wanted and expr.owner not in seen and plan.event_type in (expr.scope.event_types or ()):
            seen.add(expr.owner)
            yield expr.owner, compiled.checked.source.value(path).span.line


def _build(source: str, names: dict[str, Any], filename: str) -> Callable[..., None]:
    namespace: dict[str, Any] = {"__builtins__": {}, **names}
    register_source(filename, source)
    exec(compile(source, filename, "exec"), namespace)
    walk: Callable[..., None] = namespace["walk"]
    return walk


def register_source(filename: str, source: str) -> None:
    """Let tracebacks and debuggers show generated code as if it were a file."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
