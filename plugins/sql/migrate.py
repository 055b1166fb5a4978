"""Schema migrations with alembic, driven from code: the scripts live inside the
package (``punchcard/plugins/sql/migrations``), so an installed punchcard can migrate
without an ``alembic.ini`` or a checkout.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from punchcard.engine.store import StoreError

from .urls import redact

__all__ = ["SchemaError", "alembic_config", "head", "current", "upgrade", "downgrade", "ensure_schema", "MIGRATIONS",
           "known", "problem", "inspect_schema"]

log = logging.getLogger("punchcard.store.sql")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaError(StoreError):
    """The database is not at the schema this punchcard needs."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return revision


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head", shown_url: str | None = None) -> tuple[str | None, str | None]:
    """Run the migrations up to ``revision`` in one transaction; returns (from, to).
    A database with tables but no version row, or at a revision this punchcard does not
    know, raises :class:`SchemaError` saying so, before anything is changed. ``shown_url``
    names the database in that message: the URL as the user gave it, redacted (SQLAlchemy's
    own rendering, with its driver name, when not given)."""
    now, has_tables = inspect_schema(engine)
    shown_url = shown_url or redact(engine.url.render_as_string(hide_password=True))
    trouble = problem(now, has_tables, shown_url)
    if trouble:
        raise SchemaError(trouble)
    return _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Undo migrations down to ``revision`` ("base": drop the ledger) in one transaction."""
    return _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step, revision: str) -> tuple[str | None, str | None]:
    with engine.connect() as conn, conn.begin():
        before = current(conn)
        step(alembic_config(conn), revision)
        after = current(conn)
    log.info("schema migrated from %s to %s", before or "empty", after or "empty")
    return before, after


def known(revision: str) -> bool:
    """Whether this punchcard's migrations include ``revision``."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def problem(now: str | None, has_tables: bool, shown_url: str) -> str | None:
    """What stands between the database and ``db upgrade``, in words; None if nothing."""
    if now is None and has_tables:
        return (f"{shown_url} has tables but no schema version row (alembic_version): it was not created by "
                "`punchcard db upgrade`, or the row was deleted; punchcard will not guess its revision. "
                "Restore the row from a backup, or start a new ledger")
    if now is not None and not known(now):
        return (f"{shown_url} is at schema revision {now}, which this punchcard does not know: a newer "
                f"punchcard migrated it (this one goes up to {head()}). Use that version of punchcard")
    return None


def inspect_schema(engine: Engine) -> tuple[str | None, bool]:
    """(revision, has tables), read without taking SQLite's write lock."""
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn, conn.begin():
        return current(conn), bool(set(inspect(conn).get_table_names()) - {"alembic_version"})


def ensure_schema(engine: Engine, auto: bool, shown_url: str) -> None:
    """Refuse a database at another revision. With ``auto`` (the embedded SQLite
    default), an empty database is migrated in place, under its write lock so two
    processes opening a new file at once do it once."""
    now, has_tables = inspect_schema(engine)
    wanted = head()
    if now == wanted:
        return
    if auto and now is None and not has_tables:
        with engine.connect() as conn, conn.begin():
            if current(conn) is None and not inspect(conn).get_table_names():
                command.upgrade(alembic_config(conn), "head")
                log.info("created the ledger schema (%s) in %s", wanted, shown_url)
                return
            now = current(conn)
        if now == wanted:
            return
    raise SchemaError(problem(now, has_tables, shown_url)
                      or f"{shown_url} is at schema revision {now or 'none'}, this punchcard needs {wanted}: "
                         f"run `punchcard db upgrade {shown_url}`")
