"""Column types that keep money and instants exact on every backend.

PostgreSQL stores points as ``NUMERIC`` and instants as ``timestamptz``. SQLite has
neither: a ``NUMERIC`` column there converts ``'0.1'`` to a binary float, so points are
stored as canonical decimal text, and instants as ISO 8601 text in UTC (which sorts
in time order). Values always come back as :class:`~decimal.Decimal` and aware
datetimes; nothing on the way is ever a float.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Numeric, Text, cast, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from .codec import decode_text
from .jsontext import decimal_text, dumps

__all__ = ["Money", "Instant", "Document", "Tagged", "decimal_text", "instant_text", "BINDS", "WIRE_BINDS"]

UTC = dt.UTC


def _exact(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"points must be Decimal, not {type(value).__name__} ({value!r})")
    return value


_INSTANT_TEXTS: dict[tuple, str] = {}  # an event's instant is written to several rows
_INSTANT_TEXTS_MAX = 4096  # then it starts again: a long run's instants do not pile up


def instant_text(value: dt.datetime) -> str:
    """An aware instant as UTC ISO 8601 text (SQLite), which sorts in time order.

    Recent ones are remembered. Aware datetimes that compare equal are the same instant
    (so the same text), except two wall times of one zone told apart only by ``fold``
    (the hour repeated when clocks go back): ``fold`` is part of the key."""
    key = (value, value.fold)
    text = _INSTANT_TEXTS.get(key)
    if text is None:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the ledger stores instants only")
        text = value.astimezone(UTC).isoformat(timespec="microseconds")
        if len(_INSTANT_TEXTS) >= _INSTANT_TEXTS_MAX:
            _INSTANT_TEXTS.clear()
        _INSTANT_TEXTS[key] = text
    return text


_NUMERIC_OID = 1700  # PostgreSQL's type code for NUMERIC, as a result describes its columns


class Money(TypeDecorator):
    """An exact decimal: ``NUMERIC`` on PostgreSQL, decimal text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value, dialect):
        return (_money_bind if dialect.name == "sqlite" else _pg_money_bind)(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)

    def result_processor(self, dialect, coltype):
        if dialect.name == "postgresql" and coltype == _NUMERIC_OID:
            return None  # psycopg reads a NUMERIC as a Decimal, exactly: nothing is left to convert
        return super().result_processor(dialect, coltype)


class Instant(TypeDecorator):
    """An aware instant: ``timestamptz`` on PostgreSQL, UTC ISO text on SQLite.
    Loaded values are in UTC; the caller puts them back in the member's zone."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        return (_instant_bind if dialect.name == "sqlite" else _pg_instant_bind)(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value.astimezone(UTC)


class Document(TypeDecorator):
    """A JSON document (``jsonb`` on PostgreSQL). Values are JSON-ready already:
    the codec turns Decimals into strings before they get here."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        # Python None is SQL NULL (not the JSON literal null), so "no document" costs no parsing.
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))


class Tagged(Document):
    """A document of the codec's tagged JSON (a member's state, records, history and lots):
    read back as the values it was written from. The column is selected as its text, which
    :func:`.codec.decode_text` parses and decodes in one pass; parsed by the driver first,
    each document would be walked a second time to decode it. A document is an object or an
    array, never a bare number: SQLite's NUMERIC affinity would store a big one as a float."""

    cache_ok = True

    def column_expression(self, column):
        return type_coerce(cast(column, Text), self)

    def result_processor(self, dialect, coltype):
        return _tagged_result


def _tagged_result(text: str | None) -> Any:
    return None if text is None else decode_text(text)


def _money_bind(value):
    if type(value) is Decimal:
        return format(value, "f")
    return None if value is None else decimal_text(value)


def _instant_bind(value):
    return None if value is None else instant_text(value)


def _document_bind(value):
    return None if value is None else dumps(value)


def _pg_money_bind(value):
    return value if type(value) is Decimal or value is None else _exact(value)


def _pg_instant_bind(value):
    if value is not None and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the ledger stores instants only")
    return value


# What the types above bind, per dialect, one function call per value: the functions
# their bind processors call (three calls deep), for writes that go to the driver
# directly (see prepared.py). PostgreSQL's documents keep SQLAlchemy's processor, which
# wraps them for psycopg.
BINDS = {"sqlite": {Money: _money_bind, Instant: _instant_bind, Document: _document_bind, Tagged: _document_bind},
         "postgresql": {Money: _pg_money_bind, Instant: _pg_instant_bind}}
# The hot path's pipelines (wire.py) send every value as text: a document goes as its
# JSON text, which the server reads into the ``jsonb`` column, with no wrapper to dump.
WIRE_BINDS = {Document: _document_bind, Tagged: _document_bind}
