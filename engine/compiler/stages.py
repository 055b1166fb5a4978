"""``compile(ruleset)``: a table of small named stages from a checked ruleset to an
executable plan per event type.

1. resolve  - check the ruleset (if given a path or text) and refuse one with errors;
   models   - the models its models: section names, loaded by the scorer plugins (models.py);
2. graph    - the networkx rule graph: facts, rules, caps, tiers, streaks, fraud, compliance;
3. cycles   - no cycles anywhere in the graph;
4. order    - each event type's subgraph in topological order, phase by phase;
5. generate - Python functions generated from the checked AST, compiled once, and (unless
               ``specialise=False``) each event type's walk through the policies as one function;
6. variants - each variant's ruleset compiled once (``Compiled.split``), when there are variants.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import networkx as nx

from punchcard.dsl.check import CheckedRuleset, check_path, check_text
from punchcard.dsl.errors import Code, Diagnostic, PunchcardError
from punchcard.dsl.functions import FunctionSpec
from punchcard.dsl.variants import shares

from ..evaluate import BUILT_IN, PHASES
from ..hooks import EngineHooks
from ..policies import messages, offers, rewards
from ..policies.gates import keep_review_hold
from ..program import Compiled, Gate, Plan, Rule, Split
from ..runtime.events import EventSchema
from ..runtime.numbers import Quantities
from ..runtime.run import Run
from .codegen import CodeGen
from .generate import generate_walks
from .graph import build_rule_graph, event_order, policy_walk
from .models import load_models
from .plans import fill_plans, rule_nodes

__all__ = ["Compiled", "Plan", "Rule", "Gate", "compile_ruleset", "STAGES"]


@dataclass
class _State:
    checked: CheckedRuleset
    specialise: bool = True
    compiled: Compiled | None = None
    plugins: EngineHooks | None = None  # the scorer plugins load the ruleset's models: (models.py)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def valid_compiled(self) -> Compiled:
        """The program being compiled, there from the resolve stage on."""
        if self.compiled is None:
            raise ValueError("the ruleset has not been resolved")
        return self.compiled


def _resolve(state: _State) -> None:
    checked = state.checked.raise_for_errors()
    model = checked.valid_model
    tz = ZoneInfo(model.timezone)
    schema = EventSchema(model.event_fields(), tz, model.schema_.naive_times == "local", Quantities.of(model))
    state.compiled = Compiled(model, checked, tz, nx.DiGraph(), schema)


def _models(state: _State) -> None:
    """Each model the ruleset names, loaded once by the scorer plugins (models.py)."""
    state.valid_compiled.scorers, problems = load_models(state.checked, state.plugins)
    state.diagnostics.extend(problems)


def _graph(state: _State) -> None:
    state.valid_compiled.graph = build_rule_graph(state.checked)


def _cycles(state: _State) -> None:
    graph = state.valid_compiled.graph
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    names = " -> ".join(str(a) for a, _b in cycle) + f" -> {cycle[0][0]}"
    state.diagnostics.append(Diagnostic(Code.CYCLE_ERROR, f"the rule graph has a cycle: {names}"))


def _order(state: _State) -> None:
    compiled = state.valid_compiled
    for event_type in compiled.model.event_fields():
        order = event_order(compiled.graph, event_type)
        compiled.plans[event_type] = Plan(event_type, order=order, phases=policy_walk(compiled.graph, order))


def _generate(state: _State) -> None:
    compiled, checked = state.valid_compiled, state.checked
    gen = CodeGen(checked.functions, checked.lets)
    compiled.functions = gen.build({path: expr.node for path, expr in checked.exprs.items()},
                                   rule_nodes(compiled))
    compiled.source = "\n".join(gen.sources)
    fill_plans(compiled)
    offers.fill(compiled)  # granted rules join the plans before the walks are generated
    messages.fill(compiled)
    rewards.fill(compiled)  # the catalogue, and each reward's stock as a program budget
    compiled.reads_balance = "member.balance" in compiled.graph
    compiled.specialised = state.specialise
    if state.specialise:
        generate_walks(compiled, PHASES, Run.remember, keep_review_hold, frozenset(BUILT_IN))


def _variants(state: _State) -> None:
    """Each variant's ruleset compiled once, into the program members of that variant run."""
    compiled, variants = state.valid_compiled, state.checked.valid_model.variants
    if variants is None:
        return
    programs = {}
    for name, checked in state.checked.variants.items():
        program = compile_ruleset(checked, specialise=state.specialise, plugins=state.plugins)
        program.variant = name
        programs[name] = program
    compiled.split = Split(variants.salt, shares(variants), programs)


STAGES: list[tuple[str, Callable[[_State], None]]] = [
    ("resolve", _resolve),
    ("models", _models),
    ("graph", _graph),
    ("cycles", _cycles),
    ("order", _order),
    ("generate", _generate),
    ("variants", _variants),
]


def compile_ruleset(ruleset: str | os.PathLike[str] | CheckedRuleset, functions: Sequence[FunctionSpec] | None = None,
                    *, plugins: EngineHooks | None = None, specialise: bool = True) -> Compiled:
    """Compile a ruleset given as a path, YAML text, or an already checked ruleset.

    The ruleset may use the language's built-in functions and ``functions``, else those of
    ``plugins`` (an :class:`~punchcard.engine.hooks.EngineHooks`, e.g. the plugin manager's
    wrapper); with neither, the built-ins alone: the engine never looks plugins up itself
    (:func:`punchcard.compile` hands in the installed ones). An already checked ruleset
    keeps the functions it was checked with. ``specialise=False`` turns off the code
    generated per event type, leaving the plain path (same decisions)."""
    checked = _checked(ruleset, functions, plugins)
    state = _State(checked, specialise, plugins=plugins)
    for _name, stage in STAGES:
        stage(state)
        if state.diagnostics:
            raise PunchcardError(state.diagnostics, checked.sources)
    return state.valid_compiled


def _checked(ruleset: str | os.PathLike[str] | CheckedRuleset, functions: Sequence[FunctionSpec] | None,
             plugins: EngineHooks | None) -> CheckedRuleset:
    if isinstance(ruleset, CheckedRuleset):
        return ruleset
    if functions is None:
        functions = plugins.functions() if plugins is not None else ()
    if isinstance(ruleset, str) and "\n" in ruleset:
        return check_text(ruleset, "<ruleset>", functions)
    return check_path(ruleset, functions)
