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

__all__ = ["SchemaError", "alembic_config", "head", "current", "upgrade", "downgrade", "ensure_schema", "MIGRATIONS"]

log = logging.getLogger("punchcard.store.sql")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaError(RuntimeError):
    """The database is not at the schema this punchcard needs."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Run the migrations up to ``revision`` in one transaction; returns (from, to)."""
    return _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Undo migrations down to ``revision`` ("base": drop the ledger) in one transaction."""
    return _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step, revision: str) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        with conn.begin():
            before = current(conn)
            step(alembic_config(conn), revision)
            after = current(conn)
    log.info("schema migrated from %s to %s", before or "empty", after or "empty")
    return before, after


def ensure_schema(engine: Engine, auto: bool, shown_url: str) -> None:
    """Refuse a database at another revision. With ``auto`` (the embedded SQLite
    default), an empty database is migrated in place, under its write lock so two
    processes opening a new file at once do it once."""
    with engine.connect() as conn:
        with conn.begin():
            now, wanted = current(conn), head()
            if now == wanted:
                return
            if auto and now is None and not inspect(conn).get_table_names():
                command.upgrade(alembic_config(conn), "head")
                log.info("created the ledger schema (%s) in %s", wanted, shown_url)
                return
    raise SchemaError(f"{shown_url} is at schema revision {now or 'none'}, this punchcard needs {wanted}: "
                      f"run `punchcard db upgrade {shown_url}`")
