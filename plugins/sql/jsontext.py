"""JSON text for document columns, and the stored decision written straight to text.

Every document column is serialised by :func:`dumps` (compact, no NaN, never a
float from a Decimal). A value that is already JSON text is marked
:class:`JsonText` and goes to the database as it is.

:func:`decision_text` writes ``Decision.to_dict()``, the host's form of a decision,
with the same encoder: a stored decision is exactly what the host was answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]  # not in typeshed
from typing import Any

from punchcard.engine.runtime.decision import Decision, to_jsonable

__all__ = ["JsonText", "dumps", "decision_text", "jsonable_text"]


class JsonText(str):
    """Text that is JSON already: stored without being serialised again."""

    __slots__ = ()


def _unknown(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _compact(default) -> Callable[[Any], str]:
    """Compact JSON text, never NaN. One C encoder made once: ``json.dumps`` sets one up
    on every call, which costs more than encoding a small document."""
    if c_make_encoder is None:
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False, default=default).encode
    encode = c_make_encoder(None, default, encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0))


_plain = _compact(_unknown)


def dumps(value: Any) -> str:
    """The JSON serialiser of every document column (``json_serializer`` of the engines)."""
    if type(value) is JsonText:
        return value
    return _plain(value)


# -- decisions -------------------------------------------------------------------------
def decision_text(decision: Decision) -> JsonText:
    """``decision.to_dict()`` as compact JSON text: the stored decision is the host's."""
    return JsonText(_plain(decision.to_dict()))


def jsonable_text(value: Any) -> JsonText:
    """``to_jsonable(value)`` as JSON text: how a decision shows a value (an effect's detail)."""
    return JsonText(_plain(to_jsonable(value)))
