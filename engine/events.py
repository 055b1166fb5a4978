"""The event envelope: validation and normalisation at the engine's edge.

A bad event is rejected with every problem named, before anything changes.
Numbers become Decimal (never float: a float from an in-process host is taken by its
shortest repr), times become aware datetimes in the ruleset's timezone, and the
normalised body is hashed so a retried event can be told from a different one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from punchcard.dsl.errors import Code, Diagnostic, PunchcardError, Span
from punchcard.dsl.model import OPTIONAL, field_base_type

__all__ = ["Event", "EventSchema", "EventError", "parse_time", "to_decimal", "canonical_json"]

ENVELOPE = ("type", "id", "member", "time")
MAX_ID = 200


class EventError(PunchcardError):
    """A rejected event. ``problems`` names each field that is wrong."""

    def __init__(self, problems: list[str], event_id: str | None = None):
        self.problems = problems
        self.event_id = event_id
        where = f"event {event_id}" if event_id else "event"
        super().__init__([Diagnostic(Code.EVENT_ERROR, f"{where}: {p}", Span("<event>", 0, 0)) for p in problems])


@dataclass(slots=True, unsafe_hash=True)  # hashes (or fails to) as a frozen one would
class Event:
    """A validated event. Treat it as immutable: it is not frozen only because a frozen
    dataclass costs three times as much to build, on the engine's hottest path."""

    id: str
    type: str
    member: str
    time: dt.datetime
    fields: dict[str, Any]
    _digest: list = field(default_factory=list, compare=False, repr=False)  # computed once, on demand

    @property
    def body(self) -> dict[str, Any]:
        """The normalised event, JSON-ready: what the idempotency digest covers."""
        return {**{k: _jsonable(v) for k, v in self.fields.items()}, "type": self.type, "id": self.id,
                "member": self.member, "time": self.time.isoformat()}

    @property
    def digest(self) -> str:
        if not self._digest:  # hashing is only needed where a store checks idempotency
            self._digest.append(hashlib.sha256(canonical_json(self.body).encode()).hexdigest())
        return self._digest[0]

    def values(self) -> dict[str, Any]:
        """Field values as expressions see them (``event.<name>``)."""
        return {**self.fields, "id": self.id, "type": self.type, "member": self.member, "time": self.time}


def to_decimal(value: Any) -> Decimal:
    if type(value) is str:  # the common case first
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        number = _non_text_decimal(value)
    if not number.is_finite():
        raise ValueError("must be a finite number (NaN and Infinity are not amounts)")
    return number


def _non_text_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("is true/false, not a number")
    if isinstance(value, float):
        value = repr(value)  # its shortest repr: 0.1 is 0.1, not 0.1000000000000000055...
    try:
        number = Decimal(value) if isinstance(value, (int, str, Decimal)) else None
    except InvalidOperation:
        number = None
    if number is None:
        raise ValueError(f"{value!r} is not a number")
    return number


def parse_time(value: Any, tz: ZoneInfo, naive_ok: bool = True) -> dt.datetime:
    if isinstance(value, str):  # the common case first
        try:
            moment = _fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-03-02T08:15:00+03:00") from None
    elif isinstance(value, dt.datetime):
        moment = value
    else:
        raise ValueError(f"{value!r} is not a time")
    if moment.tzinfo is None:
        if not naive_ok:
            raise ValueError(f"{value!r} has no UTC offset, and this ruleset requires one")
        if type(moment) is dt.datetime:  # the same as .replace(tzinfo=tz), fold included, but faster
            return _combine(moment.date(), moment.time(), tz)
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


_combine, _fromisoformat = dt.datetime.combine, dt.datetime.fromisoformat


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date such as 2026-03-02")


