"""Type-checks expressions against a ruleset's schema, before anything runs.

The checker walks the AST with a :class:`Scope` (which event types the expression
runs on, and whether ``streak.length`` is visible), records a type for every node and
collects diagnostics instead of stopping at the first. After an error in a subtree
the subtree's type is :data:`ERROR`, which mixes with anything, so one mistake
gives one message.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import ast
from .errors import Code, Diagnostic, Span
from .functions import AGGREGATES, FunctionSpec
from .item_checks import ITEM_FIELDS, ITEM_VALUES, item_field_problem, per_line_aggregate, undeclared_baskets
from .offers import OFFER_FIELDS
from .types import (
    BOOL,
    DATE,
    DATETIME,
    DURATION,
    MONEY,
    NOTHING,
    NUMBER,
    STRING,
    TIME,
    Type,
    arithmetic_result,
    comparable,
    is_numeric,
    list_of,
    unify,
)

__all__ = ["ERROR", "Scope", "SchemaView", "ExprChecker", "ENVELOPE_FIELDS", "MEMBER_BUILTINS", "SCORE", "SEGMENT",
           "SEGMENT_MODEL", "did_you_mean"]

ERROR = Type("error")
SCORE = "score"  # score("NAME"): a model's score, checked here like count() and sum()
SEGMENT, SEGMENT_MODEL = "segment", "segments"  # member.segment reads the model named segments (docs/models.md)
_FIELD_PARTS = 2  # a field is read as a record and one of its fields: event.amount
ENVELOPE_FIELDS: dict[str, Type] = {"id": STRING, "type": STRING, "member": STRING, "time": DATETIME}
MEMBER_BUILTINS: dict[str, Type] = {"id": STRING, "tier": STRING, "balance": NUMBER}
_EXAMPLE_FIELD = {"event": "amount", "member": "tier", "streak": "length", "item": "amount"}
_LITERAL_TYPES = {ast.Number: NUMBER, ast.String: STRING, ast.Bool: BOOL, ast.DateLit: DATE,
                  ast.TimeLit: TIME, ast.DurationLit: DURATION}


@dataclass(frozen=True)
class Scope:
    """Where an expression runs: on which event types (None = any), with which extras."""

    event_types: tuple[str, ...] | None = None
    streak: bool = False
    offer: bool = False  # offer.<field> is readable (choosing offers, a granted rule, a no_offer rule)
    eventless: bool = False  # no event: choosing offers or a message may run between events (a tick)
    item: bool = False  # item.<field> is readable: a per_item rule, asked of each line of event.items


@dataclass
class SchemaView:
    """What names mean in a ruleset: field types per event type, member fields, lets."""

    events: dict[str, dict[str, Type]]
    member: dict[str, Type]
    optional: set[tuple[str, str]] = field(default_factory=set)  # (event type | "member", field)
    tiers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # the ruleset's models: section, which score("NAME") reads


Locator = Callable[[int, int], Span]
LetResolver = Callable[[str, Scope], Type]


class ExprChecker:
    """Checks one expression. ``resolve_let`` types a ``let`` name in a scope (and records the use)."""

    def __init__(self, schema: SchemaView, functions: dict[str, FunctionSpec], lets: set[str],
                 resolve_let: LetResolver, locate: Locator, scope: Scope):
        self.schema, self.functions, self.lets = schema, functions, lets
        self.resolve_let, self.locate, self.scope = resolve_let, locate, scope
        self.types: dict[int, Type] = {}
        self.diagnostics: list[Diagnostic] = []
        self.names_used: set[str] = set()
        self.aggregates: list[ast.Call] = []

    # -- entry points -----------------------------------------------------------------
    def check(self, node: ast.Node, expected: tuple[Type, ...] | None = None, what: str = "this") -> Type:
        if problem := undeclared_baskets(self.scope.item and what in ITEM_VALUES, self.schema.events, self.scope):
            self.error(node, Code.TYPE_ERROR, *problem)
        actual = self.visit(node)
        if expected and actual is not ERROR and not any(_fits(actual, e) for e in expected):
            wanted = " or ".join(str(e) for e in expected)
            self.error(node, Code.TYPE_ERROR, f"{what} must be {wanted}, but the expression is {actual}")
        return actual

    def error(self, node: ast.Node, code: Code, message: str, hint: str | None = None) -> Type:
        self.diagnostics.append(Diagnostic(code, message, self.locate(node.line, node.column), hint=hint))
        return ERROR

    def visit(self, node: ast.Node) -> Type:
        method = getattr(self, "visit_" + type(node).__name__, None)
        result = method(node) if method else _LITERAL_TYPES.get(type(node), ERROR)
        self.types[id(node)] = result
        return result

    # -- names ------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> Type:
        name = node.id
        if name.startswith("__"):
            return self.error(node, Code.UNKNOWN_NAME, f"names starting with __ are not allowed: {name}")
        if name == "now":
            return DATETIME
        if name in self.lets:
            self.names_used.add(name)
            return self.resolve_let(name, replace(self.scope, item=False))  # once per event: no item in a let
        if name in ("event", "member", "streak", "item"):
            return self.error(node, Code.TYPE_ERROR, f"{name} is not a value on its own",
                              hint=f"read one of its fields, e.g. {name}.{_EXAMPLE_FIELD[name]}")
        if name in self.schema.events:
            return self.error(node, Code.TYPE_ERROR, f"{name} is an event type, not a value",
                              hint=f"count it over a window: count({name}, within: 30 days)")
        return self.error(node, Code.UNKNOWN_NAME, f"unknown name {name!r}", hint=did_you_mean(name, self._all_names()))

    def visit_Field(self, node: ast.Field) -> Type:
        path = ast.path_of(node)
        if path is None or len(path) != _FIELD_PARTS:
            return self.error(node, Code.TYPE_ERROR, "fields can be read only as event.x, member.x or streak.length")
        root, name = path
        if name.startswith("__"):
            return self.error(node, Code.UNKNOWN_NAME, f"names starting with __ are not allowed: {name}")
        readers = {"event": self._event_field, "member": self._member_field, "streak": self._streak_field,
                   "offer": self._offer_field, "item": self._item_field}
        reader = readers.get(root)
        if reader is None:
            return self.error(node, Code.UNKNOWN_NAME, f"unknown name {root!r}",
                              hint=did_you_mean(root, self._all_names()))
        return reader(node, name)

    def _streak_field(self, node: ast.Field, name: str) -> Type:
        if self.scope.streak and name == "length":
            return NUMBER
        return self.error(node, Code.UNKNOWN_NAME, f"streak.{name} is not available here",
                          hint="streak.length can be used inside a streak's rewards")

    def _item_field(self, node: ast.Field, name: str) -> Type:
        problem = item_field_problem(self.scope.item, name, did_you_mean)
        return ITEM_FIELDS[name] if problem is None else self.error(node, Code.UNKNOWN_NAME, *problem)

    def _offer_field(self, node: ast.Field, name: str) -> Type:
        if not self.scope.offer:
            return self.error(node, Code.UNKNOWN_NAME, f"offer.{name} is not available here",
                              hint="offer fields are read in offers: and in no_offer compliance rules")
        if name not in OFFER_FIELDS:
            return self.error(node, Code.UNKNOWN_NAME, f"offer.{name} is not an offer field",
                              hint=did_you_mean(name, sorted(OFFER_FIELDS), prefix="offer."))
        return OFFER_FIELDS[name]

    def _event_field(self, node: ast.Field, name: str) -> Type:
        if self.scope.eventless:
            return self.error(node, Code.UNKNOWN_NAME, f"event.{name} is not available here",
                              hint="offers are chosen for a member at a time, with or without an event: "
                                   "read member fields, history (count, sum) or offer fields" if self.scope.offer
                              else "a message may follow any event, a tick included: read member fields")
        if name in ENVELOPE_FIELDS:
            return ENVELOPE_FIELDS[name]
        types = self.scope.event_types or tuple(t for t, f in self.schema.events.items() if name in f)
        missing = [t for t in types if name not in self.schema.events.get(t, {})]
        if not types or missing:
            fields = sorted(set(ENVELOPE_FIELDS).union(*(self.schema.events.get(t, {}) for t in types or ())))
            where = f" on {', '.join(missing)}" if missing else ""
            return self.error(node, Code.UNKNOWN_NAME, f"event.{name} is not a field{where}",
                              hint=did_you_mean(name, fields, prefix="event."))
        found = {self.schema.events[t][name] for t in types}
        return found.pop() if len(found) == 1 else self.error(
            node, Code.TYPE_ERROR, f"event.{name} has different types on {', '.join(types)}")

    def _member_field(self, node: ast.Field, name: str) -> Type:
        if name == SEGMENT and name not in self.schema.member:  # the RFM segment of a segments model
            if SEGMENT_MODEL in self.schema.models:
                return STRING
            return self.error(node, Code.UNKNOWN_NAME, "member.segment needs a segments model",
                              hint=f"name one under models: ({SEGMENT_MODEL}: models/segments.skops), trained with "
                                   "punchcard model train --target segments")
        fields = {**MEMBER_BUILTINS, **self.schema.member}
        if name not in fields:
            return self.error(node, Code.UNKNOWN_NAME, f"member.{name} is not a member field",
                              hint=did_you_mean(name, sorted(fields), prefix="member."))
        return fields[name]

    def _all_names(self) -> list[str]:
        fields = set(ENVELOPE_FIELDS).union(*(self.schema.events.get(t, {}) for t in self.scope.event_types or ()))
        return sorted(self.lets | {"now"} | {f"event.{f}" for f in fields} |
                      {f"member.{f}" for f in {**MEMBER_BUILTINS, **self.schema.member}})

    # -- operators --------------------------------------------------------------------
    def visit_ListLit(self, node: ast.ListLit) -> Type:
        item = NOTHING
        for element in node.items:
            element_type = self.visit(element)
            if element_type is ERROR:
                return ERROR
            merged = unify(item, element_type)
            if merged is None:
                return self.error(element, Code.TYPE_ERROR, f"a list mixes {item} and {element_type}")
            item = merged
        return list_of(item)

    def visit_Unary(self, node: ast.Unary) -> Type:
        operand = self.visit(node.operand)
        if operand is ERROR or is_numeric(operand) or operand == DURATION:
            return operand
        return self.error(node, Code.TYPE_ERROR, f"cannot negate a {operand}")

    def visit_Binary(self, node: ast.Binary) -> Type:
        left, right = self.visit(node.left), self.visit(node.right)
        if ERROR in (left, right):
            return ERROR
        result = arithmetic_result(node.op, left, right)
        if result is None:
            hint = None
            if STRING in (left, right):  # text has no arithmetic: say what it is for instead
                hint = "join text in the host, not in rules" if node.op == "+" else \
                    "text takes no arithmetic: compare it with == or in, or read a number field"
            return self.error(node, Code.TYPE_ERROR, f"cannot compute {left} {node.op} {right}", hint=hint)
        return result

    def visit_Compare(self, node: ast.Compare) -> Type:
        left, right = self.visit(node.left), self.visit(node.right)
        if ERROR in (left, right):
            return BOOL
        if node.op in ("in", "not in"):
            if not right.is_list:
                return self.error(node, Code.TYPE_ERROR, f"'{node.op}' needs a list on its right, not {right}")
            if right.element != NOTHING and not comparable(left, right.element, "=="):
                return self.error(node, Code.TYPE_ERROR, f"a {left} is never in a list of {right.element}")
            return BOOL
        if not comparable(left, right, node.op):
            return self.error(node, Code.TYPE_ERROR, f"cannot compare {left} {node.op} {right}",
                              hint=_compare_hint(left, right))
        self._check_tier_literal(node)
        return BOOL

    def _check_tier_literal(self, node: ast.Compare) -> None:
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if (ast.path_of(side) == ("member", "tier") and isinstance(other, ast.String) and self.schema.tiers
                    and other.value not in self.schema.tiers):
                self.error(other, Code.UNKNOWN_NAME, f"there is no tier {other.value!r}",
                           hint=did_you_mean(other.value, self.schema.tiers) or
                           f"tiers are {', '.join(self.schema.tiers)}")

    def visit_Logical(self, node: ast.Logical) -> Type:
        for side in (node.left, node.right):
            self.check(side, (BOOL,), f"each side of '{node.op}'")
        return BOOL

    def visit_Not(self, node: ast.Not) -> Type:
        self.check(node.operand, (BOOL,), "the operand of 'not'")
        return BOOL

    def visit_If(self, node: ast.If) -> Type:
        self.check(node.condition, (BOOL,), "the condition of 'if'")
        then, otherwise = self.visit(node.then), self.visit(node.otherwise)
        if ERROR in (then, otherwise):
            return ERROR
        common = unify(then, otherwise)
        if common is None:
            return self.error(node, Code.TYPE_ERROR, f"'then' gives {then} but 'else' gives {otherwise}")
        return common

    # -- calls ------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> Type:
        if node.function in AGGREGATES:
            return self._aggregate(node)
        if node.function == SCORE:
            return self._score(node)
        spec = self.functions.get(node.function)
        if spec is None:
            return self.error(node, Code.UNKNOWN_NAME, f"unknown function {node.function!r}",
                              hint=did_you_mean(node.function, sorted(self.functions) + list(AGGREGATES)))
        if node.keywords:
            return self.error(node.keywords[0], Code.TYPE_ERROR, f"{node.function}() takes no named arguments")
        low, high = spec.arity
        if len(node.args) < low or (high is not None and len(node.args) > high):
            expected = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            return self.error(node, Code.ARITY_ERROR,
                              f"{node.function}() takes {expected} arguments, got {len(node.args)}",
                              hint=spec.doc or None)
        return self._call_types(node, spec)

    def _call_types(self, node: ast.Call, spec: FunctionSpec) -> Type:
        arg_types = []
        for index, arg in enumerate(node.args):
            accepted = spec.params[min(index, len(spec.params) - 1)]
            actual = self.visit(arg)
            if actual is not ERROR and not any(_fits(actual, a) for a in accepted):
                self.error(arg, Code.TYPE_ERROR, f"argument {index + 1} of {spec.name}() must be "
                           f"{' or '.join(str(a) for a in accepted)}, not {actual}", hint=spec.doc or None)
                actual = ERROR
            arg_types.append(actual)
        if ERROR in arg_types:
            return ERROR
        for index, bound in spec.bounds:
            value = _literal(node.args[index]) if index < len(node.args) else None
            why = bound.problem(value) if value is not None else None
            if why is not None:  # a computed value is refused when the rule runs, in the same words
                return self.error(node.args[index], Code.LIMIT_ERROR, why, hint=spec.doc or None)
        result = spec.result_type(arg_types)
        if result is None:
            return self.error(node, Code.TYPE_ERROR, f"{spec.name}() cannot combine {', '.join(map(str, arg_types))}")
        return result

    def _score(self, node: ast.Call) -> Type:
        """``score("NAME")``: a model of the ruleset's models: section, a number from 0 to 1."""
        example = f'score("{self.schema.models[0] if self.schema.models else "churn"}")'
        if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.String):
            return self.error(node, Code.ARITY_ERROR, "score() takes the name of a model, in quotes",
                              hint=f"for example {example}")
        name = node.args[0].value
        if name not in self.schema.models:
            return self.error(node.args[0], Code.UNKNOWN_NAME, f"unknown model {name!r}",
                              hint=did_you_mean(name, self.schema.models) or
                              f"declare it under models: ({name}: models/{name}.skops)")
        return NUMBER

    def _aggregate(self, node: ast.Call) -> Type:
        name = node.function
        if problem := per_line_aggregate(self.scope.item, name):  # a let reads the history once per event
            return self.error(node, Code.LIMIT_ERROR, *problem)
        example = "count(purchase, within: 60 minutes)" if name == "count" else "sum(purchase.amount, within: 30 days)"
        within = node.keyword("within")
        if len(node.args) != 1 or within is None or len(node.keywords) != 1:
            return self.error(node, Code.ARITY_ERROR, f"{name}() takes an event{' field' if name == 'sum' else ''} "
                              "and within: a duration", hint=f"for example {example}")
        self.check(within, (DURATION,), "within:")
        path = ast.path_of(node.args[0])
        if not path or path[0] not in self.schema.events or len(path) != (1 if name == "count" else 2):
            return self.error(node.args[0], Code.TYPE_ERROR, f"{name}() needs an event type "
                              f"{'' if name == 'count' else 'and a field '}as its first argument",
                              hint=f"for example {example}")
        event_type = path[0]
        self.aggregates.append(node)
        if name == "count":
            return NUMBER
        field_type = self.schema.events[event_type].get(path[1])
        if field_type is None or not is_numeric(field_type):
            return self.error(node.args[0], Code.TYPE_ERROR, f"{event_type}.{path[1]} is not a number field",
                              hint=did_you_mean(path[1], list(self.schema.events[event_type])))
        return field_type


