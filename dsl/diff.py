"""What changed between two versions of a ruleset, rule by rule (``punchcard diff``, the dry-run report).

A ruleset is cut into *units*: the top-level fields (``ruleset``), each section's own
fields (``earning``, ``tiers``, ``points``, ``compliance``, ``schema``, ``let``, and any
section a later version of the format adds), and each keyed item of a list: earning
rules, streaks, achievements, fraud and ``forbid`` rules by ``id``, tier levels by
``name``, budgets by their rule, caps by rule, ``per`` and period, base earnings by their
event types. A unit is *added*, *removed*, or *changed* with the old and new value of
each field that differs. The walk reads the pydantic model generically, so a new
policy kind is compared without code here knowing it.

Values are compared as the owner reads them: a Decimal by its value (``1.0`` is
``1``), a duration by its text (``24 months``), a date in ISO form. ``tests:`` are not
part of the program and are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from .checked import CheckedRuleset
from .duration import Duration
from .model import BaseEarning, Budget, Cap, Ruleset, StreakReward

__all__ = ["FieldChange", "UnitChange", "RuleDiff", "diff_rulesets", "value_text", "NO_VALUE", "SCHEMA", "ADDED",
           "REMOVED", "CHANGED"]

SCHEMA = "punchcard.rule-diff/1"
ADDED, REMOVED, CHANGED = "added", "removed", "changed"
TOP = "ruleset"  # the unit of the document's own top-level fields
_LEFT_OUT = frozenset(("tests", "include"))  # not the program: its checks, and how its files are split
_KEY_FIELDS = frozenset(("id", "name", "rule"))  # a field that only repeats the item's key
_OWN_UNIT_FIELDS = frozenset(("rounding", "effective"))  # small top-level models read as top-level fields

Plain = Any  # None, bool, int, str, or a list of those: what JSON and the page show


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Plain
    new: Plain

    def to_json(self) -> dict:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class UnitChange:
    change: str  # added, removed or changed
    section: str  # e.g. earning.rules, tiers.levels, ruleset
    key: str  # the item's key within its section; "" for a section's own fields
    fields: tuple[FieldChange, ...]

    @property
    def label(self) -> str:
        return f"{self.section}: {self.key}" if self.key else self.section

    def to_json(self) -> dict:
        return {"change": self.change, "section": self.section, "key": self.key,
                "fields": [f.to_json() for f in self.fields]}


@dataclass(frozen=True)
class RuleDiff:
    old: str  # id@version
    new: str
    changes: tuple[UnitChange, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "old": self.old, "new": self.new,
                "summary": {kind: self.count(kind) for kind in (ADDED, REMOVED, CHANGED)},
                "changes": [c.to_json() for c in self.changes]}


# -- values ------------------------------------------------------------------------------
def plain(value: Any) -> Plain:
    """A field's value as text and numbers the owner reads, equal when the meaning is equal."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    text = f"{value.normalize():f}"  # no exponent: 15000, not 1.5E+4
    return "0" if text in ("-0", "0") else text


# -- cutting a ruleset into units --------------------------------------------------------
def _name(model: BaseModel, field: str) -> str:
    info = type(model).model_fields[field]
    return info.alias or field


def _items(model: BaseModel) -> Iterator[tuple[str, Any]]:
    for field in type(model).model_fields:
        yield _name(model, field), getattr(model, field)


def item_key(item: Any, index: int) -> str:
    """How an item of a list is known across versions: its id or name, else what it is about."""
    if isinstance(item, Cap):
        return f"{item.rule or 'total'}/{item.per}/{item.period}"
    if isinstance(item, Budget):
        return item.rule
    if isinstance(item, BaseEarning):
        return "on " + ", ".join(item.on)
    if isinstance(item, StreakReward):
        return f"at {item.at}" if item.at is not None else f"every {item.every}" if item.every else "each period"
    for attr in ("id", "name"):
        value = getattr(item, attr, None) if not isinstance(item, dict) else item.get(attr)
        if isinstance(value, str):
            return value
    return f"#{index + 1}"


def _keyed(values: list) -> list[tuple[str, Any]]:
    """Each item with its key; a key seen twice gets the count of its repeat (``x#2``)."""
    seen: dict[str, int] = {}
    out = []
    for index, item in enumerate(values):
        key = item_key(item, index)
        seen[key] = seen.get(key, 0) + 1
        out.append((key if seen[key] == 1 else f"{key}#{seen[key]}", item))
    return out


def _is_item_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, (BaseModel, dict)) for v in value)


