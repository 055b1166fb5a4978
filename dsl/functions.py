"""The fixed set of functions, with declared argument and result types.

Plugins add more through the ``punchcard_functions`` hook, as :class:`FunctionSpec`
values; the checker treats both alike. Implementations take a context first
(``ctx.now`` is the event time in the ruleset's timezone) and never read the clock.

``count`` and ``sum`` are window aggregates over the member's own history. Their
first argument names an event type, so the checker handles them itself
(:data:`AGGREGATES`) and the engine evaluates them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from .types import BOOL, DATE, DATETIME, ITEM, MONEY, NUMBER, STRING, TIME, Type, is_numeric, list_of, unify

__all__ = ["FunctionSpec", "WholeBound", "LINE_KEY", "ArgumentError", "BUILTINS", "AGGREGATES", "WEEKDAYS",
           "ROUND_PLACES", "function_table"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
AGGREGATES = ("count", "sum")
# names the checker reads itself before the table: a plugin function so named would never be called
RESERVED = (*AGGREGATES, "score")
NUMERIC = (NUMBER, MONEY)
WHEN = (DATE, DATETIME)

ResultRule = Type | Callable[[Sequence[Type]], Type | None]
ROUND_PLACES = 18  # round()'s places: as many decimals as any number may have


class ArgumentError(ValueError):
    """A function's argument is out of its range: the rule cannot be computed, and says why."""


@dataclass(frozen=True)
class WholeBound:
    """A whole-number argument's range. ``check`` refuses a literal out of it where it is
    written; the function refuses a computed one with the same words when it runs."""

    function: str
    what: str  # "decimal places"
    low: int
    high: int

    def problem(self, value: Decimal) -> str | None:
        """Why ``value`` is out of range (None: it is fine)."""
        if value == value.to_integral_value() and self.low <= value <= self.high:
            return None
        return (f"{self.function}() takes a whole number of {self.what} from {self.low} to {self.high}, "
                f"not {format(value, 'f')}")

    def checked(self, value: Decimal) -> int:
        why = self.problem(value)
        if why is not None:
            raise ArgumentError(why)
        return int(value)


@dataclass(frozen=True)
class FunctionSpec:
    """A function analysts may call. ``params`` lists the accepted types per argument;
    with ``variadic`` the last entry repeats. ``result`` is a type, or a function of
    the argument types returning the result type (None = no valid result)."""

    name: str
    params: tuple[tuple[Type, ...], ...]
    result: ResultRule
    impl: Callable[..., Any]
    doc: str = ""
    min_args: int | None = None
    variadic: bool = False
    bounds: tuple[tuple[int, WholeBound], ...] = ()  # (argument index, its range)

    def result_type(self, args: Sequence[Type]) -> Type | None:
        return self.result(args) if callable(self.result) else self.result

    @property
    def arity(self) -> tuple[int, int | None]:
        low = len(self.params) if self.min_args is None else self.min_args
        return low, None if self.variadic else len(self.params)


def _same_numeric(args: Sequence[Type]) -> Type | None:
    result: Type | None = args[0]
    for t in args[1:]:
        if result is None:  # two of the arguments do not mix: nor does the whole list
            return None
        result = unify(result, t)
    return result if result is not None and is_numeric(result) else None


def _first(args: Sequence[Type]) -> Type:
    return args[0]


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _age(ctx, born: dt.date) -> Decimal:
    today = _as_date(ctx.now)
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return Decimal(years)


_ROUND = WholeBound("round", "decimal places", 0, ROUND_PLACES)


def _round(ctx, value: Decimal, places: Decimal = Decimal(0)) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-_ROUND.checked(places)), rounding=ROUND_HALF_EVEN)


# Where a per_item rule's generated function finds the line it is asked about: a key of the
# event's values no declared field can have (field names are lower-case words).
LINE_KEY = "@item"
BASKET = (list_of(ITEM),)  # event.items, an order's lines (docs/baskets.md)
CATEGORIES = (STRING, list_of(STRING))  # one category, or any of several
SKUS = (list_of(STRING),)


def _in(line, categories) -> bool:
    """Whether a line is of ``categories``: one category's name, or a list of them."""
    return line["category"] == categories if isinstance(categories, str) else line["category"] in categories


def _basket_total(ctx, items, categories=None) -> Decimal:
    return sum((line["amount"] for line in items if categories is None or _in(line, categories)), Decimal(0))


def _count_items(ctx, items, categories=None) -> Decimal:
    return sum((line["quantity"] for line in items if categories is None or _in(line, categories)), Decimal(0))


def _units(items) -> dict[str, Decimal]:
    return {line["sku"]: line["quantity"] for line in items}  # a basket names each sku once


def _has_all(ctx, items, skus) -> bool:
    units = _units(items)
    return all(sku in units for sku in skus)


def _has_any(ctx, items, skus) -> bool:
    units = _units(items)
    return any(sku in units for sku in skus)


