"""Built-in plugin: extra expression functions, added through ``punchcard_functions``
exactly as a third-party plugin would add its own.

* ``clamp(x, low, high)``: ``x`` limited to ``[low, high]``, e.g. ``clamp(event.amount, 0, 5000)``;
* ``days_until_birthday(date)``: whole days from today (the event's date in the
  ruleset's timezone) to the next birthday, 0 on the day itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from punchcard.dsl.functions import FunctionSpec
from punchcard.dsl.types import DATE, MONEY, NUMBER, Type, is_numeric, unify

from .hookspecs import hookimpl

__all__ = ["SPECS", "punchcard_functions", "clamp", "days_until_birthday"]

NUMERIC = (NUMBER, MONEY)


def _clamp_type(args: Sequence[Type]) -> Type | None:
    result: Type | None = args[0]
    for t in args[1:]:
        if result is None:
            return None  # two arguments that do not mix: no third makes them
        result = unify(result, t)
    return result if result is not None and is_numeric(result) else None


def clamp(ctx, x: Decimal, low: Decimal, high: Decimal) -> Decimal:
    """``x`` limited to ``[low, high]``; if ``low`` is above ``high``, ``high`` wins."""
    return min(max(x, low), high)


def _birthday_in(year: int, born: dt.date) -> dt.date:
    # Members born on 29 February celebrate on 28 February in common years.
    if (born.month, born.day) == (2, 29) and not _is_leap(year):
        return dt.date(year, 2, 28)
    return born.replace(year=year)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_until_birthday(ctx, born: dt.date) -> Decimal:
    """Whole days from ``ctx.now``'s date to the next birthday; 0 on the birthday."""
    now = ctx.now
    today = now.date() if isinstance(now, dt.datetime) else now
    upcoming = _birthday_in(today.year, born)
    if upcoming < today:
        upcoming = _birthday_in(today.year + 1, born)
    return Decimal((upcoming - today).days)


SPECS = [
    FunctionSpec("clamp", (NUMERIC, NUMERIC, NUMERIC), _clamp_type, clamp,
                 "x limited to the range low..high: clamp(x, low, high)"),
    FunctionSpec("days_until_birthday", ((DATE,),), NUMBER, days_until_birthday,
                 "whole days from today to the next birthday of a birth date (0 on the day)"),
]


@hookimpl
def punchcard_functions() -> list[FunctionSpec]:
    return list(SPECS)
