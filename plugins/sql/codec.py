"""Exact round trips between engine values and what the database holds.

Documents use tagged JSON so a loaded state equals the state that was saved:
Decimals are strings (``{"$d": "1.50"}``), datetimes keep their IANA zone, tuples
stay tuples and sets stay sets. A tagged object is read by one function,
:func:`_untagged`: as JSON text is parsed (:func:`decode_text`, the way the store reads
its documents), or over a document parsed already (:func:`decode`).

Stored decisions are the host-facing ``Decision.to_dict()`` (as compact text,
``jsontext.decision_text``); :func:`decision_from_json` rebuilds the dataclasses from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, overload
from zoneinfo import ZoneInfo

from punchcard.engine.runtime.challenge import ChallengeRecord
from punchcard.engine.runtime.decision import Decision, Effect, Step, TierView
from punchcard.engine.runtime.referral import Referral
from punchcard.engine.runtime.state import (
    Allocation,
    CapUsage,
    HistoryItem,
    OfferRecord,
    OrderRecord,
    Profile,
    Redemption,
)
from punchcard.engine.runtime.voucher import Voucher

from .jsontext import JsonText, decimal_text

__all__ = ["encode", "encode_text", "decode", "decode_text", "zone_key", "in_zone", "decision_from_json"]

# Dataclasses that may sit inside state documents, by tag name, with their field names.
_CLASSES = {cls.__name__: cls for cls in (Allocation, CapUsage, HistoryItem, OfferRecord, OrderRecord, Profile,
                                          Redemption, Voucher, ChallengeRecord, Referral)}
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _CLASSES.values()}
_KNOWN = {cls: frozenset(names) for cls, names in _FIELDS.items()}
_MOST_TAG_MEMBERS = 2  # a tag and, for a time, its zone


def zone_key(moment: dt.datetime | None) -> str | None:
    """The IANA key of a datetime's zone, so it can be restored exactly."""
    return getattr(moment.tzinfo, "key", None) if moment is not None else None


