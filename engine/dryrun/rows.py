"""From read rows to replayable rows: mapping, typing, the time window, and the scan.

Shared by the local runner and the Dask job, so both see the same rows: a row is
mapped (``--map``), typed (CSV), its numeric ids become text, and it is kept when
its time is inside ``--from``/``--until``. A :class:`Scan` counts what was read and
remembers the first and last times kept (the replay's start and end by default).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from punchcard.engine.events import parse_time

from .formats import InputError, RowError, columns_of, detect, read_rows
from .mapping import ColumnMap, CsvTyping
from .partial import BadRows

__all__ = ["Scan", "prepare", "prepared_rows", "row_time", "check_header"]


def _envelope_text(row: dict) -> None:
    """Ids exported as numbers are ids all the same."""
    for key in ("id", "member"):
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            row[key] = str(value)


def prepare(row, cmap: ColumnMap, typing: CsvTyping | None):
    if isinstance(row, RowError):
        return row
    row = cmap.apply(row)
    if typing is not None:
        row = typing.apply(row)
    if isinstance(row, dict):
        _envelope_text(row)
    return row


def check_header(path: Path, header: list[str] | None, cmap: ColumnMap) -> None:
    if header is not None and cmap.missing(header):
        missing = ", ".join(cmap.missing(header))
        raise InputError(f"{path}: no column for {missing} (columns: {', '.join(header)}); "
                         "rename one in the file or map it with --map")


def prepared_rows(path: Path, cmap: ColumnMap, compiled):
    path = Path(path)
    kind, _ = detect(path)
    check_header(path, columns_of(path), cmap)
    typing = CsvTyping(compiled.model.event_fields()) if kind == "csv" else None
    for line, row in read_rows(path):
        yield line, prepare(row, cmap, typing)


def row_time(row: dict, compiled) -> dt.datetime | None:
    try:
        return parse_time(row.get("time"), compiled.tz, compiled.schema.naive_ok)
    except ValueError:
        return None  # the replay reports the row with the schema's own words


@dataclass
class Scan:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    bad: BadRows = field(default_factory=BadRows)
    rows: int = 0
    filtered: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None

    def take(self, line: int, row, compiled) -> bool:
        """Count a row; True when it goes on to the replay."""
        self.rows += 1
        if isinstance(row, RowError):
            self.bad.add("events", line, row.reason)
            return False
        moment = row_time(row, compiled)
        if moment is not None and ((self.since and moment < self.since) or (self.until and moment >= self.until)):
            self.filtered += 1
            return False
        if moment is not None:
            self.first = moment if self.first is None else min(self.first, moment)
            self.last = moment if self.last is None else max(self.last, moment)
        return True

    def merge(self, other: "Scan") -> None:
        self.bad.merge(other.bad)
        self.rows += other.rows
        self.filtered += other.filtered
        for moment in (other.first, other.last):
            if moment is not None:
                self.first = moment if self.first is None else min(self.first, moment)
                self.last = moment if self.last is None else max(self.last, moment)
