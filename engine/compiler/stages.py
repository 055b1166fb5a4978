"""``compile(ruleset)``: a table of small named stages from a checked ruleset to an
executable plan per event type.

1. resolve  - check the ruleset (if given a path or text) and refuse one with errors;
2. graph    - the networkx rule graph: facts, rules, caps, tiers, streaks, fraud, compliance;
3. cycles   - no cycles anywhere in the graph;
4. order    - each event type's subgraph in topological order, phase by phase;
5. generate - Python functions generated from the checked AST, compiled once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

import networkx as nx
from punchcard.dsl.check import CheckedRuleset, check_path, check_text
from punchcard.dsl.duration import Duration
from punchcard.dsl.errors import Code, Diagnostic, PunchcardError
from punchcard.dsl.functions import FunctionSpec
from punchcard.dsl.model import Ruleset

from ..runtime.events import EventSchema
from ..runtime.numbers import Quantities
from .codegen import CodeGen
from .graph import build_rule_graph, event_order

__all__ = ["Compiled", "Plan", "Rule", "Gate", "compile_ruleset", "STAGES", "MAX_COST"]

MAX_COST = 5_000  # per event type: nodes evaluated, aggregates weighted by 50


@dataclass
class Rule:
    """An earning rule (or the base) ready to run."""

    id: str
    kind: str  # base | multiply | bonus
    decide: Callable  # when, unless and value in one generated call (codegen.NOT_WHEN / UNLESS)
    group: str | None = None
    when_text: str | None = None
    reads: tuple[tuple[str, str, str], ...] = ()  # ("event"|"member"|"let", name, label) for the trace
    when_note: str = field(init=False)  # the trace's note, written once

    def __post_init__(self) -> None:
        self.when_note = f"when: {self.when_text}" if self.when_text else ""


@dataclass
class Gate:
    """A fraud or compliance rule that runs before earning."""

    id: str
    kind: str  # fraud | forbid
    action: str
    when: Callable
    when_text: str
    reason: str | None = None
    reads: tuple[tuple[str, str, str], ...] = ()


@dataclass
class Plan:
    """Everything that runs for one event type, already in phase order."""

    event_type: str
    gates: list[Gate] = field(default_factory=list)
    bases: list[Rule] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    metric: Callable | None = None
    streaks: list[Any] = field(default_factory=list)  # (model, when fn, {id(reward): bonus fn})
    achievements: list[Any] = field(default_factory=list)  # (model, when fn, bonus fn)
    order: list[str] = field(default_factory=list)  # topological order of rule-graph nodes
    is_order: bool = False  # carries a money amount, so it can be refunded
    cost: int = 0
    kernel: Callable | None = None  # earning through rounding, written out (engine.kernel); None: the plain path


@dataclass
class Compiled:
    model: Ruleset
    checked: CheckedRuleset
    tz: ZoneInfo
    graph: nx.DiGraph
    schema: EventSchema
    plans: dict[str, Plan] = field(default_factory=dict)
    functions: dict[Any, Callable] = field(default_factory=dict)
    history_span: Duration | None = None
    history_types: frozenset[str] = frozenset()
    source: str = ""
    reads_balance: bool = False
    expiry_cache: dict = field(default_factory=dict)  # month -> expiry instant, expiry -> notice instant
    limit_plan: Any = None  # caps and budgets, worked out once (engine.limits.limit_plan)
    label: str = field(init=False)  # id@version, on every decision
    tier_multipliers: dict[str | None, Decimal] = field(init=False)  # level name -> earn multiplier

    def __post_init__(self) -> None:
        self.label = self.model.label
        levels = self.model.tiers.levels if self.model.tiers is not None else ()
        self.tier_multipliers = {level.name: level.earn_multiplier for level in levels}


@dataclass
class _State:
    checked: CheckedRuleset
    compiled: Compiled | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _resolve(state: _State) -> None:
    checked = state.checked.raise_for_errors()
    model = checked.model
    tz = ZoneInfo(model.timezone)
    schema = EventSchema(model.event_fields(), tz, model.schema_.naive_times == "local", Quantities.of(model))
    state.compiled = Compiled(model, checked, tz, nx.DiGraph(), schema)


def _graph(state: _State) -> None:
    state.compiled.graph = build_rule_graph(state.checked)


def _cycles(state: _State) -> None:
    graph = state.compiled.graph
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    names = " -> ".join(str(a) for a, _b in cycle) + f" -> {cycle[0][0]}"
    state.diagnostics.append(Diagnostic(Code.CYCLE_ERROR, f"the rule graph has a cycle: {names}"))


def _order(state: _State) -> None:
    compiled = state.compiled
    for event_type in compiled.model.event_fields():
        compiled.plans[event_type] = Plan(event_type, order=event_order(compiled.graph, event_type))


def _generate(state: _State) -> None:
    from .plans import fill_plans

    compiled = state.compiled
    checked = state.checked
    from .kernel import build_kernel
    from .plans import rule_nodes

    gen = CodeGen(checked.functions, checked.lets)
    compiled.functions = gen.build({path: expr.node for path, expr in checked.exprs.items()},
                                   rule_nodes(compiled))
    compiled.source = "\n".join(gen.sources)
    fill_plans(compiled)
    for plan in compiled.plans.values():
        plan.kernel = build_kernel(compiled, plan)
    compiled.reads_balance = "member.balance" in compiled.graph
    for plan in compiled.plans.values():
        if plan.cost > MAX_COST:
            state.diagnostics.append(Diagnostic(Code.LIMIT_ERROR, f"rules for {plan.event_type} are too costly to "
                                                f"evaluate ({plan.cost} > {MAX_COST})"))


STAGES: list[tuple[str, Callable[[_State], None]]] = [
    ("resolve", _resolve),
    ("graph", _graph),
    ("cycles", _cycles),
    ("order", _order),
    ("generate", _generate),
]


def compile_ruleset(ruleset: "str | os.PathLike | CheckedRuleset", functions: Sequence[FunctionSpec] | None = None,
                    ) -> Compiled:
    """Compile a ruleset given as a path, YAML text, or an already checked ruleset."""
    checked = _checked(ruleset, functions)
    state = _State(checked)
    for _name, stage in STAGES:
        stage(state)
        if state.diagnostics:
            raise PunchcardError(state.diagnostics, checked.sources)
    return state.compiled


def _checked(ruleset, functions) -> CheckedRuleset:
    if isinstance(ruleset, CheckedRuleset):
        return ruleset
    if functions is None:
        from punchcard.api import plugin_functions

        functions = plugin_functions()
    if isinstance(ruleset, str) and "\n" in ruleset:
        return check_text(ruleset, "<ruleset>", functions)
    return check_path(ruleset, functions)
