"""The durable SQL ledger: SQLAlchemy 2.0 on SQLite (embedded default) or PostgreSQL.

``SqlStore(url)`` implements the engine's Store interface plus ``process_batch``;
``audit(store)`` checks every balance against the append-only ledger;
``migrate.upgrade(engine)`` runs the alembic migrations. docs/storage.md has the
whole story. Names are imported on first use, so ``urls`` stays free of SQLAlchemy.
"""

from __future__ import annotations

import importlib

__all__ = ["SqlStore", "audit", "AuditReport", "Difference", "SchemaError", "LedgerMismatch"]

_WHERE = {"SqlStore": "store", "audit": "audit", "AuditReport": "audit", "Difference": "audit",
          "SchemaError": "migrate", "LedgerMismatch": "postings"}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
