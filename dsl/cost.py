"""The cost limit: how much the rules for one event type may evaluate per event
(docs/expressions.md, "Cost").

Every node of an expression counts 1, a window aggregate (``count``, ``sum``) 50, since
it reads the member's history. An event type pays for each earning rule's ``when:`` and
value (the base: its ``points:``), each fraud and compliance rule's ``when:``, once per
time it runs there, and once for every ``let`` its expressions read, directly or through
other lets. Over :data:`MAX_COST` the ruleset is a ``limit_error`` at its costliest rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from . import ast
from .checked import CheckedRuleset
from .errors import Code, Diagnostic
from .model import Ruleset
from .sites import base_path

__all__ = ["MAX_COST", "AGGREGATE_COST", "EventCost", "node_cost", "event_costs", "cost_diagnostics"]

MAX_COST = 5_000  # per event type: nodes evaluated, aggregates weighted by AGGREGATE_COST
AGGREGATE_COST = 50
_AGGREGATES = ("count", "sum")
_NO_GATES = ("tick", "review_decision")  # fraud and compliance rules without on: skip these


@dataclass
class EventCost:
    """What the rules for one event type cost, and each expression's share of it."""

    event_type: str
    total: int = 0
    # expression path -> its own counted nodes plus the lets it reads (for pointing at the culprit)
    shares: dict[tuple, int] = field(default_factory=dict)


def node_cost(node: ast.Node | None) -> int:
    if node is None:
        return 0
    return sum(AGGREGATE_COST if isinstance(n, ast.Call) and n.function in _AGGREGATES else 1
               for n in ast.walk(node))


def _counted(model: Ruleset, event_types: list[str]) -> Iterator[tuple[tuple, str]]:
    """(expression path, event type) for each time an expression's own nodes are paid for."""
    for i, base in enumerate(model.earning.bases):
        yield from (((*base_path(model, i), "points"), t) for t in base.on)
    for i, rule in enumerate(model.earning.rules):
        value = "multiply" if rule.multiply is not None else "bonus"
        for t in rule.on:
            yield ("earning", "rules", i, value), t
            yield ("earning", "rules", i, "when"), t
    every = [t for t in event_types if t not in _NO_GATES]
    for i, fraud in enumerate(model.fraud):
        yield from ((("fraud", i, "when"), t) for t in fraud.on or every)
    for i, forbid in enumerate(model.compliance.forbid):
        yield from ((("compliance", "forbid", i, "when"), t) for t in forbid.on or every)


def _lets_read(state: CheckedRuleset, roots) -> set[str]:
    """The lets ``roots`` name, and the lets those read, transitively."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in state.lets:
            continue
        seen.add(name)
        stack.extend(state.let_uses.get(name, ()))
    return seen


def event_costs(state: CheckedRuleset) -> dict[str, EventCost]:
    """Each event type's cost; only expressions that parsed are counted."""
    model = state.model
    if model is None:  # the document did not validate: there is nothing to run
        return {}
    event_types = list(model.event_fields())
    costs = {t: EventCost(t) for t in event_types}
    let_cost = {name: node_cost(node) for name, node in state.lets.items()}
    for path, event_type in _counted(model, event_types):
        if event_type not in costs:  # an unknown event type: the event_types stage reports it
            continue
        expr = state.exprs.get(path)
        own = node_cost(expr.node if expr else None)
        costs[event_type].total += own
        costs[event_type].shares[path] = own
    for event_type, cost in costs.items():
        running = [e for e in state.exprs.values() if event_type in (e.scope.event_types or (event_type,))]
        cost.total += sum(let_cost[name] for name in _lets_read(state, (n for e in running for n in e.lets)))
        for expr in running:
            cost.shares[expr.path] = cost.shares.get(expr.path, 0) + sum(
                let_cost[name] for name in _lets_read(state, expr.lets))
    return costs


def cost_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    return [_too_costly(state, cost) for cost in event_costs(state).values() if cost.total > MAX_COST]


def _too_costly(state: CheckedRuleset, cost: EventCost) -> Diagnostic:
    path, share = max(cost.shares.items(), key=lambda item: item[1])
    who = state.exprs[path].owner if path in state.exprs else ""
    hint = (f"the {path[-1]}: of {_owner_words(who)} costs {share} of the {cost.total}, the lets it reads "
            f"included. Each window aggregate (count, sum) counts {AGGREGATE_COST}, every other part of an "
            "expression 1, and a let once however many rules read it: drop windows, narrow the lets it reads, "
            "name a repeated count() or sum() once under let:, or move rules to other event types")
    return Diagnostic(Code.LIMIT_ERROR, f"rules for {cost.event_type} are too costly to evaluate "
                      f"({cost.total} > {MAX_COST})", state.locator(path)(1, 1), hint=hint)


def _owner_words(owner: str) -> str:
    """``rule:big-basket`` -> ``rule big-basket``, in the words the docs use."""
    kind, _, name = owner.partition(":")
    words = {"base": "the base", "rule": f"rule {name}", "fraud": f"fraud rule {name}",
             "forbid": f"compliance rule {name}", "streak": f"streak {name}",
             "achievement": f"achievement {name}", "tiers": "the tier metric"}
    return words.get(kind, owner)
