"""Writing event files in the formats :mod:`.formats` reads: JSON Lines, CSV or Parquet, gzip.

The format is told by the name, as the readers tell it (``.jsonl``, ``.csv``,
``.parquet``, each but Parquet optionally followed by ``.gz``); ``-`` is standard
output, as JSON Lines. Numbers are written as their exact decimal text, never through
float: JSON Lines quotes them (as every ``--format json`` output does), CSV and
Parquet hold every value as text. gzip gets a fixed mtime and no file name, so the same
events give the same bytes.

:class:`DecisionWriter` writes a dry-run's decisions (``dry-run --decisions``): one JSON line per
decision, in member order and, per member, in the order the replay decided them, each with the
spend fields of its event, so ``ab report --decisions`` can read what the dry-run did.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from punchcard.engine.runtime.decision import Decision, to_jsonable

from .formats import SUFFIXES, InputError

__all__ = ["write_events", "format_of_name", "STDOUT", "DecisionWriter", "decision_line", "SPEND_FIELDS"]

STDOUT = "-"
_PARQUET_BATCH = 8192


def format_of_name(target: str | Path) -> tuple[str, bool]:
    """(format, gzipped) for a file to write; a name whose suffix says no format is refused
    (writing JSON Lines under any other name would mislabel the file)."""
    if str(target) == STDOUT:
        return "jsonl", False
    path = Path(target)
    gz = path.suffix.lower() == ".gz"
    stem = path.with_suffix("") if gz else path
    kind = SUFFIXES.get(stem.suffix.lower())
    if kind is None:
        known = ", ".join(SUFFIXES)
        raise InputError(f"{path}: the name must end in one of {known} (each but Parquet optionally "
                         "followed by .gz), or be - for standard output")
    if kind == "parquet" and gz:
        raise InputError(f"{path}: a Parquet file compresses its own pages; do not gzip it")
    return kind, gz


def write_events(events: Iterable[dict], target: str | Path, columns: list[str] | None = None) -> int:
    """Write ``events`` to ``target`` (a path, or ``-``) in the format its name says; returns the count.

    ``columns`` orders the CSV header and the Parquet schema (required for those); JSON Lines
    rows keep their own keys."""
    kind, gz = format_of_name(target)
    if columns is None and kind != "jsonl":
        raise ValueError(f"writing {kind} needs its columns (see samples.csv_columns)")
    if str(target) == STDOUT:
        return _write_jsonl(events, sys.stdout)
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        return _write_parquet(events, path, columns or [])  # None only for JSON Lines
    with open(path, "wb") as raw:
        stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if gz else raw
        with io.TextIOWrapper(stream, encoding="utf-8", newline="") as text:
            return _write_text(events, text, kind, columns or [])


def _write_text(events: Iterable[dict], text: IO[str], kind: str, columns: list[str]) -> int:
    return _write_csv(events, text, columns) if kind == "csv" else _write_jsonl(events, text)


def _exact(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not an event value")


def _write_jsonl(events: Iterable[dict], text: IO[str]) -> int:
    count = 0
    for event in events:
        text.write(json.dumps(event, default=_exact) + "\n")
        count += 1
    return count


def _write_csv(events: Iterable[dict], text: IO[str], columns: list[str]) -> int:
    writer = csv.DictWriter(text, columns)
    writer.writeheader()
    count = 0
    for event in events:
        writer.writerow({k: str(v) for k, v in event.items()})
        count += 1
    return count


def _batches(events: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_parquet(events: Iterable[dict], path: Path, columns: list[str]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pyarrow is the optional "parquet" extra
        raise InputError("writing Parquet needs pyarrow: pip install 'punchcard[parquet]'") from None
    # Every column as text: exact like CSV, and one schema whatever the first rows hold.
    schema = pa.schema([(name, pa.string()) for name in columns])
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in _batches(events, _PARQUET_BATCH):
            unknown = {k for event in batch for k in event} - set(columns)
            if unknown:
                raise InputError(f"{path}: no column for {sorted(unknown)}")
            data = {name: [None if name not in e else str(e[name]) for e in batch] for name in columns}
            writer.write_table(pa.Table.from_pydict(data, schema=schema))
            count += len(batch)
    return count


# What a decision line carries of its event: what ``ab report`` counts as spend (the amount of an
# order or a refund), and the category the amount was spent in.
SPEND_FIELDS = ("amount", "category")


def decision_line(decision: Decision, line: int, event_fields: dict[str, Any] | None) -> dict[str, Any]:
    """One decision as ``dry-run --decisions`` writes it: the decision's JSON without its trace
    (``explain`` shows traces), the input line of its event (0 for the closing tick), and the
    event's spend fields under ``event``."""
    out = {k: v for k, v in decision.to_dict().items() if k != "trace"}
    out["line"] = line
    fields = event_fields or {}
    out["event"] = {k: to_jsonable(fields[k]) for k in SPEND_FIELDS if k in fields}
    return out


class DecisionWriter:
    """``observe(member, run)`` of a dry-run that writes the decisions of its first side (the
    ruleset under test) as JSON Lines, ``.jsonl`` or ``.jsonl.gz`` (a fixed gzip header: the same
    decisions give the same bytes). The dry-run shows each member once, in member order."""

    def __init__(self, target: str | Path):
        kind, self.gz = format_of_name(target)
        if kind != "jsonl" or str(target) == STDOUT:
            raise InputError(f"{target}: decisions are written as JSON Lines: name the file .jsonl or .jsonl.gz")
        self.path = Path(target)
        self.raw: IO[bytes] | None = None  # opened at the first decision: a run that fails early leaves no file
        self.text: IO[str] | None = None
        self.count = 0

    def _open(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.raw = open(self.path, "wb")  # noqa: SIM115 - written member by member, closed by close()
        stream = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0) if self.gz else self.raw
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        return self.text

    def __call__(self, member: str, run: Any) -> None:
        text = self.text or self._open()
        side = run.sides[0]
        for line, _at, decision in side.decisions:
            event = side.processed.get(decision.event_id)  # (event, decision) of each event it took
            fields = event[0].fields if event is not None and event[1] is decision else None
            text.write(json.dumps(decision_line(decision, line, fields), ensure_ascii=False) + "\n")
            self.count += 1

    def finish(self) -> None:
        """The run is done: the file is complete (and there, if empty)."""
        if self.text is None:
            self._open()
        self.close()

    def close(self) -> None:
        if self.text is not None and self.raw is not None:
            self.text.close()  # a GzipFile writes its trailer here, and leaves the file it wrote to open
            self.raw.close()
        self.text = self.raw = None
