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

from sqlalchemy import JSON, DateTime, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

__all__ = ["Money", "Instant", "Document", "decimal_text"]

UTC = dt.timezone.utc


def decimal_text(value: Decimal) -> str:
    """Canonical, exact text: no exponent, no float on the way."""
    if not isinstance(value, Decimal):
        raise TypeError(f"points must be Decimal, not {type(value).__name__} ({value!r})")
    return format(value, "f")


class Money(TypeDecorator):
    """An exact decimal: ``NUMERIC`` on PostgreSQL, decimal text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return decimal_text(value)
        if not isinstance(value, Decimal):
            raise TypeError(f"points must be Decimal, not {type(value).__name__} ({value!r})")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


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
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the ledger stores instants only")
        if dialect.name == "sqlite":
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return value

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