@overload
def in_zone(moment: dt.datetime, key: str | None) -> dt.datetime: ...
@overload
def in_zone(moment: None, key: str | None) -> None: ...
def in_zone(moment: dt.datetime | None, key: str | None) -> dt.datetime | None:
    if moment is None or key is None:
        return moment
    return moment.astimezone(ZoneInfo(key))  # zoneinfo keeps each zone it made: no cache of our own


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` that :func:`decode` turns back into an equal value:
    the document :func:`encode_text` writes, read back. The format has one writer."""
    return json.loads(_text(value))


def encode_text(value: Any) -> JsonText:
    """``value`` as a tagged JSON document, written straight to text (most of what the
    ledger stores is written this way, so no tagged structure is built first)."""
    return JsonText(_text(value))


def _text(value: Any) -> str:
    writer = _WRITERS.get(type(value))  # exact types: one dictionary lookup on the hot path
    if writer is not None:
        return writer(value)
    if isinstance(value, Mapping):  # a mapping that is not a dict
        return _mapping_text(value)
    raise TypeError(f"cannot store a {type(value).__name__} ({value!r}) in the ledger")


def _instant_text(value: dt.datetime) -> str:
    zone = zone_key(value)
    return f'{{"$t":{encode_basestring(value.isoformat())},"z":{"null" if zone is None else encode_basestring(zone)}}}'


def _mapping_text(value: Mapping[Any, Any]) -> str:
    for key in value:
        if not isinstance(key, str) or key.startswith("$"):
            return f'{{"$map":[{",".join(f"[{_text(k)},{_text(v)}]" for k, v in value.items())}]}}'
    return "{" + ",".join([f"{encode_basestring(k)}:{_text(v)}" for k, v in value.items()]) + "}"


def _set_text(value: set[Any] | frozenset[Any]) -> str:
    return '{"$set":[' + ",".join(sorted([_text(item) for item in value])) + "]}"  # in a stable order


def _dataclass_writer(cls):
    head = f'{{"$dc":{encode_basestring(cls.__name__)},"v":{{'
    keys = [(name, encode_basestring(name) + ":") for name in _FIELDS[cls]]

    def write(value) -> str:
        return head + ",".join([key + _text(getattr(value, name)) for name, key in keys]) + "}}"

    return write


_WRITERS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring, int: int.__repr__, bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
    Decimal: lambda v: f'{{"$d":"{decimal_text(v)}"}}',  # digits, sign and point: nothing to escape
    float: lambda v: f'{{"$f":{encode_basestring(repr(v))}}}',
    dt.datetime: _instant_text,
    dt.date: lambda v: f'{{"$date":"{v.isoformat()}"}}',
    list: lambda v: "[" + ",".join([_text(item) for item in v]) + "]",
    tuple: lambda v: '{"$tuple":[' + ",".join([_text(item) for item in v]) + "]}",
    set: _set_text, frozenset: _set_text,
    dict: _mapping_text,
    **{cls: _dataclass_writer(cls) for cls in _CLASSES.values()},
}


def decode(doc: Any) -> Any:
    """The values a parsed document was written from (a document :func:`encode` made)."""
    if isinstance(doc, list):
        return [decode(v) for v in doc]
    if isinstance(doc, dict):
        return _untagged({k: decode(v) for k, v in doc.items()})
    return doc


def decode_text(text: str) -> Any:
    """The values a document's JSON text (:func:`encode_text`) was written from, decoded as
    it is parsed: no second walk over the parsed document."""
    return _PARSER.decode(text)


def _untagged(doc: dict[str, Any]) -> Any:
    """An object whose members are decoded already: the value its tag stands for, or the
    object itself. A tagged object has one or two members (PostgreSQL's ``jsonb`` may put
    either first); a mapping with a key like a tag is written as ``$map``, so no plain
    object is mistaken for one."""
    if len(doc) <= _MOST_TAG_MEMBERS:
        for key in doc:
            untag = _TAGS.get(key)
            if untag is not None:
                return untag(doc)
    return doc


def _dataclass(doc: dict) -> Any:
    cls = _CLASSES.get(doc["$dc"])
    if cls is None:  # added by a newer version: only a field this one does not know holds it, and that is
        return doc     # left out (rows._extras, and below), so it is left as it was stored
    fields = doc["v"]
    if fields.keys() <= _KNOWN[cls]:
        return cls(**fields)
    known = _KNOWN[cls]  # written by a newer version: what this one does not know is left out
    return cls(**{k: v for k, v in fields.items() if k in known})


def _time(doc: dict) -> dt.datetime:
    moment = dt.datetime.fromisoformat(doc["$t"])
    key = doc.get("z")
    return moment.astimezone(ZoneInfo(key)) if key else moment


_TAGS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "$d": lambda d: Decimal(d["$d"]),
    "$f": lambda d: float(d["$f"]),
    "$t": _time,
    "$date": lambda d: dt.date.fromisoformat(d["$date"]),
    "$tuple": lambda d: tuple(d["$tuple"]),
    "$set": lambda d: frozenset(d["$set"]),
    "$map": lambda d: {k: v for k, v in d["$map"]},
    "$dc": _dataclass,
}

_PARSER = json.JSONDecoder(object_hook=_untagged)  # each object once its members are read


# -- decisions -------------------------------------------------------------------------
def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _when(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


_EFFECT_KEYS = ("kind", "points", "lot")
_STEP_KEYS = ("phase", "rule", "fired", "note", "values", "before", "after")


def _effect(doc: dict) -> Effect:
    detail = {k: v for k, v in doc.items() if k not in _EFFECT_KEYS}
    return Effect(doc["kind"], _dec(doc.get("points")), doc.get("lot"), detail)


def _step(doc: dict) -> Step:
    return Step(doc["phase"], doc["rule"], doc.get("fired"), doc.get("note", ""), doc.get("values", {}),
                _dec(doc.get("before")), _dec(doc.get("after")))


def _tier(doc: dict | None) -> TierView | None:
    if doc is None:
        return None
    return TierView(doc["current"], Decimal(doc["metric"]), doc.get("next"), _dec(doc.get("to_next")),
                    _dec(doc.get("to_keep")))


def decision_from_json(doc: dict) -> Decision:
    """A stored decision. Amounts and times come back typed; effect details and trace
    values stay as their JSON text, so ``to_dict()`` gives back exactly what was stored."""
    return Decision(
        event_id=doc["event_id"], member_id=doc["member_id"], ruleset=doc["ruleset"], outcome=doc["outcome"],
        points=Decimal(doc["points"]), effects=tuple(_effect(e) for e in doc["effects"]),
        balance=Decimal(doc["balance"]), pending=Decimal(doc["pending"]), tier=_tier(doc.get("tier")),
        trace=tuple(_step(s) for s in doc["trace"]), reason=doc.get("reason"), event_type=doc.get("event_type"),
        time=_when(doc.get("time")), variant=doc.get("variant"), models=tuple((doc.get("models") or {}).items()),
    )
