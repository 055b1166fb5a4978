"""Opening the ledger a store command names, and how those commands fail: a message on
standard error and exit 2 (a store failure is never mistaken for a rejected event).

Every store is opened through the storage plugins (``punchcard_open_store``); what a
command needs beyond the Store interface (an audit, the schema) it asks of the store it
got, by the protocols in :mod:`punchcard.plugins.protocols`."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import typer

from punchcard.engine.runtime.display import shown, shown_lines
from punchcard.plugins.protocols import AuditableStore, MigratableStore

__all__ = ["setup_logging", "fail", "shown_url", "open_store", "open_auditable", "open_migratable"]

SQL_LEDGER = "sqlite:///file.db or postgresql://..."


# Libraries whose debug lines quote request bodies (a model's prompt holds a member's facts):
# never below INFO, whatever PUNCHCARD_LOG_LEVEL says.
_QUIET_LIBRARIES = ("anthropic", "httpx", "httpcore")


def setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=os.environ.get("PUNCHCARD_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
    for name in _QUIET_LIBRARIES:
        library = logging.getLogger(name)
        library.setLevel(max(library.getEffectiveLevel(), logging.INFO))


def fail(message: str, code: int = 2) -> typer.Exit:
    # Imported here: punchcard.cli imports the command modules, which import this one.
    from punchcard.cli import stderr

    stderr.print(f"error: {shown_lines(message)}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(code)


def shown_url(url: str) -> str:
    """A store URL as it may be printed: passwords hidden, wherever they are in it."""
    from punchcard.plugins.sql.urls import redact

    return shown(redact(url))


def open_store(url: str, create: bool = True, migrating: bool = False) -> Any:
    """The store at ``url``, opened by the storage plugins; ``create=False`` (reading
    commands): a ledger that is not there is an error, not a new empty one. ``migrating``:
    opened to read or migrate its schema. Any failure exits 2."""
    from punchcard.plugins.manager import get_plugin_manager

    try:
        return get_plugin_manager().open_store(url, create=create, migrating=migrating)
    except Exception as exc:  # unknown URL, missing, corrupt, unreachable, schema not migrated
        raise fail(str(exc)) from None


def open_auditable(url: str) -> AuditableStore:
    """The existing ledger at ``url``, which must be one that can be audited."""
    return _capable(open_store(url, create=False), AuditableStore, url, "audited")


def open_migratable(url: str, create: bool) -> MigratableStore:
    """The database at ``url``, opened to read or migrate its schema."""
    return _capable(open_store(url, create=create, migrating=True), MigratableStore, url, "migrated")


def _capable(store: Any, protocol: type, url: str, what: str) -> Any:
    if isinstance(store, protocol):
        return store
    store.close()
    raise fail(f"'{shown_url(url)}' cannot be {what}: it is not a SQL ledger URL ({SQL_LEDGER})")

