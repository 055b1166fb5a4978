"""Opening the ledger a store command names, and how those commands fail: a message on
standard error and exit 2 (a store failure is never mistaken for a rejected event)."""

from __future__ import annotations

import logging
import os
import sys

import typer

from punchcard.display import shown, shown_lines

__all__ = ["setup_logging", "fail", "shown_url", "open_store", "open_sql"]


def setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=os.environ.get("PUNCHCARD_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")


def fail(message: str, code: int = 2) -> typer.Exit:
    # Imported here: punchcard.cli imports the command modules, which import this one.
    from punchcard.cli import stderr

    stderr.print(f"error: {shown_lines(message)}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(code)


def shown_url(url: str) -> str:
    """A store URL as it may be printed: passwords hidden, wherever they are in it."""
    from punchcard.plugins.sql.urls import redact

    return shown(redact(url))


def open_store(url: str, create: bool = True):
    """The store at ``url``; ``create=False`` (reading commands): a SQLite file that does
    not exist is an error, not a new empty ledger. Any failure exits 2."""
    from punchcard.plugins.sql.urls import backend_of

    if backend_of(url) is not None:
        return open_sql(url, create)
    from punchcard.plugins.manager import get_plugin_manager

    try:
        return get_plugin_manager().open_store(url)
    except Exception as exc:  # unknown URL, unreachable server, schema not migrated
        raise fail(str(exc))


def open_sql(url: str, create: bool = False):
    from punchcard.engine.store import StoreError
    from punchcard.plugins.sql.urls import backend_of

    if backend_of(url) is None:
        raise fail(f"'{shown_url(url)}' is not a SQL ledger URL (sqlite:///file.db or postgresql://...)")
    from punchcard.plugins.sql.store import SqlStore

    try:
        return SqlStore(url, create=create)
    except (StoreError, ValueError) as exc:  # missing, corrupt, unreachable, schema not migrated
        raise fail(str(exc))

