"""Reading one field value of an event: numbers, money, points, text, dates, times and lists.

Each reader takes a raw JSON-like value and returns it normalised (a Decimal, an aware
datetime in the ruleset's timezone, a tuple for a list), or raises ValueError whose text
completes "<field> ...": it names what was expected, never a long value.
:class:`~.events.EventSchema` picks a reader per declared field with :func:`reader`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from .numbers import Quantities, check_amount, check_number, check_points, describe, read_number

__all__ = ["Reader", "reader", "points_reader", "parse_time", "to_decimal", "shown", "YEARS", "OUT_OF_RANGE",
           "TIME_EXAMPLE", "MAX_TEXT_FIELD", "MAX_LIST"]

Reader = Callable[[Any], Any]  # a raw value -> the normalised one, or ValueError saying what was expected
MAX_TEXT_FIELD = 1000  # characters of a text field's value: a decision echoes it in its trace
MAX_LIST = 1000  # items of a list field
YEARS = (1900, 8999)  # an event's time, in the ruleset's zone: date arithmetic stays inside the calendar
OUT_OF_RANGE = f"is outside the supported range (the years {YEARS[0]} to {YEARS[1]} in the ruleset's timezone)"
TIME_EXAMPLE = "an ISO 8601 time such as 2026-03-02T08:15:00+03:00"
_SHOWN_TEXT = 40  # characters of a text value a message quotes
_SURROGATE = re.compile("[\ud800-\udfff]")


def to_decimal(value: Any) -> Decimal:
    """A finite Decimal read strictly from JSON-like input (:func:`.numbers.read_number`)."""
    return read_number(value)


def shown(value: Any) -> str:
    """``value`` for a message: short text quoted (cut at 40 characters), anything else by kind."""
    if isinstance(value, str):
        text = repr(value[:_SHOWN_TEXT])
        return text + "..." if len(value) > _SHOWN_TEXT else text
    return describe(value)


def parse_time(value: Any, tz: ZoneInfo, naive_ok: bool = True) -> dt.datetime:
    if isinstance(value, str):  # the common case first
        try:
            moment = _fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            raise ValueError(f"{shown(value)} is not {TIME_EXAMPLE}") from None
    elif isinstance(value, dt.datetime):
        moment = value
    else:
        raise ValueError(f"must be {TIME_EXAMPLE}, not {describe(value)}")
    if moment.tzinfo is None and not naive_ok:
        raise ValueError(f"{shown(value)} has no UTC offset, and this ruleset requires one")
    try:
        if moment.tzinfo is None:  # the ruleset's local time, fold included (combine: faster than replace)
            moment = _combine(moment.date(), moment.time(), tz) if type(moment) is dt.datetime \
                else moment.replace(tzinfo=tz)
            # A wall time the clocks skip (spring forward) is the instant Python gives it, at
            # the wall time that instant has: times of one zone compare by wall time, and a
            # store keeps the instant, so both must agree.
            moment = moment.astimezone(_UTC)
        return moment.astimezone(tz)
    except OverflowError:  # the first or last day of the calendar, moved across a zone
        raise ValueError(OUT_OF_RANGE) from None


_combine, _fromisoformat, _UTC = dt.datetime.combine, dt.datetime.fromisoformat, dt.UTC


def reader(kind: str, quantities: Quantities, tz: ZoneInfo, naive_ok: bool) -> Reader:
    """The function that checks and converts a value of type ``kind``: ValueError if it is wrong."""
    if kind == "money":
        return partial(_money, quantities)
    if kind in _READERS:
        return _READERS[kind]
    if kind == "datetime":
        return lambda value: parse_time(value, tz, naive_ok)
    if kind.startswith("list["):
        return partial(_list, reader(kind[5:-1], quantities, tz, naive_ok))
    return partial(_unsupported, kind)


def points_reader(step: Decimal) -> Reader:
    """Points given in an event: bounded and quantized as points (``step``), not as numbers."""
    return partial(_points, step)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{shown(value)} is not a date such as 2026-03-02")


def _money(quantities: Quantities, value: Any) -> Decimal:
    return check_amount(to_decimal(value), quantities.minor_unit, quantities.currency)


def _points(step: Decimal, value: Any) -> Decimal:
    return check_points(to_decimal(value), step)


def _number(value: Any) -> Decimal:
    return check_number(to_decimal(value))


def _integer(value: Any) -> Decimal:
    number = _number(value)
    if number != number.to_integral_value():
        raise ValueError("must be a whole number")
    return number


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    if len(value) > MAX_TEXT_FIELD:
        raise ValueError(f"is text of {len(value)} characters, more than the {MAX_TEXT_FIELD:,} a text field may hold")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.isascii() and _SURROGATE.search(value):
        raise ValueError("is not valid Unicode text (it holds a lone surrogate)")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _list(convert: Reader, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list")
    if len(value) > MAX_LIST:
        raise ValueError(f"has {len(value)} items, more than the {MAX_LIST:,} a list may hold")
    return tuple(convert(v) for v in value)


def _unsupported(kind: str, value: Any) -> NoReturn:
    raise ValueError(f"has an unsupported type {kind}")


_READERS: dict[str, Reader] = {
    "number": _number, "signed": _number, "integer": _integer,
    "string": _string, "bool": _bool, "date": _date,
}
