"""The engine's numbers: their bounds, how input is read, and the exact context they run in.

Every amount and every point is a :class:`~decimal.Decimal` held exactly
(docs/semantics.md, "Numbers and bounds"):

* an amount (``money``) is at least 0, at most :data:`MAX_AMOUNT` in major units, and a
  multiple of the currency's minor unit (two decimals for USD, none for JPY, three for BHD);
* points given in an event (``redeem``, ``adjust``) are at most :data:`MAX_POINTS` either
  way and a multiple of the ruleset's rounding step; an event may earn at most
  :data:`MAX_POINTS`;
* any other number has at most :data:`MAX_DIGITS` digits before the decimal point and as
  many after it.

Text is read strictly: ASCII digits, an optional sign, point and exponent, at most
:data:`MAX_TEXT` characters (Python's Decimal would also take ``"5_0"``, ``" 5 "`` and
other scripts' digits); ``-0`` is refused too. Arithmetic runs in :func:`context`: wide
enough that sums of points stay exact (see :func:`precision`), with overflow and invalid
operations trapped.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, DecimalTuple
from typing import Any, ParamSpec, TypeVar

from punchcard.dsl.model import Ruleset
from punchcard.dsl.vocabulary import MAX_STEP_PLACES

from ..program import Compiled

__all__ = ["Quantities", "MAX_AMOUNT", "MAX_POINTS", "MAX_BALANCE", "MAX_DIGITS", "MAX_TEXT", "HEADROOM",
           "read_number", "places", "is_multiple", "exact_text", "precision", "context", "ruleset_context",
           "check_amount", "check_points", "check_number", "describe", "figure", "FIGURE_TEXT", "exactly"]

MAX_AMOUNT = Decimal(10) ** 12  # major units of the ruleset's currency
MAX_POINTS = Decimal(10) ** 15  # given in one event, or earned by one event
MAX_BALANCE = Decimal(10) ** 18  # a member's balance either way: with a step of at least 1e-6,
# every balance, lot and entry has at most 25 digits, exact in any 28-digit sum (stores, audit)
MAX_DIGITS = 18  # other numbers: digits before the point, and after it
MAX_TEXT = 64  # characters of a number written as text
HEADROOM = 30  # sums of points stay exact up to 10**(15 + HEADROOM): 10**30 events at the maximum


@dataclass(frozen=True, slots=True)
class Quantities:
    """What a ruleset's numbers are measured in: its currency's minor unit and its rounding step."""

    currency: str = "USD"
    minor_unit: int = 2
    step: Decimal = Decimal(1)

    @classmethod
    def of(cls, model: Ruleset) -> Quantities:
        return cls(model.currency, model.money_places, model.rounding.step)


_QUANTUM = [Decimal(1).scaleb(-n) for n in range(5)]  # 1, 0.1, 0.01, ... : one minor unit
_MAX_INT = 10 ** (MAX_DIGITS + 1)  # an int past this is refused before it is ever turned into text


def read_number(value: Any) -> Decimal:
    """A finite Decimal, read exactly from JSON-like input, or ValueError saying why not."""
    if type(value) is str:  # the common case first; Decimal itself refuses all else but these
        if len(value) > MAX_TEXT or not value.isascii() or "_" in value or value[:1] <= " " or value[-1:] <= " ":
            raise ValueError(_not_a_number(value))
        try:
            number = Decimal(value)
        except decimal.InvalidOperation:
            raise ValueError(_not_a_number(value)) from None
    elif isinstance(value, bool):
        raise ValueError("is true/false, not a number")
    elif isinstance(value, int):
        if not -_MAX_INT < value < _MAX_INT:
            raise ValueError(f"has more than {MAX_DIGITS} digits before the decimal point")
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # its shortest repr: 0.1 is 0.1, not 0.1000000000000000055...
    elif isinstance(value, Decimal):
        number = value
    else:
        raise ValueError(f"must be a number, not {describe(value)}")
    if not number.is_finite():
        raise ValueError("must be a finite number (NaN and Infinity are not amounts)")
    if number.is_zero() and number.is_signed():
        raise ValueError("is -0: write 0")
    return number


def _not_a_number(text: str) -> str:
    if len(text) > MAX_TEXT:
        return f"is text of {len(text)} characters, too long for a number (at most {MAX_TEXT})"
    if text.strip() != text:
        return "is a number with spaces around it: send the digits alone"
    if "_" in text:
        return "is a number with '_' in it: send the digits alone"
    if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
        return "must be a finite number (NaN and Infinity are not amounts)"
    return f"{text!r} is not a number"


def _exponent(parts: DecimalTuple) -> int:
    """The exponent of a finite number (NaN and infinity, never passed here, have a letter)."""
    if isinstance(parts.exponent, str):
        raise TypeError(f"{parts} is not a finite number")
    return parts.exponent


def _significant(value: Decimal) -> tuple[int, tuple[int, ...], int]:
    """``value``'s sign, digits and exponent with trailing zeros after the point dropped."""
    parts = value.as_tuple()
    sign, digits, exponent = parts.sign, parts.digits, _exponent(parts)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return sign, digits, exponent


