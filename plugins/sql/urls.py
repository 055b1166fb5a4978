"""Which URLs the SQL ledger handles (no SQLAlchemy import, so plugin discovery stays light)."""

from __future__ import annotations

__all__ = ["backend_of", "SCHEMES"]

SCHEMES = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgresql": "postgresql",
           "postgresql+psycopg": "postgresql"}


def backend_of(url: str) -> str | None:
    """'sqlite', 'postgresql', or None for URLs another plugin should handle."""
    if not isinstance(url, str) or "://" not in url:
        return None
    return SCHEMES.get(url.split("://", 1)[0].lower())
