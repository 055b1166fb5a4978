"""The rule graph: what depends on what, phase by phase.

Edges follow the flow of data: a field feeds the facts and rules that read it, a
rule feeds stacking, stacking feeds the tier multiplier, and so on down the phases.
``punchcard graph`` prints it as Mermaid, Graphviz dot or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import networkx as nx

from punchcard.dsl import ast
from punchcard.dsl.offers import OFFER_CHOOSE

if TYPE_CHECKING:
    from punchcard.dsl.check import CheckedRuleset

__all__ = ["PHASES", "POLICY_OF_PHASE", "FACT_PARTS", "build_rule_graph", "event_order", "policy_walk", "to_mermaid",
           "to_dot", "to_json"]

PHASES = ("facts", "profile", "gates", "offers", "earning", "stacking", "tier_multiplier", "caps", "rounding", "ledger",
          "tiers", "streaks", "offer_choice", "messages")
# Which policy runs each phase: earning owns everything from the rules to rounding.
POLICY_OF_PHASE = {"gates": "gates", "earning": "earning", "stacking": "earning", "tier_multiplier": "earning",
                   "caps": "earning", "rounding": "earning", "ledger": "ledger", "tiers": "tiers",
                   "streaks": "streaks", "offers": "offers", "offer_choice": "offer_choice", "profile": "profile"}
_HUBS = {"stacking": "stacking", "tier-multiplier": "tier_multiplier", "rounding": "rounding",
         "ledger": "ledger"}
FACT_PARTS = 2  # a fact an expression reads directly is a root and a name: event.amount, member.tier


def _add(graph: nx.DiGraph, node: str, phase: str, on: Iterable[str] | None = None, label: str | None = None) -> None:
    graph.add_node(node, phase=phase, on=tuple(on) if on else None, label=label or node)


def build_rule_graph(checked: CheckedRuleset) -> nx.DiGraph:
    model, graph = checked.valid_model, nx.DiGraph()
    for hub, phase in _HUBS.items():
        _add(graph, hub, phase)
    _add(graph, "gates", "gates")
    _facts(graph, checked)
    _profile(graph, checked)
    _offers(graph, checked)
    _messages(graph, checked)
    for expr in checked.exprs.values():
        kind = expr.owner.split(":", 1)[0]
        phase = {"fraud": "gates", "forbid": "gates", "base": "earning", "rule": "earning", "tiers": "tiers",
                 "streak": "streaks", "achievement": "streaks", "offer": "earning", "offers": "offer_choice",
                 "message": "messages", "challenge": "streaks",
                 "referral": "messages"}[kind]  # challenges run after the walk; a referral reads the decision there
        if expr.owner not in graph:
            _add(graph, expr.owner, phase, expr.scope.event_types)
        _reads(graph, expr.owner, expr.node, checked)
    _gamification(graph, checked)
    _chain_phases(graph, checked)
    for i, cap in enumerate(model.earning.caps):
        _add(graph, f"cap:{i}", "caps", label=f"cap {cap.rule or 'all'} per {cap.per} per {cap.period}")
        graph.add_edge("tier-multiplier", f"cap:{i}")
        graph.add_edge(f"cap:{i}", "rounding")
    for i, budget in enumerate(model.earning.budgets):
        _add(graph, f"budget:{i}", "caps", label=f"budget {budget.rule}")
        graph.add_edge("tier-multiplier", f"budget:{i}")
        graph.add_edge(f"budget:{i}", "rounding")
    return graph


def _gamification(graph: nx.DiGraph, checked: CheckedRuleset) -> None:
    """Every streak and achievement is a node, whether or not it has an expression."""
    model = checked.valid_model
    for kind, items in (("streak", model.streaks), ("achievement", model.achievements)):
        for item in items:
            if f"{kind}:{item.id}" not in graph:
                _add(graph, f"{kind}:{item.id}", "streaks", item.on)


def _profile(graph: nx.DiGraph, checked: CheckedRuleset) -> None:
    """The member profile (engine/policies/profile.py), folded first on every analyst event, but
    only where models or offers read it: other rulesets neither keep it nor pay for it."""
    model = checked.valid_model
    if model.models or model.offers is not None:
        _add(graph, "profile", "profile", label="the member profile")
        graph.add_edge("profile", "gates")


def _offers(graph: nx.DiGraph, checked: CheckedRuleset) -> None:
    """Offers (engine/policies/offers.py): which are active before earning, each granted rule in
    earning, and choosing after the ledger, on the event types that choose or pay offers."""
    offers = checked.valid_model.offers
    if offers is None:
        return
    granted = tuple(dict.fromkeys(t for template in offers.templates for t in template.grant.on))
    _add(graph, "offers-active", "offers", granted, "the member's active offers")
    _add(graph, "offers", "offer_choice", (OFFER_CHOOSE, *offers.choose.on, *granted), "choosing offers")
    graph.add_edge("gates", "offers-active")
    graph.add_edge("ledger", "offers")
    for template in offers.templates:
        _add(graph, f"offer:{template.id}", "earning", template.grant.on)
        graph.add_edge("offers-active", f"offer:{template.id}")


def _facts(graph: nx.DiGraph, checked: CheckedRuleset) -> None:
    for name in checked.lets:
        _add(graph, f"let:{name}", "facts")
    for name, node in checked.lets.items():
        _reads(graph, f"let:{name}", node, checked)


def _reads(graph: nx.DiGraph, reader: str, node: ast.Node, checked: CheckedRuleset) -> None:
    for child in ast.walk(node):
        path = ast.path_of(child)
        if isinstance(child, ast.Name) and child.id in checked.lets:
            graph.add_edge(f"let:{child.id}", reader)
        elif path and len(path) == FACT_PARTS and path[0] in ("event", "member") and not isinstance(child, ast.Name):
            fact = f"{path[0]}.{path[1]}"
            if fact not in graph:
                _add(graph, fact, "facts")
            graph.add_edge(fact, reader)
        elif isinstance(child, ast.Call) and child.function in ("count", "sum"):
            source = ast.path_of(child.args[0])
            assert source is not None  # count(...) and sum(...) name a kind of event, as the checker made sure
            fact = f"history.{source[0]}"
            if fact not in graph:
                _add(graph, fact, "facts", label=f"{child.function} over history")
            graph.add_edge(fact, reader)


def _messages(graph: nx.DiGraph, checked: CheckedRuleset) -> None:
    """Each message kind reads the decision once every other phase is done (policies/messages.py):
    it runs after the walk, for every event type, ticks included."""
    messages = checked.valid_model.messages
    if messages is None:
        return
    for send in messages.send:
        _add(graph, f"message:{send.id}", "messages", None, f"message {send.id} ({send.on}, {send.channel})")
        graph.add_edge("ledger", f"message:{send.id}")


def _chain_phases(graph: nx.DiGraph, checked: CheckedRuleset) -> None:
    for node, data in list(graph.nodes(data=True)):
        if data["phase"] == "gates" and node != "gates":
            graph.add_edge(node, "gates")
        elif data["phase"] == "earning":
            graph.add_edge("gates", node)
            graph.add_edge(node, "stacking")
        elif data["phase"] in ("tiers", "streaks"):
            graph.add_edge("ledger", node)
    graph.add_edge("stacking", "tier-multiplier")
    graph.add_edge("tier-multiplier", "rounding")
    graph.add_edge("rounding", "ledger")
    if checked.valid_model.tiers is not None:
        if "tiers" not in graph:
            _add(graph, "tiers", "tiers")
        graph.add_edge("ledger", "tiers")
        # the tier feeds the *next* event's multiplier, so no edge back: one event stays acyclic
        for node, data in graph.nodes(data=True):
            if data["phase"] == "streaks":
                graph.add_edge("tiers", node)


def event_order(graph: nx.DiGraph, event_type: str) -> list[str]:
    """The nodes that run for ``event_type``, topologically sorted, earlier phases first."""
    keep = [n for n, d in graph.nodes(data=True) if d["on"] is None or event_type in d["on"]]
    sub = graph.subgraph(keep)
    return list(nx.lexicographical_topological_sort(sub, key=lambda n: (PHASES.index(sub.nodes[n]["phase"]), n)))


def policy_walk(graph: nx.DiGraph, order: list[str]) -> tuple[str, ...]:
    """The policies an event walks through, in the order of its nodes (facts are read on demand)."""
    phases = (graph.nodes[node]["phase"] for node in order)
    # facts are read on demand; messages are chosen after the walk, housekeeping's effects included
    return tuple(dict.fromkeys(POLICY_OF_PHASE[phase] for phase in phases if phase not in ("facts", "messages")))


def _by_phase(graph: nx.DiGraph) -> Iterator[tuple[str, list[str]]]:
    """(phase, its nodes) for every phase that has any, in phase order."""
    for phase in PHASES:
        members = [n for n, d in graph.nodes(data=True) if d["phase"] == phase]
        if members:
            yield phase, members


def to_mermaid(graph: nx.DiGraph) -> str:
    ids = {node: f"n{i}" for i, node in enumerate(graph)}
    lines = ["flowchart LR"]
    for phase, members in _by_phase(graph):
        lines.append(f"  subgraph {phase}")
        lines += [f'    {ids[n]}["{_escape(graph.nodes[n]["label"])}"]' for n in members]
        lines.append("  end")
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges]
    return "\n".join(lines) + "\n"


def to_dot(graph: nx.DiGraph) -> str:
    lines = ["digraph punchcard {", "  rankdir=LR;"]
    for phase, members in _by_phase(graph):
        lines.append(f'  subgraph "cluster_{phase}" {{ label="{phase}";')
        lines += [f'    "{n}" [label="{_escape(graph.nodes[n]["label"])}"];' for n in members]
        lines.append("  }")
    lines += [f'  "{a}" -> "{b}";' for a, b in graph.edges]
    return "\n".join([*lines, "}"]) + "\n"


def to_json(graph: nx.DiGraph) -> str:
    nodes = [{"id": n, "phase": d["phase"], "on": list(d["on"]) if d["on"] else None, "label": d["label"]}
             for n, d in graph.nodes(data=True)]
    edges = [{"from": a, "to": b} for a, b in graph.edges]
    used = {d["phase"] for _n, d in graph.nodes(data=True)}  # the offer phases only with offers: as before without
    phases = [p for p in PHASES if p not in ("offers", "offer_choice", "messages") or p in used]
    return json.dumps({"phases": phases, "nodes": nodes, "edges": edges}, indent=2)


def _escape(text: str) -> str:
    return text.replace('"', "'")