def flatten(value: Any, prefix: str = "") -> dict[str, Plain]:
    """The leaf fields of a value, by dotted path; nested lists of items by their keys (``rewards[at 7].bonus``)."""
    if isinstance(value, BaseModel) and not isinstance(value, Duration):
        pairs: Iterator[tuple[str, Any]] = _items(value)
    elif isinstance(value, dict):
        pairs = iter(value.items())
    elif isinstance(value, list) and not value:
        return {}  # an empty list says no more than a missing one
    elif _is_item_list(value):
        out: dict[str, Plain] = {}
        for key, item in _keyed(value):
            out.update(flatten(item, f"{prefix}[{key}]"))
        return out
    else:
        return {prefix: plain(value)}
    out = {}
    for name, inner in pairs:
        out.update(flatten(inner, f"{prefix}.{name}" if prefix else str(name)))
    return out


Units = dict[tuple[str, str], dict[str, Plain]]


def units(model: Ruleset) -> Units:
    """The ruleset cut into units, in document order: (section, key) -> {field: value}."""
    out: Units = {(TOP, ""): {}}
    for name, value in _items(model):
        if name in _LEFT_OUT:
            continue
        if name in _OWN_UNIT_FIELDS or not isinstance(value, (BaseModel, dict, list)):
            out[(TOP, "")].update(flatten(value, name))
        else:
            _section(out, name, value)
    return out


def _section(out: Units, section: str, value: Any) -> None:
    """A section's own fields are one unit; each list of items in it, one unit per item."""
    if isinstance(value, list):
        for key, item in _keyed(value):
            out[(section, key)] = flatten(item)
        return
    own: dict[str, Plain] = {}
    out[(section, "")] = own
    pairs = _items(value) if isinstance(value, BaseModel) else iter(value.items())
    for name, inner in pairs:
        if (isinstance(inner, list) and (not inner or _is_item_list(inner))) or (section, name) == ("earning", "base"):
            _section(out, f"{section}.{name}", _as_list(inner))
        else:
            own.update(flatten(inner, str(name)))


def _as_list(value: Any) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


# -- comparing -----------------------------------------------------------------------------
def _shown(fields: dict[str, Plain], key: str) -> dict[str, Plain]:
    """An added or removed unit shows the fields it sets (a field left empty says nothing, and
    an id, name or rule that is the unit's key is said already)."""
    return {k: v for k, v in fields.items() if v is not None and v != [] and not (k in _KEY_FIELDS and v == key)}


def _changed(old: dict[str, Plain], new: dict[str, Plain]) -> tuple[FieldChange, ...]:
    names = list(new) + [k for k in old if k not in new]
    return tuple(FieldChange(k, old.get(k), new.get(k)) for k in names if old.get(k) != new.get(k))


def compare_units(old: Units, new: Units) -> tuple[UnitChange, ...]:
    changes = []
    for key in _order(old, new):
        section, name = key
        if key not in old:
            fields = tuple(FieldChange(k, None, v) for k, v in _shown(new[key], name).items())
            changes.append(UnitChange(ADDED, section, name, fields))
        elif key not in new:
            fields = tuple(FieldChange(k, v, None) for k, v in _shown(old[key], name).items())
            changes.append(UnitChange(REMOVED, section, name, fields))
        else:
            differ = _changed(old[key], new[key])
            if differ:
                changes.append(UnitChange(CHANGED, section, name, differ))
    return tuple(changes)


def _order(old: Units, new: Units) -> list[tuple[str, str]]:
    """Sections in document order; within one, the new version's items, then the ones it removed."""
    sections = list(dict.fromkeys([s for s, _ in new] + [s for s, _ in old]))
    out = []
    for section in sections:
        out += [k for k in new if k[0] == section] + [k for k in old if k[0] == section and k not in new]
    return out


def _model(ruleset: Ruleset | CheckedRuleset) -> Ruleset:
    return ruleset.valid_model if isinstance(ruleset, CheckedRuleset) else ruleset


def diff_rulesets(old: Ruleset | CheckedRuleset, new: Ruleset | CheckedRuleset) -> RuleDiff:
    """Every unit of ``new`` that ``old`` lacks, has differently, or has and ``new`` lacks."""
    before, after = _model(old), _model(new)
    return RuleDiff(before.label, after.label, compare_units(units(before), units(after)))


NO_VALUE = "–"  # a field one side does not have


def value_text(value: Any) -> str:
    """A field's value as the diff shows it, in the terminal and on the report's page alike:
    lists joined, booleans as YAML writes them, a folded YAML text without its final newline."""
    if value is None:
        return NO_VALUE
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()
