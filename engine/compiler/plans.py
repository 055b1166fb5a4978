"""Fills each event type's :class:`Plan` with compiled rules, gates, streaks and metrics."""

from __future__ import annotations

from punchcard.dsl import ast

from ..program import Compiled, Gate, Rule

__all__ = ["fill_plans", "reads_of", "rule_nodes"]

def reads_of(node: ast.Node | None) -> tuple[tuple[str, str, str], ...]:
    """The facts an expression reads directly, for "the values that decided it":
    (root, name, the label the trace shows), the label worked out once here."""
    found: list[tuple[str, str, str]] = []
    for child in ast.walk(node) if node is not None else ():
        path = ast.path_of(child)
        if isinstance(child, ast.Field) and path and len(path) == 2 and path[0] in ("event", "member"):
            found.append((path[0], path[1], f"{path[0]}.{path[1]}"))
        elif isinstance(child, ast.Name) and child.id not in ("now",):
            found.append(("let", child.id, child.id))
    return tuple(dict.fromkeys(found))


def fill_plans(compiled: Compiled) -> None:
    model = compiled.model
    _earning(compiled)
    for i, rule in enumerate(model.fraud):
        _gate(compiled, ("fraud", i), rule, "fraud", rule.action, rule.reason)
    for i, rule in enumerate(model.compliance.forbid):
        _gate(compiled, ("compliance", "forbid", i), rule, "forbid", rule.action, None)
    _gamification(compiled)
    _metric(compiled)
    amounts = {name for name, fields in model.schema_.events.items() if fields.get("amount", "").endswith("money")}
    for name, plan in compiled.plans.items():
        plan.is_order = name in amounts
    _history_needs(compiled)


def _fn(compiled: Compiled, path: tuple):
    return compiled.functions.get(path)


def _node(compiled: Compiled, path: tuple):
    expr = compiled.checked.exprs.get(path)
    return expr.node if expr else None


def _rule_paths(model):
    """(path, value key) of every earning rule, the base included."""
    many = isinstance(model.earning.base, list)
    for i, _base in enumerate(model.earning.bases):
        yield (("earning", "base", i) if many else ("earning", "base")), "points"
    for i, item in enumerate(model.earning.rules):
        yield ("earning", "rules", i), "multiply" if item.multiply is not None else "bonus"


def rule_nodes(compiled: Compiled) -> dict[tuple, tuple]:
    """For code generation: each earning rule's when, unless and value trees, keyed by path + ("decide",)."""
    return {path + ("decide",): (_node(compiled, path + ("when",)), _node(compiled, path + ("unless",)),
                                 _node(compiled, path + (value,)))
            for path, value in _rule_paths(compiled.model)}


def _earning(compiled: Compiled) -> None:
    items = list(compiled.model.earning.bases) + list(compiled.model.earning.rules)
    for item, (path, value) in zip(items, _rule_paths(compiled.model)):
        is_base = value == "points"
        when_node = _node(compiled, path + ("when",))
        rule = Rule("base" if is_base else item.id, "base" if is_base else value, _fn(compiled, path + ("decide",)),
                    None if is_base else item.group, item.when, reads_of(when_node))
        for event_type in item.on:
            plan = compiled.plans[event_type]
            (plan.bases if is_base else plan.rules).append(rule)


def _gate(compiled: Compiled, path: tuple, rule, kind: str, action: str, reason: str | None) -> None:
    node = _node(compiled, path + ("when",))
    gate = Gate(rule.id, kind, action, _fn(compiled, path + ("when",)), rule.when, reason, reads_of(node))
    types = rule.on or [t for t in compiled.plans if t not in ("tick", "review_decision")]
    for event_type in types:
        compiled.plans[event_type].gates.append(gate)


def _gamification(compiled: Compiled) -> None:
    model = compiled.model
    for i, streak in enumerate(model.streaks):
        path = ("streaks", i)
        bonuses = {id(reward): _fn(compiled, path + ("rewards", j, "bonus"))
                   for j, reward in enumerate(streak.rewards)}
        entry = (streak, _fn(compiled, path + ("when",)), bonuses)  # bonuses: id(reward) -> its bonus function
        for event_type in streak.on:
            compiled.plans[event_type].streaks.append(entry)
    for i, achievement in enumerate(model.achievements):
        path = ("achievements", i)
        entry = (achievement, _fn(compiled, path + ("when",)), _fn(compiled, path + ("bonus",)))
        for event_type in achievement.on:
            compiled.plans[event_type].achievements.append(entry)


def _metric(compiled: Compiled) -> None:
    tiers = compiled.model.tiers
    if tiers is None or isinstance(tiers.metric, str):
        return
    fn = _fn(compiled, ("tiers", "metric", "add"))
    for event_type in tiers.metric.on:
        compiled.plans[event_type].metric = fn


def _history_needs(compiled: Compiled) -> None:
    """Keep only the history the rules read, bounded by the longest window."""
    longest, types = None, set()
    trees = [e.node for e in compiled.checked.exprs.values()] + list(compiled.checked.lets.values())
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.function in ("count", "sum"):
                within = node.keyword("within")
                types.add(ast.path_of(node.args[0])[0])
                if longest is None or _span_days(within) > _span_days(longest):
                    longest = within
    if longest is not None:
        from punchcard.dsl.duration import Duration

        compiled.history_span = Duration(amount=int(longest.amount), unit=longest.unit)
    compiled.history_types = frozenset(types)


def _span_days(node: ast.DurationLit):
    per = {"minute": 1, "hour": 60, "day": 1440, "week": 10080, "month": 44640, "year": 527040}
    return node.amount * per[node.unit]
