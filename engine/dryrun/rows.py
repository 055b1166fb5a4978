"""From read rows to replayable rows: mapping, typing, validation, the time window, and the scan.

Shared by the local runner and the Dask job, so both see the same rows: a row is
mapped (``--map``), typed (CSV), its numeric ids become text, validated once by the
event schema of the ruleset under test, and kept when its time is inside
``--from``/``--until``. A row that schema refuses is a bad row, reported with its
line number (and left out of both runs with ``--against``). A :class:`Scan` counts
what was read and remembers the first and last times kept (the replay's start and
end by default).

A kept row travels as a plain tuple (:data:`ROW_FIELDS`) that sorts by member, then
time, then line: exactly the order in which a member's events are replayed. It
carries the validated event, so the replay never parses a row again; the raw row
rides along only when another ruleset of the run reads events differently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from punchcard.engine.program import Compiled
from punchcard.engine.runtime.events import Event, EventError, parse_time

from .formats import InputError, RowError, group_reason, open_source
from .mapping import ColumnMap, CsvTyping
from .partial import BadRows

__all__ = ["Scan", "prepare", "prepared_rows", "accepted_rows", "row_time", "check_header", "event_row", "row_event",
           "ROW_FIELDS"]

# a kept row: what sorts it first, then the event's other parts, then the raw row (or None)
ROW_FIELDS = ("member", "time", "line", "id", "type", "fields", "raw", "exact")


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


def prepared_rows(path: Path, cmap: ColumnMap, compiled: Compiled):
    """``(line, row)`` of a file (``-``: standard input), mapped and typed; a row that cannot be
    read is a RowError."""
    source = open_source(path)
    check_header(path, source.header, cmap)
    typing = CsvTyping(compiled.model.event_fields()) if source.kind == "csv" else None
    for line, row in source.rows:
        yield line, prepare(row, cmap, typing)


def accepted_rows(path: Path, compiled: Compiled, bad: BadRows, cmap: ColumnMap | None = None):
    """``(line, row)`` of the rows of an events file (``-``: standard input) that the dry-run
    replays: read as it reads them and accepted by the ruleset's event schema. Every other row
    is counted into ``bad`` by :meth:`Scan.take`, the dry-run's own count, and reading goes on."""
    scan = Scan(bad=bad)
    for line, row in prepared_rows(path, cmap or ColumnMap(), compiled):
        if scan.take(line, row, compiled) is not None:
            yield line, row


def row_time(row: dict, compiled: Compiled) -> dt.datetime | None:
    try:
        return parse_time(row.get("time"), compiled.tz, compiled.schema.naive_ok)
    except ValueError:
        return None  # the bad row is reported with the schema's own words


def event_row(event: Event, line: int, raw: dict | None = None) -> tuple:
    """A kept row (see :data:`ROW_FIELDS`): plain values only, cheap to pickle."""
    return (event.member, event.time, line, event.id, event.type, event.fields, raw, event.exact or None)


def row_event(row: tuple) -> Event:
    """The validated event a kept row carries, as the schema made it (with the exact text of
    a time finer than a microsecond, which idempotency compares)."""
    return Event(row[3], row[4], row[0], row[1], row[5], row[7] or {})


@dataclass
class Scan:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    bad: BadRows = field(default_factory=BadRows)
    rows: int = 0
    filtered: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None

    def take(self, line: int, row, compiled: Compiled) -> Event | None:
        """Count a row; its event when it goes on to the replay."""
        self.rows += 1
        if isinstance(row, RowError):
            self.bad.add("events", line, row.reason, row.group)
            return None
        try:
            event = compiled.schema.parse(row)
        except EventError as exc:
            if self._window(row_time(row, compiled)):
                reason = "; ".join(exc.problems)
                self.bad.add("events", line, reason, group_reason(reason, row.values()))
            return None
        return event if self._window(event.time) else None

    def _window(self, moment: dt.datetime | None) -> bool:
        """Is ``moment`` inside --from/--until (a row without a time is)? Counts it either way."""
        if moment is None:
            return True
        if (self.since is not None and moment < self.since) or (self.until is not None and moment >= self.until):
            self.filtered += 1
            return False
        if self.first is None or moment < self.first:
            self.first = moment
        if self.last is None or moment > self.last:
            self.last = moment
        return True

    def merge(self, other: Scan) -> None:
        self.bad.merge(other.bad)
        self.rows += other.rows
        self.filtered += other.filtered
        for moment in (other.first, other.last):
            if moment is not None:
                self.first = moment if self.first is None else min(self.first, moment)
                self.last = moment if self.last is None else max(self.last, moment)
