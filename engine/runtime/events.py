"""The event envelope: validation and normalisation at the engine's edge.

A bad event is rejected with every problem named, before anything changes.
Numbers become Decimal (never float: a float from an in-process host is taken by its
shortest repr), bounded and quantized as :mod:`engine.numbers` says; times become aware
datetimes in the ruleset's timezone, within :data:`YEARS`; ids are text without control
characters. Each declared field is read by its type's reader (:mod:`.readers`). The
normalised body is hashed, every number written exactly, so a retried event can be told
from a different one. A problem names the field and what was expected,
never a long value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from punchcard.dsl.errors import Code, Diagnostic, PunchcardError, Span
from punchcard.dsl.types import LINE_ITEMS, RETURNED_ITEMS
from punchcard.dsl.vocabulary import OPTIONAL, field_base_type

from .jsonwriter import json_writer
from .lines import line_items_reader, returned_items_reader
from .numbers import Quantities, exact_text
from .readers import (
    MAX_LIST,
    MAX_TEXT_FIELD,
    OUT_OF_RANGE,
    TIME_EXAMPLE,
    YEARS,
    Reader,
    parse_time,
    points_reader,
    reader,
    shown,
    to_decimal,
)

# The field readers' names are exported here too: the event's edge is where callers look for them.
__all__ = ["Event", "EventSchema", "EventError", "valid_id", "parse_time", "to_decimal", "canonical_json",
           "reward_lot_id", "REWARD_LOTS",
           "shown", "YEARS", "POINTS_FIELDS", "valid_member", "MAX_TEXT_FIELD", "MAX_LIST"]

ENVELOPE = ("type", "id", "member", "time")
MAX_ID = 200
POINTS_FIELDS = frozenset({("redeem", "points"), ("adjust", "points")})  # points given, not amounts
_FRACTION = re.compile(r"[.,](\d{7,})")  # seconds with digits past the microsecond
_OFFSET = re.compile(r"(?:[Zz]|[+-]\d\d(?::?\d\d(?::?\d\d(?:[.,]\d+)?)?)?)$")  # a UTC offset, which may have its own
_MICRO_TEXT = 26  # "2026-03-02T08:15:00.123456": a shorter time has no digits past the microsecond
_DEFAULT_QUANTITIES = Quantities()  # USD, rounding to whole points
# An event's rewards (a streak's or an achievement's bonus, a challenge's, a referral's) are
# lots named after it, "<event id>#<reward>": no event id may contain "#<reward>", or a later
# event of the member could name a lot that exists already.
REWARD_LOTS = ("streak:", "achievement:", "challenge:", "referral")


def reward_lot_id(event_id: str, reward: str) -> str:
    """The id of the lot a reward of event ``event_id`` is paid into (``reward`` starts with
    one of :data:`REWARD_LOTS`)."""
    if not reward.startswith(REWARD_LOTS):
        raise ValueError(f"{reward!r} is not a reward's lot: add it to REWARD_LOTS")
    return f"{event_id}#{reward}"


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
    # the exact text of a time sent with digits past the microsecond (field name -> ISO 8601):
    # the rules see the time to the microsecond, idempotency compares every digit
    exact: dict[str, str] = field(default_factory=dict, hash=False)
    # the body and the digest, each made once on demand (only stores check idempotency)
    _made: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def body(self) -> dict[str, Any]:
        """The normalised event, JSON-ready: what the idempotency digest covers. Made once:
        read it, never change it."""
        made = self._made.get("body")
        if made is None:
            made = self._made["body"] = {**{k: _jsonable(v) for k, v in self.fields.items()}, "type": self.type,
                                         "id": self.id, "member": self.member, "time": self.time.isoformat(),
                                         **self.exact}
        return made

    @property
    def digest(self) -> str:
        made = self._made.get("digest")
        if made is None:
            made = self._made["digest"] = hashlib.sha256(canonical_json(self.body).encode()).hexdigest()
        return made

    def values(self) -> dict[str, Any]:
        """Field values as expressions see them (``event.<name>``)."""
        return {**self.fields, "id": self.id, "type": self.type, "member": self.member, "time": self.time}


class EventSchema:
    """Validates raw events against the ruleset's declared types."""

    def __init__(self, event_fields: Mapping[str, Mapping[str, str]], tz: ZoneInfo, naive_ok: bool = True,
                 quantities: Quantities = _DEFAULT_QUANTITIES) -> None:
        self.event_fields, self.tz, self.naive_ok, self.quantities = event_fields, tz, naive_ok, quantities
        self._specs: dict[str, tuple[_Spec, ...]] = {}
        self._times = {kind: ("time", *(name for name, declared_kind in declared.items()
                                        if isinstance(declared_kind, str)
                                        and field_base_type(declared_kind) == "datetime"))
                       for kind, declared in event_fields.items()}
        for kind, declared in event_fields.items():
            spec = self._spec(kind, declared)
            if spec is not None:
                self._specs[kind] = spec

    def __reduce__(self) -> tuple[type[EventSchema], tuple[Any, ...]]:
        # the converters are closures: rebuild them rather than pickle them
        return EventSchema, (self.event_fields, self.tz, self.naive_ok, self.quantities)

    def parse(self, raw: Mapping[str, Any]) -> Event:
        """The validated event, or an :class:`EventError` naming every problem."""
        try:
            event = self._parse_valid(raw)
        except Exception:  # anything amiss: the full path below decides, and words the problems
            event = None
        event = event if event is not None else self._parse_full(raw)
        event.exact = _exact_times(raw, event, self._times[event.type])
        return event

    def _parse_valid(self, raw: Any) -> Event | None:
        """The fast path for a plain dict that is valid: None (or any exception) when in doubt.
        It changes nothing, so falling back to :meth:`_parse_full` is always safe."""
        if type(raw) is not dict:
            return None
        kind, event_id, member = raw.get("type"), raw.get("id"), raw.get("member")
        if type(kind) is not str or type(event_id) is not str or type(member) is not str:
            return None
        spec = self._specs.get(kind)
        if spec is None or len(event_id) > MAX_ID or len(member) > MAX_ID \
                or ("#" in event_id and _reward_lot_problem(event_id) is not None) \
                or not event_id.strip() or not member.strip() \
                or not (event_id.isprintable() or _id_problem(event_id) is None) \
                or not (member.isprintable() or _id_problem(member) is None):
            return None
        time = parse_time(raw.get("time"), self.tz, self.naive_ok)
        if not YEARS[0] <= time.year <= YEARS[1]:
            return None
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

    def _spec(self, event_type: str, declared: Mapping[str, str]) -> tuple[_Spec, ...] | None:
        """(name, converter, required) per declared field, or None to always take the full path."""
        if not all(isinstance(name, str) and isinstance(kind, str) and name not in ENVELOPE
                   for name, kind in declared.items()):
            return None
        return tuple((name, self._field_converter(event_type, name, kind), not kind.startswith(OPTIONAL))
                     for name, kind in declared.items())

    def _field_converter(self, event_type: str, name: str, declared: str) -> Reader:
        """Points given in a redeem or adjust are bounded and quantized as points, not as numbers."""
        if (event_type, name) in POINTS_FIELDS:
            return points_reader(self.quantities.step)
        kind = field_base_type(declared)
        if kind == LINE_ITEMS:  # an order's basket (docs/baskets.md)
            return line_items_reader(reader("money", self.quantities, self.tz, self.naive_ok))
        if kind == RETURNED_ITEMS:  # the lines a refund returns
            return returned_items_reader()
        return reader(kind, self.quantities, self.tz, self.naive_ok)

    def _parse_full(self, raw: Mapping[str, Any]) -> Event:
        """Validates ``raw`` checking everything, collecting every problem (the reference path)."""
        if not isinstance(raw, Mapping):
            raise EventError(["an event must be a JSON object"])
        problems: list[str] = []
        envelope = self._envelope(raw, problems)
        event_id = envelope["id"] if not any(p.startswith("id ") for p in problems) else None
        kind = envelope.get("type")
        fields: dict[str, Any] = {}
        if isinstance(kind, str) and (declared := self.event_fields.get(kind)) is not None:
            fields = self._fields(raw, kind, declared, problems)
        if problems:
            raise EventError(problems, event_id)
        return Event(envelope["id"], envelope["type"], envelope["member"], envelope["time"], fields)

    def _envelope(self, raw: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in self.event_fields:
            known = ", ".join(sorted(self.event_fields))
            problems.append(f"type {shown(kind)} is not an event type of this ruleset (known: {known})")
        out["type"] = kind
        for key in ("id", "member"):
            value = out[key] = raw.get(key)
            why = _id_problem(value) or (_reward_lot_problem(value) if key == "id" and isinstance(value, str) else None)
            if why:
                problems.append(f"{key} {why}")
        out["time"] = self._time(raw, problems)
        return out

    def _time(self, raw: Mapping[str, Any], problems: list[str]) -> dt.datetime | None:
        """The event's time; a missing one is named as missing, a wrong one by what was expected."""
        value = raw.get("time")
        if value is None:
            problems.append(f"time is missing: every event needs one, {TIME_EXAMPLE}")
            return None
        try:
            moment = parse_time(value, self.tz, self.naive_ok)
        except ValueError as exc:
            problems.append(f"time {exc}")
            return None
        if not YEARS[0] <= moment.year <= YEARS[1]:
            problems.append(f"time {OUT_OF_RANGE}")
        return moment

    def _fields(self, raw: Mapping[str, Any], event_type: str, declared: Mapping[str, str],
                problems: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        unknown = [name for name in raw if name not in declared and name not in ENVELOPE]
        if any(not isinstance(name, str) for name in unknown):
            problems.append("field names must be text")
        for name in sorted(name for name in unknown if isinstance(name, str)):
            problems.append(f"unknown field {shown(name)} (declared: {', '.join(sorted(declared)) or 'none'})")
        for name, kind in declared.items():
            if name not in raw or raw[name] is None:
                if not kind.startswith(OPTIONAL):
                    problems.append(f"missing field {name!r} ({field_base_type(kind)})")
                continue
            try:
                fields[name] = self._field_converter(event_type, name, kind)(raw[name])
            except ValueError as exc:
                problems.append(f"{name} {exc}")
        return fields


def valid_id(value: Any) -> bool:
    """Whether ``value`` can be an event or member id: what a store may be asked to look up."""
    return _id_problem(value) is None


def valid_member(raw: Any) -> str | None:
    """The member id of a raw event when it is a valid id (an event refused for other
    reasons still names a member whose balance can be read), else None."""
    member = raw.get("member") if isinstance(raw, Mapping) else None
    return member if _id_problem(member) is None else None


def _exact_times(raw: Mapping[str, Any], event: Event, names: tuple[str, ...]) -> dict[str, str]:
    """The exact ISO 8601 text of each time in ``raw`` sent with digits past the microsecond
    (trailing zeros do not count): Python's datetime keeps six, the digest keeps them all."""
    exact: dict[str, str] = {}
    for name in names:
        value = raw.get(name)
        if type(value) is not str or len(value) <= _MICRO_TEXT:
            continue
        found = _FRACTION.search(_OFFSET.sub("", value, count=1))  # the seconds' digits, not the offset's
        extra = found.group(1)[6:].rstrip("0") if found else ""
        if extra:
            moment = event.time if name == "time" else event.fields[name]
            text = moment.isoformat(timespec="microseconds")
            cut = text.index(".") + 7
            exact[name] = text[:cut] + extra + text[cut:]
    return exact


def _id_problem(value: Any) -> str | None:
    """Why ``value`` cannot be an event or member id (None: it can). Ids are stored and
    printed as they are, so NUL and other control characters are refused here, alike for
    every store."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
        return f"must be a non-empty string of at most {MAX_ID} characters"
    if value.isprintable():
        return None
    categories = {unicodedata.category(c) for c in value}
    if "Cs" in categories:
        return "is not valid Unicode text (it holds a lone surrogate)"
    if "Cc" in categories:
        return "must not contain control characters (NUL, newline, escape and the like)"
    return None


def _reward_lot_problem(event_id: str) -> str | None:
    """Why an event id could name a reward's lot of another event (None: it cannot)."""
    if "#" in event_id and any(f"#{reward}" in event_id for reward in REWARD_LOTS):
        names = ", ".join(f"'#{reward}'" for reward in REWARD_LOTS)
        return f"must not contain {names}: ids ending so name the lots an event's rewards are paid into"
    return None


_Spec = tuple[str, Reader, bool]  # (name, reader, required) per declared field


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return exact_text(value)  # never rounded: an id sent again with any other number is a conflict
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):  # a basket line: its numbers written exactly too
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def canonical_json(body: Mapping[str, Any]) -> str:
    """The text the idempotency digest hashes. Digests are stored: this text never changes
    (``json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)``)."""
    return _canonical(body)


_canonical = json_writer(str, ascii=True, sort_keys=True, allow_nan=True)
