"""A ruleset taking part in a replay, as a picklable handle.

Worker processes get the ruleset's path (or text), and the functions it may use beyond
the built-ins (those of the plugins the run was handed), and compile it once each; the
compiled ruleset is cached per process. A side also carries its budget plan for the
current pass (see :mod:`.budgets`), either inline or as a file every worker loads
once.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from punchcard.dsl.functions import FunctionSpec
from punchcard.engine import compile_ruleset
from punchcard.engine.program import Compiled

from .budgets import Plan

__all__ = ["Side", "compiled_for", "remember_compiled", "same_events"]

_COMPILED: dict[str, Compiled] = {}
_PLANS: dict[str, Plan] = {}


def remember_compiled(spec: str, compiled: Compiled) -> None:
    """Keep a ruleset compiled elsewhere, so :func:`compiled_for` returns it rather than compiling again."""
    _COMPILED.setdefault(spec, compiled)


def compiled_for(spec: str, functions: Sequence[FunctionSpec] = ()) -> Compiled:
    """The compiled ruleset for a path or a YAML text, compiled once per process, with the
    built-in functions and ``functions``."""
    compiled = _COMPILED.get(spec)
    if compiled is None:
        compiled = _COMPILED[spec] = compile_ruleset(spec if "\n" in spec else Path(spec), functions)
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

    @property
    def compiled(self):
        return compiled_for(self.spec, self.functions)

    @cached_property
    def budgets(self) -> dict[str, Decimal]:
        return {b.rule: b.max_points for b in self.compiled.model.earning.budgets}

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
        return Side(self.spec, self.month_tz_name, plan_ref, self.functions)
