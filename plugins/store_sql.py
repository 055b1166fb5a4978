"""Built-in plugin: ``sqlite:///path.db`` and ``postgresql+psycopg://...`` open the
durable SQL ledger (punchcard.plugins.sql). Other URLs are left to other plugins.

A new SQLite file gets its schema on first open; PostgreSQL must be migrated with
``punchcard db upgrade URL`` first. The store answers the CLI's ``audit`` and ``db``
commands itself (:class:`~punchcard.plugins.protocols.AuditableStore`,
:class:`~punchcard.plugins.protocols.MigratableStore`).
"""

from __future__ import annotations

from typing import Any

from .hookspecs import hookimpl

__all__ = ["punchcard_open_store"]


@hookimpl
def punchcard_open_store(url: str, create: bool, migrating: bool) -> Any | None:
    # Imported here so listing or checking plugins never loads SQLAlchemy.
    from .sql.urls import backend_of

    if backend_of(url) is None:
        return None
    from .sql.store import SqlStore

    return SqlStore(url, create=create, migrating=migrating)