def places(number: Decimal) -> int:
    """Decimal places ``number`` needs: 0 for 10.00, 2 for 10.50 (trailing zeros do not count)."""
    return 0 if not number else max(0, -_significant(number)[2])


def _integer_digits(number: Decimal) -> int:
    """Digits before the decimal point (0 for 0.5)."""
    return max(0, number.adjusted() + 1) if number else 0


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """``value`` is a whole multiple of ``step``, decided in integers (no rounding anywhere)."""
    if not value:  # zero, written with any exponent: 0E-999999999 would scale the step by 10**999999999
        return bool(step)
    v, s = value.as_tuple(), step.as_tuple()
    v_exponent, s_exponent = _exponent(v), _exponent(s)
    exponent = min(v_exponent, s_exponent)
    # both powers are of a non-negative exponent: whole numbers
    scaled_value: int = int("".join(map(str, v.digits)) or "0") * 10 ** (v_exponent - exponent)
    scaled_step: int = int("".join(map(str, s.digits)) or "0") * 10 ** (s_exponent - exponent)
    return scaled_step != 0 and scaled_value % scaled_step == 0


def exact_text(value: Decimal) -> str:
    """``value`` in plain digits with no trailing zeros, exactly: what ``normalize()`` gives
    in a context wide enough, never rounded to the current context's precision."""
    if not value:
        return "0"
    text = str(value)
    if "E" not in text and "." not in text:  # a whole number as written (the usual point or amount)
        return text
    return format(Decimal(_significant(value)), "f")


FIGURE_TEXT = 40  # characters of a figure a message writes out in full
_LEAD = 24  # digits a longer figure shows before its ellipsis


def figure(value: Decimal) -> str:
    """``value`` for a reason or a trace note: plain digits, never exponent notation. Up
    to FIGURE_TEXT characters it is exact (:func:`exact_text`); a longer one shows its
    leading digits, an ellipsis and how many digits it has, so nothing is cut silently.
    Never builds the full text of a huge figure (1E+999999 has a million digits)."""
    if not value.is_finite():
        return str(value)
    text = str(value)
    if "E" not in text and "." not in text and len(text) <= FIGURE_TEXT:  # a whole number that fits
        return text
    if not value:
        return "0"
    sign, digits, exponent = _significant(value)
    whole = len(digits) + exponent  # digits before the point (at most 0 for 0.05)
    decimals = max(0, -exponent)
    if sign + max(whole, 1) + (decimals + 1 if decimals else 0) <= FIGURE_TEXT:
        return format(Decimal((sign, digits, exponent)), "f")
    text = "".join(map(str, digits))
    minus = "-" if sign else ""
    if whole > _LEAD:
        return f"{minus}{text[:_LEAD].ljust(_LEAD, '0')}... ({whole} digits)"
    integer = text[:whole].ljust(whole, "0") if whole > 0 else "0"
    fraction = ("0" * min(_LEAD, -whole) if whole < 0 else "") + text[max(whole, 0):]
    # The integer part is shown whole (at most _LEAD digits), so the fraction gets what is left.
    shown = max(_LEAD - max(whole, 0), 2)
    return f"{minus}{integer}.{fraction[:shown]}... ({decimals} decimal places)"