def _bundles(ctx, items, skus) -> Decimal:
    """Complete sets of ``skus`` in the basket: the fewest units of any one of them."""
    units = _units(items)
    return min((units.get(sku, Decimal(0)) for sku in skus), default=Decimal(0))


def _min(ctx, *values):
    return min(values)


def _max(ctx, *values):
    return max(values)


_SPECS = [
    FunctionSpec("hour", (WHEN,), NUMBER, lambda ctx, t: Decimal(getattr(t, "hour", 0)),
                 "hour of the day, 0-23, in the ruleset's timezone"),
    FunctionSpec("minute", ((DATETIME,),), NUMBER, lambda ctx, t: Decimal(t.minute), "minute of the hour, 0-59"),
    FunctionSpec("weekday", (WHEN,), STRING, lambda ctx, t: WEEKDAYS[t.weekday()],
                 'day of the week: "mon", "tue", ... "sun"'),
    FunctionSpec("day", (WHEN,), NUMBER, lambda ctx, t: Decimal(t.day), "day of the month, 1-31"),
    FunctionSpec("month", (WHEN,), NUMBER, lambda ctx, t: Decimal(t.month), "month of the year, 1-12"),
    FunctionSpec("year", (WHEN,), NUMBER, lambda ctx, t: Decimal(t.year), "the year"),
    FunctionSpec("date", ((DATETIME,),), DATE, lambda ctx, t: t.date(), "the calendar date of a time"),
    FunctionSpec("time_of_day", ((DATETIME,),), TIME, lambda ctx, t: t.time().replace(tzinfo=None),
                 "the wall-clock time of a time, for comparing with 10:00"),
    FunctionSpec("days_between", (WHEN, WHEN), NUMBER,
                 lambda ctx, a, b: Decimal((_as_date(b) - _as_date(a)).days),
                 "whole calendar days from the first to the second (negative if earlier)"),
    FunctionSpec("age", ((DATE,),), NUMBER, _age, "whole years from a date to now (a birthday counts on the day)"),
    FunctionSpec("min", (NUMERIC, NUMERIC), _same_numeric, _min, "the smallest of two or more numbers",
                 variadic=True),
    FunctionSpec("max", (NUMERIC, NUMERIC), _same_numeric, _max, "the largest of two or more numbers",
                 variadic=True),
    FunctionSpec("abs", (NUMERIC,), _first, lambda ctx, x: abs(x), "the absolute value"),
    FunctionSpec("round", (NUMERIC, (NUMBER,)), _first, _round,
                 f"round half to even, to the given decimal places (0 to {ROUND_PLACES}, default 0)", min_args=1,
                 bounds=((1, _ROUND),)),
    FunctionSpec("floor", (NUMERIC,), _first, lambda ctx, x: x.to_integral_value(rounding=ROUND_FLOOR),
                 "round down to a whole number"),
    FunctionSpec("ceil", (NUMERIC,), _first, lambda ctx, x: x.to_integral_value(rounding=ROUND_CEILING),
                 "round up to a whole number"),
    FunctionSpec("len", ((STRING, Type("list")),), NUMBER, lambda ctx, x: Decimal(len(x)),
                 "the length of a list or a string"),
    FunctionSpec("lower", ((STRING,),), STRING, lambda ctx, s: s.lower(), "the string in lower case"),
    FunctionSpec("starts_with", ((STRING,), (STRING,)), BOOL, lambda ctx, s, p: s.startswith(p),
                 "whether the first string starts with the second"),
    FunctionSpec("basket_total", (BASKET, CATEGORIES), MONEY, _basket_total,
                 'the amount of a basket\'s lines, of one category or a list of them if given: '
                 'basket_total(event.items, "coffee")', min_args=1),
    FunctionSpec("count_items", (BASKET, CATEGORIES), NUMBER, _count_items,
                 'the units in a basket (quantities added), of one category or a list of them if given: '
                 'count_items(event.items, "coffee")', min_args=1),
    FunctionSpec("has_all", (BASKET, SKUS), BOOL, _has_all,
                 'whether the basket holds every one of the skus: has_all(event.items, ["sku-1", "sku-2"])'),
    FunctionSpec("has_any", (BASKET, SKUS), BOOL, _has_any,
                 'whether the basket holds at least one of the skus: has_any(event.items, ["sku-1", "sku-2"])'),
    FunctionSpec("bundles", (BASKET, SKUS), NUMBER, _bundles,
                 'complete sets of the skus in the basket (the fewest units of any of them): '
                 'bundles(event.items, ["sku-1", "sku-2"])'),
]

BUILTINS: dict[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}


def function_table(extra: Sequence[FunctionSpec] = ()) -> dict[str, FunctionSpec]:
    """Built-ins plus plugin functions. A plugin cannot replace a built-in."""
    table = dict(BUILTINS)
    for spec in extra:
        if spec.name in table or spec.name in RESERVED:
            raise ValueError(f"function {spec.name!r} is already defined")
        table[spec.name] = spec
    return table
