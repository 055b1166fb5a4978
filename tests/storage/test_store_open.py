"""Opening a store: a corrupt SQLite file is refused untouched, a missing one is not
created by reading commands, and ``db upgrade`` explains a version row it cannot use."""

from __future__ import annotations

import sqlite3

import pytest
from ledger_scenarios import COFFEE, EVERYTHING, mixed_events
from sqlalchemy import text
from store_faults import corrupt_page, sqlite_path
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import Engine
from punchcard.engine.store import StoreError
from punchcard.plugins.sql.store import SqlStore

RUNNER = CliRunner()


@pytest.fixture
def filled_sqlite(store_urls, everything):
    """A SQLite ledger after 120 events, closed (its WAL checkpointed into the file)."""
    url = store_urls.new("sqlite")
    store = SqlStore(url)
    Engine(everything, store=store).process_many(mixed_events(seed=8, count=120))
    store.close()
    return url


def _root_page(path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]


@pytest.mark.parametrize("table", ["ledger_entries", "lots"])
def test_a_corrupt_sqlite_file_is_refused_when_opened_and_left_untouched(filled_sqlite, tmp_path, table):
    path = sqlite_path(filled_sqlite)
    corrupted = corrupt_page(path, _root_page(path, table))
    with pytest.raises(StoreError, match=r"is corrupt .*PRAGMA quick_check.*restore it from a backup"):
        SqlStore(filled_sqlite)
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "visit", "id": "v-1", "member": "m0", "time": "2027-01-01T10:00:00"}\n')
    for args in (["process", str(EVERYTHING), "--store", filled_sqlite, "--events", str(events)],
                 ["audit", "--store", filled_sqlite], ["member", "m0", "--store", filled_sqlite]):
        result = RUNNER.invoke(app, args)
        assert result.exit_code == 2 and "is corrupt" in result.stderr and "Traceback" not in result.output
    assert path.read_bytes() == corrupted


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a ledger" * 300)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"not a usable SQLite ledger .*file is not a database"):
        SqlStore(f"sqlite:///{path}")
    assert path.read_bytes() == before


@pytest.mark.parametrize("command", [["audit", "--store"], ["member", "m0", "--store"], ["db", "current", "--store"]])
def test_reading_commands_on_a_missing_sqlite_file_exit_2_and_create_nothing(tmp_path, command):
    path = tmp_path / "missing.db"
    result = RUNNER.invoke(app, [*command, f"sqlite:///{path}"])
    assert result.exit_code == 2 and "no ledger at" in result.stderr and "does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_api_refuses_a_missing_file_when_asked_not_to_create(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        SqlStore(f"sqlite:///{tmp_path / 'missing.db'}", create=False)
    assert list(tmp_path.iterdir()) == []


def _execute(url: str, statement: str) -> None:
    store = SqlStore(url)
    with store.engine.connect() as conn:
        conn.execute(text(statement))
        conn.commit()
    store.close()


def _assert_url_as_given(url: str, message: str) -> None:
    """The store named as the user named it, password hidden: not SQLAlchemy's rendering."""
    from punchcard.plugins.sql.urls import redact

    assert f"{redact(url)} " in message and ("+pysqlite" in url or "+pysqlite" not in message)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_upgrade_explains_a_missing_version_row(store_urls, backend):
    url = store_urls.new(backend)
    _execute(url, "DELETE FROM alembic_version")
    result = RUNNER.invoke(app, ["db", "upgrade", "--store", url])
    assert result.exit_code == 2  # as every other store failure
    assert "has tables but no schema version row" in result.stderr and "Traceback" not in result.output
    _assert_url_as_given(url, result.stderr)
    with pytest.raises(StoreError, match="no schema version row"):
        SqlStore(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_upgrade_explains_a_revision_newer_than_the_code(store_urls, backend):
    url = store_urls.new(backend)
    _execute(url, "UPDATE alembic_version SET version_num = 'f00dfacecafe'")
    result = RUNNER.invoke(app, ["db", "upgrade", "--store", url])
    assert result.exit_code == 2
    _assert_url_as_given(url, result.stderr)
    assert "f00dfacecafe, which this punchcard does not know: a newer punchcard migrated it" in result.stderr
    process = RUNNER.invoke(app, ["process", str(COFFEE), "--store", url, "--events", "-"], input="")
    assert process.exit_code == 2 and "does not know" in process.stderr