def _literal(node: ast.Node):
    """The value of a number written as a literal (``2``, ``-2``), else None."""
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.Unary) and node.op == "-":
        inner = _literal(node.operand)
        return -inner if inner is not None else None
    return None


def did_you_mean(name: str, candidates, prefix: str = "") -> str | None:
    """A "did you mean `x`?" hint for the closest candidate, or None."""
    close = difflib.get_close_matches(name, [c.removeprefix(prefix) for c in candidates], n=1, cutoff=0.6)
    if close:
        return f"did you mean `{prefix}{close[0]}`?"
    close = difflib.get_close_matches(prefix + name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _fits(actual: Type, accepted: Type) -> bool:
    if actual == accepted or actual is ERROR:
        return True
    if accepted.name == "list" and accepted.item is None:
        return actual.is_list
    if accepted == MONEY and actual == NUMBER:
        return True
    if accepted == NUMBER and actual == MONEY:
        return True
    return actual.is_list and accepted.is_list and actual.item in (NOTHING, accepted.item)


def _compare_hint(left: Type, right: Type) -> str | None:
    kinds = {left, right}
    if DATETIME in kinds and NUMBER in kinds:
        return "use hour(event.time) to compare the hour, or a date like 2026-03-02"
    if DATETIME in kinds and DATE in kinds:
        return "use date(event.time) to compare with a date"
    if DATETIME in kinds and TIME in kinds:
        return "use time_of_day(event.time) to compare with a time like 10:00"
    if STRING in kinds and (NUMBER in kinds or MONEY in kinds):
        return "text and numbers never compare; quote the number or compare with another field"
    return None

