"""Reading event files: JSON Lines, CSV or Parquet, optionally gzip-compressed.

The format is told by the file name (``.jsonl``, ``.ndjson``, ``.csv``, ``.parquet``,
each optionally followed by ``.gz``) and, when the name says nothing, by the first
bytes (gzip's ``1f 8b``, Parquet's ``PAR1``, a ``{`` for JSON Lines). ``-`` is standard
input, told by its first bytes alone; JSON Lines and CSV stream from it, Parquet (whose
index is at its end) is read whole first. Each reader yields ``(line, row)`` with the
1-based line number (the row number for Parquet), or ``(line, error)`` for a row it
cannot read, so one bad row never stops a run.

Numbers never pass through float: JSON numbers are parsed as Decimal, and a Parquet
float column is taken by its shortest repr (as the engine does for in-process hosts).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["InputError", "RowError", "SUFFIXES", "Source", "STDIN", "is_stdin", "detect", "open_text", "open_source",
           "read_rows", "load_json", "json_row", "columns_of", "uncompressed_size", "normalize_value", "group_reason",
           "parquet_file", "FORMATS"]

FORMATS = ("jsonl", "csv", "parquet")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
            ".pq": "parquet"}
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
STDIN = "-"


class InputError(Exception):
    """The file as a whole cannot be read (missing, unknown format, no header...)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read; the replay reports it with its line number. ``group``: the
    reason without what varies from row to row (a column number, the row's own values), by
    which bad rows are counted; None when the reason itself is that."""

    reason: str
    group: str | None = None


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PLAIN_WORD = re.compile(r"[^\W\d_]+(?:[ _][^\W\d_]+)*")  # a field, tier or type name: words, no digits
# a number standing alone: not a piece of a date, a time, an id or a number with thousands separators
_NUMBER = re.compile(r"(?<![\w.:\-])(?<!\d,)-?\d+(?:\.\d+)?(?:E[+-]?\d+)?(?![\w.:\-])(?!,\d{3})")
# what makes a number part of a reason's meaning: a unit of form after it, the rounding step before it
_UNIT_AFTER = re.compile(r"\s+(?:digits?|decimal places?|characters?|columns?|values?)\b")
_STEP_BEFORE = ("step, ", "step ")
_GAP = "…"


def group_reason(reason: str | None, values=()) -> str:
    """The group of a reason: the one rule by which bad rows and rejected decisions are counted.

    What varies from row to row becomes '…': the row's own ``values`` (quoted, or bare when
    they look like ids), other quoted text that is not a plain word (ids, numbers as text),
    and the figures of one event or member (amounts, balances, points). What says why stays:
    the words, quoted names (``'category'``), and the numbers of the reason's meaning:
    bounds written with thousands separators (``1,000,000,000,000``), a number before a unit
    of form (``18 digits``, ``2 decimal places``), the rounding step, dates and times."""
    text = reason or "no reason given"
    masked = sorted({v for v in _scalars(values) if isinstance(v, str) and v.strip()}, key=len, reverse=True)
    # A quoted value is first a mark found in neither the reason nor the values, so that a later
    # value (a quote, say) is never masked inside the quotes of an earlier one: "'" and ':' alike.
    seen = text + "".join(masked)
    mark = next(chr(code) for code in range(0xF0000, 0xFFFFE) if chr(code) not in seen)
    for value in masked:
        if value not in text:
            continue  # the common case: most reasons quote no id, and this costs no pattern
        text = text.replace(repr(value), mark)  # the longest first: 'o-12' inside 'o-123' stays whole
        if not _PLAIN_WORD.fullmatch(value):
            text = re.sub(rf"(?<![\w.\-']){re.escape(value)}(?![\w\-'])", _GAP, text)
    text = _QUOTED.sub(lambda m: m.group() if _PLAIN_WORD.fullmatch(m.group()[1:-1]) else f"'{_GAP}'", text)
    return _NUMBER.sub(lambda m: m.group() if _meaning(text, m) else _GAP, text).replace(mark, f"'{_GAP}'")


def _meaning(text: str, number: re.Match) -> bool:
    return bool(_UNIT_AFTER.match(text, number.end())) or text[:number.start()].endswith(_STEP_BEFORE)


def _scalars(values):
    for value in values:
        if isinstance(value, (list, tuple)):
            yield from _scalars(value)
        elif isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
            yield value


def is_stdin(path) -> bool:
    return str(path) == STDIN


def _magic(path: Path, size: int = 4) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def is_gzip(path: Path) -> bool:
    return path.suffix == ".gz" or _magic(path, 2) == GZIP_MAGIC


def detect(path: Path) -> tuple[str, bool]:
    """(format, gzipped) for a file, from its name first, then from its first bytes."""
    path = Path(path)
    gz = is_gzip(path)
    stem = path.with_suffix("") if path.suffix == ".gz" else path
    kind = SUFFIXES.get(stem.suffix.lower())
    if kind is None:
        kind = _sniff(path, gz)
    if kind == "parquet" and gz:
        raise InputError(f"{path}: a Parquet file compresses its own pages; do not gzip it")
    return kind, gz


def _sniff(path: Path, gz: bool) -> str:
    head = _magic(path)
    if head == PARQUET_MAGIC:
        return "parquet"
    with open_text(path, gz) as handle:
        first = handle.read(512).lstrip()
    return "jsonl" if first.startswith("{") else "csv"


def open_text(path: Path, gz: bool) -> io.TextIOBase:
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


_GZIP_ISIZE = 4  # bytes of a gzip trailer's last field: the uncompressed size


def uncompressed_size(path: Path) -> int:
    """Bytes of text to read: for gzip, the size its trailer records (modulo 4 GiB)."""
    path = Path(path)
    size = path.stat().st_size
    if not is_gzip(path) or size < _GZIP_ISIZE:
        return size
    with open(path, "rb") as handle:
        handle.seek(-_GZIP_ISIZE, io.SEEK_END)
        recorded = int.from_bytes(handle.read(_GZIP_ISIZE), "little")
    # the trailer wraps at 4 GiB; a file that big is never smaller than its gzip
    while recorded < size:
        recorded += 1 << 32
    return recorded


@dataclass
class Source:
    """An input opened for reading: its format, its header (CSV, Parquet) and its rows."""

    kind: str
    header: list[str] | None
    rows: Iterator[tuple[int, dict | RowError]]


def open_source(path) -> Source:
    """A file, or standard input for ``-``; raises InputError when it cannot be read at all."""
    if is_stdin(path):
        return _stdin_source(sys.stdin.buffer)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kind, gz = detect(path)
    rows = _jsonl(path, gz) if kind == "jsonl" else _csv(path, gz) if kind == "csv" else _parquet(path)
    return Source(kind, columns_of(path), rows)


def read_rows(path) -> Iterator[tuple[int, dict | RowError]]:
    return open_source(path).rows


def columns_of(path: Path) -> list[str] | None:
    """The header of a CSV or Parquet file (None for JSON Lines, whose rows each name their fields)."""
    path = Path(path)
    kind, gz = detect(path)
    if kind == "csv":
        with open_text(path, gz) as handle:
            return next(csv.reader(handle), [])
    if kind == "parquet":
        return list(parquet_file(path).schema_arrow.names)
    return None


def _stdin_source(stream) -> Source:
    """Standard input, told by its first bytes: gzip, then Parquet, JSON Lines or CSV."""
    buffer = stream if hasattr(stream, "peek") else io.BufferedReader(stream)
    gz = buffer.peek(2)[:2] == GZIP_MAGIC
    if gz:
        buffer = io.BufferedReader(gzip.GzipFile(fileobj=buffer, mode="rb"))
    head = buffer.peek(512)[:512]
    if head[:4] == PARQUET_MAGIC:
        if gz:
            raise InputError(f"{STDIN}: a Parquet file compresses its own pages; do not gzip it")
        whole = io.BytesIO(buffer.read())  # a Parquet file's index is at its end
        return Source("parquet", list(parquet_file(whole).schema_arrow.names), _parquet(whole))
    if not head.strip() or head.lstrip()[:1] == b"{":
        return Source("jsonl", None, _jsonl_lines(buffer))
    reader = csv.reader(io.TextIOWrapper(buffer, encoding="utf-8", newline=""))
    header = _header(reader, STDIN)
    return Source("csv", header, _csv_cells(reader, header))


def _exact_int(digits: str) -> int | Decimal:
    """A JSON integer: an int, or, past Python's limit on digits for ``int()`` (4,300 by
    default), the same number as a Decimal, which has no such limit. The engine then refuses
    it with its own reason (too many digits), never with Python's message."""
    try:
        return int(digits)
    except ValueError:
        return Decimal(digits)