class EventSchema:
    """Validates raw events against the ruleset's declared types."""

    def __init__(self, event_fields: Mapping[str, Mapping[str, str]], tz: ZoneInfo, naive_ok: bool = True):
        self.event_fields, self.tz, self.naive_ok = event_fields, tz, naive_ok
        self._specs: dict[str, tuple[_Spec, ...]] = {}
        for kind, declared in event_fields.items():
            spec = self._spec(declared)
            if spec is not None:
                self._specs[kind] = spec

    def __reduce__(self):  # the converters are closures: rebuild them rather than pickle them
        return EventSchema, (self.event_fields, self.tz, self.naive_ok)

    def parse(self, raw: Mapping[str, Any]) -> Event:
        """The validated event, or an :class:`EventError` naming every problem."""
        try:
            event = self._parse_valid(raw)
        except Exception:  # anything amiss: the full path below decides, and words the problems
            event = None
        return event if event is not None else self._parse_full(raw)

    def _parse_valid(self, raw: Any) -> Event | None:
        """The fast path for a plain dict that is valid: None (or any exception) when in doubt.
        It changes nothing, so falling back to :meth:`_parse_full` is always safe."""
        if type(raw) is not dict:
            return None
        kind, event_id, member = raw.get("type"), raw.get("id"), raw.get("member")
        spec = self._specs.get(kind) if type(kind) is str else None
        if spec is None or type(event_id) is not str or type(member) is not str \
                or len(event_id) > MAX_ID or len(member) > MAX_ID or not event_id.strip() or not member.strip():
            return None
        time = parse_time(raw.get("time"), self.tz, self.naive_ok)
        fields: dict[str, Any] = {}
        known = len(ENVELOPE)  # how many of raw's keys are declared: any more are unknown fields
        for name, convert, required in spec:
            value = raw.get(name)
            if value is None:
                if required:
                    return None
                known += name in raw
                continue
            fields[name] = convert(value)
            known += 1
        return Event(event_id, kind, member, time, fields) if len(raw) == known else None

    def _spec(self, declared: Mapping[str, str]) -> tuple[_Spec, ...] | None:
        """(name, converter, required) per declared field, or None to always take the full path."""
        if not all(isinstance(name, str) and isinstance(kind, str) and name not in ENVELOPE
                   for name, kind in declared.items()):
            return None
        return tuple((name, self._converter(field_base_type(kind)), not kind.startswith(OPTIONAL))
                     for name, kind in declared.items())

    def _converter(self, kind: str) -> Callable[[Any], Any]:
        """The function that checks and converts a value of type ``kind``: ValueError if it is wrong."""
        if kind in _CONVERTERS:
            return _CONVERTERS[kind]
        if kind == "datetime":
            tz, naive_ok = self.tz, self.naive_ok
            return lambda value: parse_time(value, tz, naive_ok)
        if kind.startswith("list["):
            return partial(_list, self._converter(kind[5:-1]))
        return partial(_unsupported, kind)

    def _parse_full(self, raw: Mapping[str, Any]) -> Event:
        """Validates ``raw`` checking everything, collecting every problem (the reference path)."""
        if not isinstance(raw, Mapping):
            raise EventError(["an event must be a JSON object"])
        event_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        problems: list[str] = []
        envelope = self._envelope(raw, problems)
        kind = envelope.get("type")
        declared = self.event_fields.get(kind) if isinstance(kind, str) else None
        fields: dict[str, Any] = {}
        if declared is not None:
            fields = self._fields(raw, declared, problems)
        if problems:
            raise EventError(problems, event_id)
        return Event(envelope["id"], envelope["type"], envelope["member"], envelope["time"], fields)

    def _envelope(self, raw: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in self.event_fields:
            known = ", ".join(sorted(self.event_fields))
            problems.append(f"type {kind!r} is not an event type of this ruleset (known: {known})")
        out["type"] = kind
        for key in ("id", "member"):
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
                problems.append(f"{key} must be a non-empty string of at most {MAX_ID} characters")
            out[key] = value
        try:
            out["time"] = parse_time(raw.get("time"), self.tz, self.naive_ok)
        except ValueError as exc:
            problems.append(f"time {exc}")
        return out

    def _fields(self, raw: Mapping[str, Any], declared: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name in sorted(set(raw) - set(declared) - set(ENVELOPE)):
            problems.append(f"unknown field {name!r} (declared: {', '.join(sorted(declared)) or 'none'})")
        for name, kind in declared.items():
            if name not in raw or raw[name] is None:
                if not kind.startswith(OPTIONAL):
                    problems.append(f"missing field {name!r} ({field_base_type(kind)})")
                continue
            try:
                fields[name] = self._value(raw[name], field_base_type(kind))
            except ValueError as exc:
                problems.append(f"{name} {exc}")
        return fields

    def _value(self, value: Any, kind: str) -> Any:
        return self._converter(kind)(value)


def _money(value: Any) -> Decimal:
    number = to_decimal(value)
    if number < 0:
        raise ValueError("must not be negative (send a refund for money going back)")
    return number


def _integer(value: Any) -> Decimal:
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError("must be a whole number")
    return number


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _list(convert: Callable[[Any], Any], value: Any) -> tuple:
    if not isinstance(value, list):
        raise ValueError("must be a list")
    return tuple(convert(v) for v in value)


def _unsupported(kind: str, value: Any) -> Any:
    raise ValueError(f"has an unsupported type {kind}")


_Spec = tuple[str, Callable[[Any], Any], bool]
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "money": _money, "number": to_decimal, "signed": to_decimal, "integer": _integer,
    "string": _string, "bool": _bool, "date": _date,
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def canonical_json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
