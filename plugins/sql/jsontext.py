"""JSON text for document columns, and the stored decision written straight to text.

Every document column is serialised by :func:`dumps` (compact, no NaN, never a
float from a Decimal). A value that is already JSON text is marked
:class:`JsonText` and goes to the database as it is.

:func:`decision_text` writes ``Decision.to_dict()``, the host's form of a decision,
with the same encoder: a stored decision is exactly what the host was answered.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from punchcard.engine.runtime.decision import Decision, to_jsonable
from punchcard.engine.runtime.jsonwriter import json_writer

__all__ = ["JsonText", "dumps", "decimal_text", "decision_text", "jsonable_text"]


class JsonText(str):
    """Text that is JSON already: stored without being serialised again."""

    __slots__ = ()


def _unknown(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _shown(value: Any) -> Any:
    """What ``to_jsonable`` makes of a value the encoder cannot write itself (a Decimal, a
    time, a set); what it leaves as it is, ``_plain`` refuses, and so does this."""
    shown = to_jsonable(value)
    return _unknown(value) if shown is value else shown


_plain = json_writer(_unknown)
_as_shown = json_writer(_shown)  # writes to_jsonable(value) without building it first


def dumps(value: Any) -> str:
    """The JSON serialiser of every document column (``json_serializer`` of the engines)."""
    if type(value) is JsonText:
        return value
    return _plain(value)


def decimal_text(value: Decimal) -> str:
    """Canonical, exact text: no exponent, no float on the way."""
    if not isinstance(value, Decimal):
        raise TypeError(f"points must be Decimal, not {type(value).__name__} ({value!r})")
    return format(value, "f")


# -- decisions -------------------------------------------------------------------------
def decision_text(decision: Decision) -> JsonText:
    """``decision.to_dict()`` as compact JSON text: the stored decision is the host's."""
    return JsonText(_as_shown(decision.fields()))


def jsonable_text(value: Any) -> JsonText:
    """``to_jsonable(value)`` as JSON text: how a decision shows a value (an effect's detail)."""
    return JsonText(_as_shown(value))