def precision(step: Decimal) -> int:
    """Significant digits the engine computes with for a ruleset rounding to ``step``.

    A point balance is a multiple of ``step`` and, summed over events, at most
    10**(15 + HEADROOM) points: that many digits plus the step's decimal places hold
    every sum exactly. Amounts (at most 10**12 with four decimals) need far fewer."""
    return len(str(int(MAX_POINTS))) + HEADROOM + places(step)


_CONTEXTS: dict[int, decimal.Context] = {}


def context(step: Decimal) -> decimal.Context:
    """The arithmetic context for a ruleset: wide, and trapping overflow and invalid
    operations (a rule's division may still round, far past the step, before rounding)."""
    digits = precision(step)
    found = _CONTEXTS.get(digits)
    if found is None:
        found = _CONTEXTS[digits] = decimal.Context(
            prec=digits, rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
            traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
    return found


_FINEST = context(Decimal(1).scaleb(-MAX_STEP_PLACES))
_CONTEXT = "numbers:context"  # its key in ``compiled.memo``


_P = ParamSpec("_P")
_R = TypeVar("_R")


def exactly(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``method`` in the context of the finest step any ruleset may have, whatever
    context the calling thread has set: what a store adds up (balances, the ledger's
    running sums) is exact however the host set up its own arithmetic."""

    @functools.wraps(method)
    def in_context(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with decimal.localcontext(_FINEST):
            return method(*args, **kwargs)

    return in_context


def ruleset_context(compiled: Compiled) -> decimal.Context:
    """:func:`context` for a compiled ruleset, worked out once."""
    found = compiled.memo.get(_CONTEXT)
    if found is None:
        found = compiled.memo[_CONTEXT] = context(compiled.model.rounding.step)
    return found


def check_amount(number: Decimal, minor_unit: int, currency: str) -> Decimal:
    """An amount: at least 0, at most MAX_AMOUNT, in whole minor units of ``currency``."""
    if number < 0:
        raise ValueError("must not be negative (send a refund for money going back)")
    if number > MAX_AMOUNT:
        raise ValueError(f"is more than the largest amount accepted, {MAX_AMOUNT:,f} {currency}")
    if number != number.quantize(_QUANTUM[minor_unit]):  # at most 10**12 here: quantize is exact
        found = places(number)
        unit = "no decimals" if minor_unit == 0 else f"at most {_places_text(minor_unit)}"
        # "250.50" JPY needs one decimal place, not two: trailing zeros are said not to count
        raise ValueError(f"is not a whole number of {currency} minor units: it needs {_places_text(found)} "
                         f"(trailing zeros aside); {currency} amounts have {unit}")
    return number


def _places_text(count: int) -> str:
    return f"{count} decimal place{'s' if count != 1 else ''}"


def check_points(number: Decimal, step: Decimal) -> Decimal:
    """Points given in an event: at most MAX_POINTS either way, a multiple of ``step``."""
    if number.copy_abs() > MAX_POINTS:  # copy_abs: no context, so no overflow
        raise ValueError(f"is more than the most points one event may move, {MAX_POINTS:,f}")
    if places(number) > places(step) or not is_multiple(number, step):  # places first: 1e-99999 stays cheap
        raise ValueError(f"must be a multiple of the ruleset's rounding step, {exact_text(step)}")
    return number


def check_number(number: Decimal) -> Decimal:
    """Any other number: at most MAX_DIGITS digits before the point and MAX_DIGITS after."""
    if _integer_digits(number) > MAX_DIGITS:
        raise ValueError(f"has more than {MAX_DIGITS} digits before the decimal point")
    if places(number) > MAX_DIGITS:
        raise ValueError(f"has more than {MAX_DIGITS} decimal places")
    return number


def describe(value: Any) -> str:
    """What kind of value this is, in a few words, never the value itself (it may be huge)."""
    kinds = {type(None): "null", bool: "true/false", int: "a number", float: "a number", str: "text",
             list: "a list", tuple: "a list", dict: "an object", bytes: "bytes"}
    return kinds.get(type(value), type(value).__name__)
