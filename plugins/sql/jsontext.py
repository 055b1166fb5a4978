"""JSON text for document columns, and the stored decision written straight to text.

Every document column is serialised by :func:`dumps` (compact, no NaN, never a
float from a Decimal). A value that is already JSON text is marked
:class:`JsonText` and goes to the database as it is.

:func:`decision_text` writes ``Decision.to_dict()`` as text without building that
dictionary first: field by field, with the C JSON encoder (made once, not per call)
for effect details and trace values, calling back only for what JSON has no type for
(Decimals, times, sets). The text is exactly ``json.dumps(decision.to_dict())``,
compact; a test holds the two together.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]  # not in typeshed
from typing import Any

from punchcard.engine.runtime.decision import Decision, Effect, Step, TierView, to_jsonable

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
def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"  # as engine.decision.to_jsonable


def _isoformat(value) -> str:
    return value.isoformat()


def _unordered(value) -> list:
    return to_jsonable(value)  # sorted, as to_jsonable sorts sets


_PARTS = {
    Decimal: _decimal, dt.datetime: _isoformat, dt.date: _isoformat, dt.time: _isoformat,
    set: _unordered, frozenset: _unordered, Effect: Effect.fields,
    Step: lambda step: step.to_json(), TierView: lambda tier: tier.to_json(),
}


def _part(value: Any) -> Any:
    """What JSON has no type for, as ``to_jsonable`` shows it (called by the C encoder)."""
    convert = _PARTS.get(type(value))
    if convert is not None:
        return convert(value)
    for kind, convert in _PARTS.items():  # subclasses
        if isinstance(value, kind):
            return convert(value)
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "__iter__"):  # a sequence built on demand
        return list(value)
    raise TypeError(f"cannot write a {type(value).__name__} ({value!r}) into a stored decision")


_value = _compact(_part)  # any value as to_jsonable(value), then JSON text


def _text(value: Any) -> str:
    return encode_basestring(value) if type(value) is str else _value(value)


def _number(value: Any) -> str:
    return f'"{format(value.normalize(), "f") if value else "0"}"' if type(value) is Decimal else _value(value)


def _step(step: Step) -> str:
    out = f'{{"phase":{_text(step.phase)},"rule":{_text(step.rule)}'
    if step.fired is not None:
        out += ',"fired":true' if step.fired is True else ',"fired":false' if step.fired is False \
            else f',"fired":{_value(step.fired)}'
    if step.note:
        out += f',"note":{_text(step.note)}'
    if step.values:
        out += f',"values":{_value(step.values)}'
    if step.before is not None:
        out += f',"before":{_number(step.before)}'
    if step.after is not None:
        out += f',"after":{_number(step.after)}'
    return out + "}"


def decision_text(decision: Decision) -> JsonText:
    """``decision.to_dict()`` as JSON text, key for key."""
    d = decision
    effects = ",".join([_value(Effect.fields(e)) for e in d.effects])
    trace = ",".join([_step(s) for s in d.trace])
    tier = "null" if d.tier is None else _value(d.tier.to_json())
    time = "null" if not d.time else encode_basestring(d.time.isoformat())
    return JsonText(
        f'{{"event_id":{_text(d.event_id)},"member_id":{_text(d.member_id)},"ruleset":{_text(d.ruleset)},'
        f'"outcome":{_text(d.outcome)},"points":{_number(d.points)},"effects":[{effects}],'
        f'"balance":{_number(d.balance)},"pending":{_number(d.pending)},"tier":{tier},'
        f'"reason":{_text(d.reason)},"event_type":{_text(d.event_type)},"time":{time},"trace":[{trace}]'
        + ("" if d.variant is None else f',"variant":{_text(d.variant)}')
        + ("" if not d.models else ',"models":{' + ",".join(f"{_text(n)}:{_text(v)}" for n, v in d.models) + "}")
        + "}")


def jsonable_text(value: Any) -> JsonText:
    """``to_jsonable(value)`` as JSON text: how a decision shows a value (an effect's detail)."""
    return JsonText(_value(value))
