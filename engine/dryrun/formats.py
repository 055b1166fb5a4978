"""Reading event files: JSON Lines, CSV or Parquet, optionally gzip-compressed.

The format is told by the file name (``.jsonl``, ``.ndjson``, ``.csv``, ``.parquet``,
each optionally followed by ``.gz``) and, when the name says nothing, by the first
bytes (gzip's ``1f 8b``, Parquet's ``PAR1``, a ``{`` for JSON Lines). Each reader
yields ``(line, row)`` with the 1-based line number (the row number for Parquet), or
``(line, error)`` for a row it cannot read, so one bad row never stops a run.

Numbers never pass through float: JSON numbers are parsed as Decimal, and a Parquet
float column is taken by its shortest repr (as the engine does for in-process hosts).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

__all__ = ["InputError", "RowError", "detect", "open_text", "read_rows", "json_row", "columns_of",
           "uncompressed_size", "normalize_value", "FORMATS"]

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
             ".pq": "parquet"}
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"


class InputError(Exception):
    """The file as a whole cannot be read (missing, unknown format, no header...)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read; the replay reports it with its line number."""

    reason: str


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
    kind = _SUFFIXES.get(stem.suffix.lower())
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
    return open(path, "r", encoding="utf-8", newline="")


def uncompressed_size(path: Path) -> int:
    """Bytes of text to read: for gzip, the size its trailer records (modulo 4 GiB)."""
    path = Path(path)
    size = path.stat().st_size
    if not is_gzip(path) or size < 4:
        return size
    with open(path, "rb") as handle:
        handle.seek(-4, io.SEEK_END)
        recorded = int.from_bytes(handle.read(4), "little")
    # the trailer wraps at 4 GiB; a file that big is never smaller than its gzip
    while recorded < size:
        recorded += 1 << 32
    return recorded


def read_rows(path: Path) -> Iterator[tuple[int, dict | RowError]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kind, gz = detect(path)
    if kind == "jsonl":
        return _jsonl(path, gz)
    if kind == "csv":
        return _csv(path, gz)
    return _parquet(path)


def columns_of(path: Path) -> list[str] | None:
    """The header of a CSV or Parquet file (None for JSON Lines, whose rows each name their fields)."""
    path = Path(path)
    kind, gz = detect(path)
    if kind == "csv":
        with open_text(path, gz) as handle:
            return next(csv.reader(handle), [])
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    return None


_DECODER = json.JSONDecoder(parse_float=Decimal)  # made once: json.loads(parse_float=...) makes one a row


def json_row(text: str) -> dict | RowError:
    """One JSON Lines row, as ``json.loads(text, parse_float=Decimal)`` reads it."""
    try:
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        row = _DECODER.decode(text)
    except ValueError as exc:
        return RowError(f"not valid JSON ({exc.msg} at column {exc.colno})")
    return row if isinstance(row, dict) else RowError("a JSON Lines row must be an object")


def _jsonl(path: Path, gz: bool) -> Iterator[tuple[int, dict | RowError]]:
    with open_text(path, gz) as handle:
        for number, text in enumerate(handle, 1):
            if text.strip():
                yield number, json_row(text)


def _csv(path: Path, gz: bool) -> Iterator[tuple[int, dict | RowError]]:
    with open_text(path, gz) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise InputError(f"{path}: empty CSV file (a header row is needed)")
        width = len(header)
        for cells in reader:
            if not cells:
                continue
            if len(cells) != width:
                yield reader.line_num, RowError(f"has {len(cells)} values for {width} columns")
                continue
            yield reader.line_num, dict(zip(header, cells))


def _parquet(path: Path) -> Iterator[tuple[int, dict | RowError]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise InputError("reading Parquet needs pyarrow: pip install 'punchcard[parquet]'") from None
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=8192):
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
