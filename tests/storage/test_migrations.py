"""Migrations: they build exactly the models' schema, run from the installed package,
and run only when asked (an empty SQLite file excepted)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.plugins.sql import migrate
from punchcard.plugins.sql.connect import create_sql_engine
from punchcard.plugins.sql.migrate import SchemaError
from punchcard.plugins.sql.models import Base
from punchcard.plugins.sql.store import SqlStore

BACKENDS = ["sqlite", "postgresql"]
TABLES = {"members", "lots", "ledger_entries", "processed_events", "member_records", "tier_windows", "streaks",
          "history", "budgets", "budget_uses", "outbox", "api_keys", "deployments",
          "alembic_version"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migrations_build_exactly_the_models(backend, store_urls):
    engine = create_sql_engine(store_urls.new(backend))
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == TABLES
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrade_and_upgrade_round_trip(backend, store_urls):
    engine = create_sql_engine(store_urls.new(backend))
    assert migrate.downgrade(engine, "base") == (migrate.head(), None)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    assert migrate.upgrade(engine) == (None, migrate.head())
    engine.dispose()


def test_the_migrations_ship_inside_the_package():
    assert migrate.MIGRATIONS.parent.name == "sql" and (migrate.MIGRATIONS / "env.py").is_file()
    assert (migrate.MIGRATIONS / "script.py.mako").is_file()
    assert migrate.head() == "0005_outbox_failed_at"


def test_postgresql_is_never_migrated_implicitly(store_urls):
    url = store_urls.empty("postgresql")
    with pytest.raises(SchemaError, match=r"revision none, this punchcard needs 0005_outbox_failed_at: run "
                                          r"`punchcard db upgrade postgresql\+psycopg://"):
        SqlStore(url)
    engine = create_sql_engine(url)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    engine.dispose()


def test_db_upgrade_migrates_and_then_the_store_opens(store_urls):
    url = store_urls.empty("postgresql")
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", url])
    assert first.exit_code == 0 and "schema at 0005_outbox_failed_at (was empty)" in first.stderr
    again = runner.invoke(app, ["db", "upgrade", url])
    assert again.exit_code == 0 and "(already)" in again.stderr
    current = runner.invoke(app, ["db", "current", url]).stdout
    assert "0005_outbox_failed_at (this punchcard needs 0005_outbox_failed_at)" in current
    SqlStore(url).close()


def test_an_empty_sqlite_file_gets_the_schema_on_open(store_urls):
    url = store_urls.empty("sqlite")
    store = SqlStore(url)
    with store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == TABLES
    store.close()
    with pytest.raises(SchemaError, match="revision none"):
        SqlStore(store_urls.empty("sqlite"), auto_upgrade=False)


def test_a_sqlite_file_at_another_revision_is_refused(store_urls):
    url = store_urls.new("sqlite")
    engine = create_sql_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000_older'")
        conn.commit()
    engine.dispose()
    with pytest.raises(SchemaError, match="at schema revision 0000_older"):
        SqlStore(url)


def test_db_upgrade_refuses_urls_it_cannot_migrate():
    result = CliRunner().invoke(app, ["db", "upgrade", "memory://"])
    assert result.exit_code == 2 and "not a SQL ledger URL" in result.stderr
