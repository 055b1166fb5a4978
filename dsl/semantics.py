"""Whole-ruleset checks: the dependency graph, cycles, references, tiers, compliance, warnings."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Protocol

import networkx as nx

from . import ast
from .checked import CheckedRuleset
from .checker import did_you_mean
from .duration import Duration
from .errors import Code, Diagnostic, Severity
from .expects import expect_diagnostics
from .model import Expiry, Ruleset
from .sourcemap import Path
from .tier_checks import tier_diagnostics
from .vocabulary import BUILTIN_EVENTS

__all__ = ["build_dependency_graph", "check_semantics", "constant_value", "Constant", "duration_at_least"]


_FIELD_PARTS = 2  # event.amount, member.tier: a record and one of its fields
_MAX_INLINE_DEPTH = 16  # lets read through when looking for a constant when:; deeper chains are not followed


def build_dependency_graph(state: CheckedRuleset) -> nx.DiGraph:
    """Edges run from a reader (rule, let) to what it reads (let, field)."""
    graph = nx.DiGraph()
    for name, node in state.lets.items():
        graph.add_node(f"let:{name}", kind="let")
        _add_reads(graph, f"let:{name}", node)
    for expr in state.exprs.values():
        graph.add_node(expr.owner, kind=expr.owner.split(":", 1)[0])
        _add_reads(graph, expr.owner, expr.node)
    return graph


def _add_reads(graph: nx.DiGraph, reader: str, node: ast.Node) -> None:
    for child in ast.walk(node):
        path = ast.path_of(child)
        if isinstance(child, ast.Name) and path and len(path) == 1 and graph.has_node(f"let:{child.id}"):
            graph.add_edge(reader, f"let:{child.id}")
        elif isinstance(child, ast.Name):
            continue
        elif path and len(path) == _FIELD_PARTS and path[0] in ("event", "member"):
            graph.add_node(f"field:{path[0]}.{path[1]}", kind="field")
            graph.add_edge(reader, f"field:{path[0]}.{path[1]}")
    # lets may be defined after their first use: resolve names again once all exist
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and f"let:{child.id}" in graph and not graph.has_edge(reader, f"let:{child.id}"):
            graph.add_edge(reader, f"let:{child.id}")


def check_semantics(state: CheckedRuleset) -> list[Diagnostic]:
    for name in state.lets:  # second pass: lets defined later than their readers
        for used in state.let_uses.get(name, ()):
            state.graph.add_edge(f"let:{name}", f"let:{used}")
    checks = (_cycles, _duplicate_ids, _references, _durations_in_place, _earning_types, _tiers, _rounding_stated,
              _stacking_stated, _compliance, _tests, _warnings)
    return [d for check in checks for d in check(state)]


def _cycles(state: CheckedRuleset) -> Iterator[Diagnostic]:
    lets = state.graph.subgraph(n for n in state.graph if n.startswith("let:"))
    for cycle in sorted(nx.simple_cycles(lets), key=sorted):
        names = [n.removeprefix("let:") for n in cycle]
        first = min(names, key=lambda n: list(state.valid_model.let).index(n))
        start = names.index(first)
        ordered = names[start:] + names[:start] + [first]
        yield Diagnostic(Code.CYCLE_ERROR, f"let names depend on each other in a cycle: {' -> '.join(ordered)}",
                         state.source.key(("let", first)), hint="a fact cannot be defined in terms of itself")


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def _all_ids(model: Ruleset) -> Iterator[tuple[Path, str]]:
    groups: tuple[tuple[Path, Sequence[_HasId]], ...] = (
        (("earning", "rules"), model.earning.rules), (("streaks",), model.streaks),
        (("achievements",), model.achievements), (("fraud",), model.fraud),
        (("compliance", "forbid"), model.compliance.forbid))
    for prefix, items in groups:
        for i, item in enumerate(items):
            yield (*prefix, i, "id"), item.id


def _duplicate_ids(state: CheckedRuleset) -> Iterator[Diagnostic]:
    seen: dict[str, tuple] = {}
    for path, rule_id in _all_ids(state.valid_model):
        if rule_id in seen:
            first = state.source.value(seen[rule_id]).span
            yield Diagnostic(Code.DUPLICATE_ID, f"the id {rule_id!r} is used twice (first at line {first.line})",
                             state.source.value(path).span, hint="ids appear in traces and caps: make each unique")
        else:
            seen[rule_id] = path


def _references(state: CheckedRuleset) -> Iterator[Diagnostic]:
    rules = [r.id for r in state.valid_model.earning.rules] + ["base"]
    for section in ("caps", "budgets"):
        for i, item in enumerate(getattr(state.valid_model.earning, section)):
            if item.rule is not None and item.rule not in rules:
                yield Diagnostic(Code.UNKNOWN_RULE, f"{section[:-1]} names an unknown rule {item.rule!r}",
                                 state.source.value(("earning", section, i, "rule")).span,
                                 hint=did_you_mean(item.rule, rules) or f"earning rules: {', '.join(rules)}")


def _durations_in_place(state: CheckedRuleset) -> Iterator[Diagnostic]:
    """A duration is written where it is used, right of + or - or as within:; anywhere else
    it has no value for generated code to compute, so ``check`` refuses it, at the duration."""
    trees = [(path, expr.node) for path, expr in state.exprs.items()]
    trees += [(("let", name), node) for name, node in state.lets.items()]
    reported = {d.span for d in state.diagnostics if d.code is Code.TYPE_ERROR}
    for path, tree in trees:
        for node in _misplaced_durations(tree):
            span = state.locator(path)(node.line, node.column)
            if span not in reported:  # the type checker may have said so already, there
                yield Diagnostic(Code.TYPE_ERROR, "a duration can only be added to a date or time, or given to "
                                 "within:", span, hint="write it where it is used, e.g. event.time - 30 days")


def _misplaced_durations(tree: ast.Node) -> list[ast.Node]:
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Binary) and node.op in "+-" and isinstance(node.right, ast.DurationLit):
            allowed.add(id(node.right))
        elif isinstance(node, ast.Keyword) and node.name == "within":
            allowed.add(id(node.value))
    return [n for n in ast.walk(tree) if isinstance(n, ast.DurationLit) and id(n) not in allowed]


def _earning_types(state: CheckedRuleset) -> Iterator[Diagnostic]:
    """Earning runs on the ruleset's own event types: a built-in event (redeem, refund, ...)
    is handled by the ledger and never reaches an earning rule, so naming one is a mistake."""
    earning = state.valid_model.earning
    base_path = ("earning", "base") if not isinstance(earning.base, list) else None
    owners = [(base_path or ("earning", "base", i), b.on) for i, b in enumerate(earning.bases)]
    owners += [(("earning", "rules", i), r.on) for i, r in enumerate(earning.rules)]
    for path, types in owners:
        for j, name in enumerate(types):
            if name in BUILTIN_EVENTS or name == "profile":
                yield Diagnostic(Code.SCHEMA_ERROR, f"{name} is a built-in event: it never runs earning rules",
                                 state.source.value((*path, "on", j)).span,
                                 hint="list your own event types under on:, such as purchase")


def _tiers(state: CheckedRuleset) -> Iterator[Diagnostic]:
    yield from tier_diagnostics(state)  # dsl/tier_checks.py


def _rounding_stated(state: CheckedRuleset) -> Iterator[Diagnostic]:
    """Rounding changes what members get, so every ruleset says how it rounds."""
    if isinstance(state.raw.data, dict) and "rounding" not in state.raw.data:
        yield Diagnostic(Code.SCHEMA_ERROR, "the ruleset does not say how points are rounded",
                         state.source.key(("ruleset",)),
                         hint="add rounding: {mode: floor, scope: event, step: 1} (floor|ceil|half_up|half_even; "
                              "rule|event; the unit to round to)")


def _stacking_stated(state: CheckedRuleset) -> Iterator[Diagnostic]:
    """``stacking:`` is never implied where it changes the points: two or more multipliers
    (add or multiply), or two or more rules in one group (best or add). Bonuses alone add."""
    data = state.raw.data.get("earning") if isinstance(state.raw.data, dict) else None
    if not isinstance(data, dict) or "stacking" in data:
        return
    rules = state.valid_model.earning.rules
    multipliers = sum(rule.multiply is not None for rule in rules)
    groups = [rule.group for rule in rules if rule.group is not None]
    shared = next((group for group in groups if groups.count(group) > 1), None)
    if multipliers > 1:
        message = f"earning has {multipliers} multipliers but does not say how they stack"
    elif shared is not None:
        message = f"rules share the group {shared!r} but earning does not say how groups stack"
    else:
        return
    yield Diagnostic(Code.SCHEMA_ERROR, message, state.source.key(("earning",)),
                     hint="add stacking: {multipliers: add, groups: best} (or multiply / add)")


def duration_at_least(actual: Duration, required: Duration) -> bool:
    """Compare calendar durations: months/years exactly, others by days."""
    months = {"month": 1, "year": 12}
    if actual.unit in months and required.unit in months:
        return actual.amount * months[actual.unit] >= required.amount * months[required.unit]
    return actual.approx_days() >= required.approx_days()


def _expiry_period(expiry: Expiry) -> tuple[Duration, str]:
    """The period points expire after, and its key: the model holds exactly one of the two."""
    if expiry.after is not None:
        return expiry.after, "after"
    if expiry.inactivity is None:
        raise ValueError("an expiry has after: or inactivity:")
    return expiry.inactivity, "inactivity"


def _compliance(state: CheckedRuleset) -> Iterator[Diagnostic]:
    require, points = state.valid_model.compliance.require, state.valid_model.points
    expiry = points.expiry
    if require.min_expiry is not None and expiry != "never":
        actual, key = _expiry_period(expiry)
        if not duration_at_least(actual, require.min_expiry):
            yield Diagnostic(Code.COMPLIANCE_ERROR, f"points expire after {actual}, but compliance requires at "
                             f"least {require.min_expiry}", state.source.value(("points", "expiry", key)).span)
    if require.min_expiry_notice is not None and expiry != "never":
        notice = points.expiry_notice
        if notice is None or not duration_at_least(notice, require.min_expiry_notice):
            where = ("points", "expiry_notice") if notice is not None else ("points",)
            yield Diagnostic(Code.COMPLIANCE_ERROR, f"expiry notice is {notice or 'not set'}, but compliance "
                             f"requires at least {require.min_expiry_notice}", state.source.value(where).span,
                             hint=f"add expiry_notice: {require.min_expiry_notice} under points:")
    if require.refunds_claw_back and points.refunds.clawback == "none":
        yield Diagnostic(Code.COMPLIANCE_ERROR, "compliance requires refunds to claw back points, but "
                         "refunds.clawback is none", state.source.value(("points", "refunds", "clawback")).span)


def _tests(state: CheckedRuleset) -> Iterator[Diagnostic]:
    known = state.valid_schema.events
    for i, test in enumerate(state.valid_model.tests):
        for j, event in enumerate(test.events):
            kind = event.get("type")
            if not isinstance(kind, str) or kind not in known:  # test events are free-form: type may be a list
                yield Diagnostic(Code.UNKNOWN_NAME, f"test event type {kind!r} is not declared",
                                 state.source.value(("tests", i, "events", j, "type")).span,
                                 hint="declare it under schema.events")
            yield from expect_diagnostics(state, event.get("expect"), ("tests", i, "events", j, "expect"))
        yield from expect_diagnostics(state, test.expect, ("tests", i, "expect"))


Constant = bool | Decimal | str  # the values literals write


def constant_value(node: ast.Node) -> Constant | None:
    """The value of an expression made only of literals, or None when it reads anything."""
    if isinstance(node, (ast.Bool, ast.Number, ast.String)):
        return node.value
    if isinstance(node, ast.Not):
        inner = constant_value(node.operand)
        return None if inner is None else not inner
    if isinstance(node, ast.Logical):
        return _constant_logical(node)
    if isinstance(node, ast.Compare) and node.op in _COMPARISONS:
        return _constant_compare(node)
    return None


def _constant_logical(node: ast.Logical) -> Constant | None:
    left, right = constant_value(node.left), constant_value(node.right)
    if node.op == "and" and (left is False or right is False):
        return False
    if node.op == "or" and (left is True or right is True):
        return True
    return None if left is None or right is None else (left and right if node.op == "and" else left or right)


# Each is applied to two values of one type only (bools, numbers or strings), which all order.
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _constant_compare(node: ast.Compare) -> bool | None:
    left, right = constant_value(node.left), constant_value(node.right)
    if left is None or right is None or type(left) is not type(right):
        return None
    return _COMPARISONS[node.op](left, right)


def _warnings(state: CheckedRuleset) -> Iterator[Diagnostic]:
    for path, expr in state.exprs.items():
        if path[-1] == "when" and constant_value(_inline_lets(expr.node, state)) is False:
            yield Diagnostic(Code.NEVER_FIRES, f"{expr.owner.split(':', 1)[-1]} can never fire: when: is always false",
                             state.source.value(path).span, Severity.WARNING)
    if any(d.code in (Code.SCHEMA_ERROR, Code.PARSE_ERROR) for d in state.diagnostics):
        return  # a rule dropped by that error may be the let's reader: "never used" would mislead
    used = {name for expr in state.exprs.values() for name in expr.lets}
    used |= {u for uses in state.let_uses.values() for u in uses}
    for name in state.valid_model.let:
        if name not in used:
            yield Diagnostic(Code.UNUSED_LET, f"let {name!r} is never used", state.source.key(("let", name)),
                             Severity.WARNING, hint="remove it, or use it in a rule")


def _inline_lets(node: ast.Node, state: CheckedRuleset, depth: int = 0) -> ast.Node:
    if isinstance(node, ast.Name) and node.id in state.lets and depth < _MAX_INLINE_DEPTH:
        return _inline_lets(state.lets[node.id], state, depth + 1)
    return node