# made once: json.loads(parse_float=...) makes a decoder per call
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_exact_int)


def load_json(text: str) -> Any:
    """JSON text as the CLI and every reader take it: numbers exact (floats as Decimal,
    integers of any length), never through float. Raises ``json.JSONDecodeError`` (a
    ValueError) for text that is not JSON, a leading byte-order mark included."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def json_row(text: str) -> dict | RowError:
    """One JSON Lines row, as :func:`load_json` reads it."""
    try:
        row = load_json(text)
    except json.JSONDecodeError as exc:
        return RowError(f"not valid JSON ({exc.msg} at column {exc.colno})", f"not valid JSON ({exc.msg})")
    return row if isinstance(row, dict) else RowError("a JSON Lines row must be an object")


def _jsonl(path: Path, gz: bool) -> Iterator[tuple[int, dict | RowError]]:
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as handle:
        yield from _jsonl_lines(handle)


def _jsonl_lines(handle) -> Iterator[tuple[int, dict | RowError]]:
    """Lines of bytes, each decoded on its own: a line that is not UTF-8 is one bad row."""
    for number, raw in enumerate(handle, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, RowError(f"not UTF-8 text (byte {exc.start + 1})", "not UTF-8 text")
            continue
        if text.strip():
            yield number, json_row(text)


def _csv(path: Path, gz: bool) -> Iterator[tuple[int, dict | RowError]]:
    with open_text(path, gz) as handle:
        reader = csv.reader(handle)
        yield from _csv_cells(reader, _header(reader, path))


def _header(reader, name) -> list[str]:
    header = next(reader, None)
    if not header:
        raise InputError(f"{name}: empty CSV file (a header row is needed)")
    return header


def _csv_cells(reader, header: list[str]) -> Iterator[tuple[int, dict | RowError]]:
    width = len(header)
    try:
        yield from _csv_rows(reader, header, width)
    except UnicodeDecodeError:  # CSV is decoded as one stream: the rest cannot be read
        yield reader.line_num + 1, RowError("not UTF-8 text; the rest of the file was not read")


def _csv_rows(reader, header: list[str], width: int) -> Iterator[tuple[int, dict | RowError]]:
    for cells in reader:
        if not cells:
            continue
        if len(cells) != width:
            yield reader.line_num, RowError(f"has {len(cells)} values for {width} columns")
            continue
        yield reader.line_num, dict(zip(header, cells, strict=True))


def parquet_file(source):
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise InputError("reading Parquet needs pyarrow: pip install 'punchcard[parquet]'") from None
    try:
        return pq.ParquetFile(source)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"{getattr(source, 'name', None) or source}: not a readable Parquet file ({exc})") from None


def _parquet(source) -> Iterator[tuple[int, dict | RowError]]:
    number = 0
    for batch in parquet_file(source).iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            number += 1
            yield number, {k: normalize_value(v) for k, v in row.items() if v is not None}


def normalize_value(value: Any) -> Any:
    """A typed column value as the event schema takes it: floats by repr, never as binary floats."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [normalize_value(v) for v in value]
    return value
