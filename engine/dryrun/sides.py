"""A ruleset taking part in a replay, as a picklable handle.

Worker processes get the ruleset's path (or text), the functions it may use beyond the
built-ins, and the plugins the run was handed (which load the models a ruleset names), and
compile it once each; the compiled ruleset is cached per process. A plugin manager cannot
be sent to another process (it holds modules), so a side carries the plugins as a function
returning them (:class:`HandedPlugins`). A side also carries its budget plan for the
current pass (see :mod:`.budgets`), either inline or as a file every worker loads
once.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from punchcard.dsl.functions import FunctionSpec
from punchcard.engine import compile_ruleset
from punchcard.engine.hooks import EngineHooks
from punchcard.engine.policies.rewards import stock_limits
from punchcard.engine.program import Compiled

from .budgets import Plan
from .effective import without_effective

__all__ = ["Side", "HandedPlugins", "PluginsArg", "handed", "compiled_for", "remember_compiled", "same_events"]

_COMPILED: dict[str, Compiled] = {}
_OPEN: dict[str, Compiled] = {}  # the same, with no effective dates (--ignore-effective)
_PLANS: dict[str, Plan] = {}
_HANDED: dict[int, Any] = {}  # plugins handed in as objects, by id: found again by a forked worker

# What a host hands the dry-run: the plugins (``punchcard.plugins.manager.Plugins``), or a
# picklable function returning them (``get_plugin_manager``), which reaches any worker process.
PluginsArg = EngineHooks | Callable[[], Any] | None


class HandedPlugins:
    """Plugins handed in as an object, as a side carries them: pickled as a key, the object
    stays in this process's table, where a worker forked from it finds it too. A process
    that did not fork from it (a Dask worker) needs plugins handed in as a function."""

    def __init__(self, plugins: Any) -> None:
        self.key = id(plugins)
        _HANDED.setdefault(self.key, plugins)

    def __call__(self) -> Any:
        plugins = _HANDED.get(self.key)
        if plugins is None:
            raise RuntimeError("this process cannot reach the plugins the dry-run was handed: hand in a function "
                               "returning them (punchcard.plugins.manager.get_plugin_manager), not the object")
        return plugins

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HandedPlugins) and other.key == self.key

    def __hash__(self) -> int:
        return self.key


def handed(plugins: PluginsArg) -> Callable[[], Any] | None:
    """The plugins as a side carries them: a function returning them, which pickles."""
    if plugins is None or callable(plugins):
        return plugins
    return HandedPlugins(plugins)


def remember_compiled(spec: str, compiled: Compiled) -> None:
    """Keep a ruleset compiled elsewhere, so :func:`compiled_for` returns it rather than compiling again."""
    _COMPILED.setdefault(spec, compiled)


def compiled_for(spec: str, functions: Sequence[FunctionSpec] = (),
                 plugins: Callable[[], Any] | None = None) -> Compiled:
    """The compiled ruleset for a path or a YAML text, compiled once per process, with the
    built-in functions and ``functions`` (else the plugins' own), and the models it names loaded
    by ``plugins()``."""
    compiled = _COMPILED.get(spec)
    if compiled is None:
        handed_in = plugins() if plugins is not None else None
        compiled = _COMPILED[spec] = compile_ruleset(spec if "\n" in spec else Path(spec), tuple(functions) or None,
                                                     plugins=handed_in)
    return compiled


def same_events(compiled: list) -> bool:
    """Do all these rulesets read every row into the same event? Then one parse serves them all.
    A schema is its declared types (fields in order), its timezone and its naive-time rule."""
    def key(schema) -> tuple:
        return ({kind: list(fields.items()) for kind, fields in schema.event_fields.items()}, schema.tz,
                schema.naive_ok)

    first = key(compiled[0].schema)
    return all(key(other.schema) == first for other in compiled[1:])


@dataclass(frozen=True)
class Side:
    spec: str  # a ruleset path, or its YAML text
    month_tz_name: str  # months are those of the ruleset under test, for both sides
    plan_ref: Plan | str = field(default_factory=Plan)
    functions: tuple[FunctionSpec, ...] = ()  # beyond the built-ins: those of the plugins handed in
    plugins: Callable[[], Any] | None = None  # the plugins handed in, which load the models (see handed)
    ignore_effective: bool = False  # --ignore-effective: in effect on every day (.effective)

    @property
    def compiled(self):
        compiled = compiled_for(self.spec, self.functions, self.plugins)
        if not self.ignore_effective:
            return compiled
        opened = _OPEN.get(self.spec)
        if opened is None:
            opened = _OPEN[self.spec] = without_effective(compiled)
        return opened

    @cached_property
    def budgets(self) -> dict[str, Decimal]:
        split = self.compiled.split  # with variants, each variant's budgets, shared by all who run the rule
        programs = [self.compiled, *(split.programs.values() if split is not None else ())]
        return {b.rule: b.max_points for program in programs for b in program.model.earning.budgets} | {
            rule: stock for program in programs for rule, stock in stock_limits(program).items()}  # rewards:

    @cached_property
    def month_tz(self) -> ZoneInfo:
        return ZoneInfo(self.month_tz_name)

    @property
    def plan(self) -> Plan:
        if isinstance(self.plan_ref, Plan):
            return self.plan_ref
        plan = _PLANS.get(self.plan_ref)
        if plan is None:
            with open(self.plan_ref, "rb") as handle:
                plan = _PLANS[self.plan_ref] = pickle.load(handle)
        return plan

    def with_plan(self, plan_ref: Plan | str) -> Side:
        return Side(self.spec, self.month_tz_name, plan_ref, self.functions, self.plugins, self.ignore_effective)
