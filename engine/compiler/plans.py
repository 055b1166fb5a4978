"""Fills each event type's :class:`Plan` with compiled rules, gates, streaks and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from punchcard.dsl import ast
from punchcard.dsl.model import BaseEarning, EarningRule, ForbidRule, FraudRule, Ruleset
from punchcard.dsl.sourcemap import Path

from ..program import Compiled, ExprFn, Gate, Reads, Rule
from .codegen import RuleNodes
from .graph import FACT_PARTS

__all__ = ["fill_plans", "reads_of", "rule_nodes"]


def reads_of(node: ast.Node | None) -> Reads:
    """The facts an expression reads directly, for "the values that decided it":
    (root, name, the label the trace shows), the label worked out once here."""
    found: list[tuple[str, str, str]] = []
    for child in ast.walk(node) if node is not None else ():
        path = ast.path_of(child)
        if isinstance(child, ast.Field) and path and len(path) == FACT_PARTS and path[0] in ("event", "member"):
            found.append((path[0], path[1], f"{path[0]}.{path[1]}"))
        elif isinstance(child, ast.Name) and child.id not in ("now",):
            found.append(("let", child.id, child.id))
    return tuple(dict.fromkeys(found))


def fill_plans(compiled: Compiled) -> None:
    model = compiled.model
    _earning(compiled)
    for i, rule in enumerate(model.fraud):
        _gate(compiled, ("fraud", i), rule, "fraud", rule.action, rule.reason)
    for i, forbid in enumerate(model.compliance.forbid):
        _gate(compiled, ("compliance", "forbid", i), forbid, "forbid", forbid.action, None)
    _gamification(compiled)
    _metric(compiled)
    amounts = {name for name, fields in model.schema_.events.items()
               if (fields or {}).get("amount", "").endswith("money")}  # (the model makes no fields {})
    for name, plan in compiled.plans.items():
        plan.is_order = name in amounts
    _history_needs(compiled)


def _fn(compiled: Compiled, path: Path) -> ExprFn | None:
    """The function of an optional expression (None: the ruleset leaves it out)."""
    return compiled.functions.get(path)


def _built(compiled: Compiled, path: Path) -> ExprFn:
    """The function of an expression the ruleset must have: code generation built one for each."""
    return compiled.functions[path]


def _node(compiled: Compiled, path: Path) -> ast.Node | None:
    expr = compiled.checked.exprs.get(path)
    return expr.node if expr else None


def _value_node(compiled: Compiled, path: Path) -> ast.Node:
    node = _node(compiled, path)
    assert node is not None  # a rule's value is required: the checker parsed it
    return node


def _rule_paths(model: Ruleset) -> Iterator[tuple[Path, str]]:
    """(path, value key) of every earning rule, the base included."""
    many = isinstance(model.earning.base, list)
    for i, _base in enumerate(model.earning.bases):
        yield (("earning", "base", i) if many else ("earning", "base")), "points"
    for i, item in enumerate(model.earning.rules):
        yield ("earning", "rules", i), "multiply" if item.multiply is not None else "bonus"


def rule_nodes(compiled: Compiled) -> dict[Path, RuleNodes]:
    """For code generation: each earning rule's when, unless and value trees, keyed by (*path, "decide")."""
    return {(*path, "decide"): (_node(compiled, (*path, "when")), _node(compiled, (*path, "unless")),
                                _value_node(compiled, (*path, value)))
            for path, value in _rule_paths(compiled.model)}


def _earning(compiled: Compiled) -> None:
    items: list[BaseEarning | EarningRule] = [*compiled.model.earning.bases, *compiled.model.earning.rules]
    for item, (path, value) in zip(items, _rule_paths(compiled.model), strict=True):  # one path per rule
        decide, reads = _built(compiled, (*path, "decide")), reads_of(_node(compiled, (*path, "when")))
        if isinstance(item, EarningRule):
            rule = Rule(item.id, value, decide, item.group, item.when, reads, per_item=bool(item.per_item),
                        priority=item.priority or 0, exclusive=bool(item.exclusive))
        else:
            rule = Rule("base", "base", decide, None, item.when, reads, per_item=bool(item.per_item))
        for event_type in item.on:
            plan = compiled.plans[event_type]
            (plan.rules if isinstance(item, EarningRule) else plan.bases).append(rule)
    for plan in compiled.plans.values():  # highest priority first; equal ones as written (a stable sort)
        plan.rules.sort(key=_priority)


def _priority(rule: Rule) -> int:
    return -rule.priority


def _gate(compiled: Compiled, path: Path, rule: FraudRule | ForbidRule, kind: str, action: str,
          reason: str | None) -> None:
    node = _node(compiled, (*path, "when"))
    gate = Gate(rule.id, kind, action, _built(compiled, (*path, "when")), rule.when, reason, reads_of(node))
    types = rule.on or [t for t in compiled.plans if t not in ("tick", "review_decision")]
    for event_type in types:
        compiled.plans[event_type].gates.append(gate)


def _gamification(compiled: Compiled) -> None:
    model = compiled.model
    for i, streak in enumerate(model.streaks):
        path = ("streaks", i)
        bonuses = {id(reward): _built(compiled, (*path, "rewards", j, "bonus"))
                   for j, reward in enumerate(streak.rewards)}
        entry = (streak, _fn(compiled, (*path, "when")), bonuses)  # bonuses: id(reward) -> its bonus function
        for event_type in streak.on:
            compiled.plans[event_type].streaks.append(entry)
    for i, achievement in enumerate(model.achievements):
        path = ("achievements", i)
        won = (achievement, _built(compiled, (*path, "when")), _fn(compiled, (*path, "bonus")))
        for event_type in achievement.on:
            compiled.plans[event_type].achievements.append(won)


def _metric(compiled: Compiled) -> None:
    tiers = compiled.model.tiers
    if tiers is None or tiers.metric is None or isinstance(tiers.metric, str):  # named: policies/tier_metrics.py
        return
    fn = _fn(compiled, ("tiers", "metric", "add"))
    for event_type in tiers.metric.on:
        compiled.plans[event_type].metric = fn


def _history_needs(compiled: Compiled) -> None:
    """Keep only the history the rules read, bounded by the longest window."""
    longest: ast.DurationLit | None = None
    types: set[str] = set()
    trees = [*(e.node for e in compiled.checked.exprs.values()), *compiled.checked.lets.values()]
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.function in ("count", "sum"):
                within, path = node.keyword("within"), ast.path_of(node.args[0])
                assert isinstance(within, ast.DurationLit) and path is not None  # as the checker shaped them
                types.add(path[0])
                if longest is None or _span_days(within) > _span_days(longest):
                    longest = within
    if longest is not None:
        from punchcard.dsl.duration import Duration

        # the unit, plain text in the tree, is validated as the model validates a duration's
        compiled.history_span = Duration.model_validate({"amount": int(longest.amount), "unit": longest.unit})
    compiled.history_types = frozenset(types)


def _span_days(node: ast.DurationLit) -> Decimal:
    per = {"minute": 1, "hour": 60, "day": 1440, "week": 10080, "month": 44640, "year": 527040}
    return node.amount * per[node.unit]
