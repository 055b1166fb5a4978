"""From a row of an export to an event: column names, constants, and CSV typing.

Columns whose names already match the ruleset's schema (``type``, ``id``,
``member``, ``time`` and the declared fields) need nothing. Anything else is said in
a ``--map`` YAML file::

    columns:            # column in the file: field of the event
      customer_id: member
      dollar_value: amount
      date: time
      order_no: id
    constants:          # the same value on every row
      type: purchase
    drop: [store_name]  # columns to ignore

CSV values are all text. Money and numbers stay text here: the event schema turns
them into Decimal itself (text is exact), so only booleans, lists and empty cells
need help: an empty cell is a missing value, so an optional field may be blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from punchcard.dsl.vocabulary import field_base_type

from .formats import InputError, RowError, group_reason, load_json

__all__ = ["ColumnMap", "load_map", "CsvTyping", "ENVELOPE"]

ENVELOPE = ("type", "id", "member", "time")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class ColumnMap:
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()

    def apply(self, row: dict) -> dict:
        if not (self.columns or self.constants or self.drop):
            return row
        out = {self.columns.get(k, k): v for k, v in row.items() if k not in self.drop}
        for name, value in self.constants.items():
            out.setdefault(name, value)
        return out

    def missing(self, header: list[str]) -> list[str]:
        """Envelope fields that no column or constant provides."""
        provided = {self.columns.get(k, k) for k in header if k not in self.drop} | set(self.constants)
        return [name for name in ENVELOPE if name not in provided]

    def to_json(self) -> dict:
        return {"columns": dict(self.columns), "constants": {k: str(v) for k, v in self.constants.items()},
                "drop": sorted(self.drop)}


def load_map(path: Path | None) -> ColumnMap:
    if path is None:
        return ColumnMap()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the map {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"columns", "constants", "drop"}:
        raise InputError(f"{path}: a map has the keys columns:, constants: and drop: (see docs/dry-run.md)")
    columns, constants = data.get("columns") or {}, data.get("constants") or {}
    drop = data.get("drop") or []
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InputError(f"{path}: columns: maps each column name to an event field name")
    if not isinstance(constants, dict) or not isinstance(drop, list):
        raise InputError(f"{path}: constants: is a mapping and drop: a list")
    return ColumnMap({str(k): v for k, v in columns.items()}, {str(k): _constant(v) for k, v in constants.items()},
                     frozenset(str(d) for d in drop))


def _constant(value: Any) -> Any:
    # YAML reads 1.5 as a float; a constant amount must stay exact, so it goes on as text
    return repr(value) if isinstance(value, float) else value


class CsvTyping:
    """Turns the text cells of a CSV row into what the event schema accepts."""

    def __init__(self, event_fields: Mapping[str, Mapping[str, str]]):
        self.kinds = {name: {f: field_base_type(k) for f, k in fields.items()} for name, fields in event_fields.items()}

    def apply(self, row: dict) -> dict | RowError:
        kinds = self.kinds.get(row.get("type") or "", {})  # no type: no field is typed
        out: dict[str, Any] = {}
        for name, text in row.items():
            if text == "" or text is None:
                continue  # a blank cell is a missing value, and other event types' columns are blank
            kind = kinds.get(name)
            try:
                out[name] = _cell(text, kind) if kind else text
            except ValueError as exc:
                return RowError(f"{name} {exc}", group_reason(f"{name} {exc}", (text,)))
        return out


def _cell(text: str, kind: str) -> Any:
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{text!r} is not true or false")
    if kind.startswith("list["):
        try:
            value = load_json(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a JSON list such as [\"a\", \"b\"]") from None
        if not isinstance(value, list):
            raise ValueError(f"{text!r} is not a JSON list")
        return value
    return text
