"""A failing store stops the run with StoreError (exit 2 on the command line), a
transient failure is first tried again, and a rerun of the same events after any
failure ends in exactly the state of a clean run: every row of every ledger table."""

from __future__ import annotations

import json
import logging

import pytest
from ledger_scenarios import EVERYTHING, mixed_events
from store_faults import ReadOnlyAt, Terminator, read_only, snapshot, sqlite_path
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import Engine
from punchcard.engine.engine import STORE_ATTEMPTS
from punchcard.engine.store import StoreError
from punchcard.plugins.sql.store import SqlStore

EVENTS = mixed_events(seed=33, count=160, members=5)
BATCH = 20
RUNNER = CliRunner()


def _run(engine: Engine, one_by_one: bool) -> None:
    """All the events, in batches or each in its own transaction. The two store the same
    ledger but number a member's rows differently, so a run is compared with its own kind."""
    if one_by_one:
        for event in EVENTS:
            engine.process(event)
    else:
        engine.process_many(EVENTS)


@pytest.fixture
def clean(everything, store_urls):
    """``clean(backend, one_by_one)`` -> the snapshot of a fresh store after a run with no failure."""
    def run(backend: str, one_by_one: bool = False) -> dict:
        store = SqlStore(store_urls.new(backend), batch_size=BATCH)
        try:
            _run(Engine(everything, store=store), one_by_one)
            return snapshot(store)
        finally:
            store.close()
    return run


def _rerun_matches_clean(url: str, everything, expected: dict, one_by_one: bool = False) -> None:
    store = SqlStore(url, batch_size=BATCH)
    try:
        _run(Engine(everything, store=store), one_by_one)
        assert snapshot(store) == expected
        assert store.audit().ok
    finally:
        store.close()


def _stored_events(store) -> int:
    return len(snapshot(store)["processed_events"])


@pytest.mark.parametrize("one_by_one", [False, True], ids=["batches", "one-by-one"])
def test_a_dropped_postgresql_connection_is_retried_and_nothing_differs(store_urls, everything, clean, caplog,
                                                                        one_by_one):
    expected = clean("postgresql", one_by_one)
    store = SqlStore(store_urls.new("postgresql"), batch_size=BATCH)
    killer = Terminator(store, at={50 if one_by_one else 11})  # somewhere mid-run, inside a transaction
    with caplog.at_level(logging.INFO):
        _run(Engine(everything, store=store), one_by_one)
    killer.disarm()
    assert killer.hits == 1
    retries = [r.getMessage() for r in caplog.records if "trying again (2 of" in r.getMessage()]
    assert retries and all("[parameters" not in r and "SELECT" not in r for r in retries)
    assert snapshot(store) == expected and store.audit().ok
    store.close()


def test_a_postgresql_connection_that_keeps_dropping_stops_the_run_and_a_rerun_catches_up(
        store_urls, everything, clean):
    expected = clean("postgresql")
    url = store_urls.new("postgresql")
    store = SqlStore(url, batch_size=BATCH)
    killer = Terminator(store, at=range(10, 400))  # every crash point from the 10th on (the 4th chunk)
    with pytest.raises(StoreError) as failed:
        Engine(everything, store=store).process_many(EVENTS)
    killer.disarm()
    assert failed.value.transient and killer.hits == STORE_ATTEMPTS
    assert "failed while storing a batch" in str(failed.value) and "[SQL" not in str(failed.value)
    stored = _stored_events(store)
    assert 0 < stored < len({e["id"] for e in EVENTS})  # the chunks before it, and nothing after
    store.close()
    _rerun_matches_clean(url, everything, expected)


@pytest.mark.parametrize("one_by_one", [False, True], ids=["batches", "one-by-one"])
def test_a_sqlite_file_made_read_only_mid_run_stops_it_and_a_rerun_catches_up(store_urls, everything, clean,
                                                                              one_by_one):
    expected = clean("sqlite", one_by_one)
    url = store_urls.new("sqlite")
    store = SqlStore(url, batch_size=BATCH)
    fault = ReadOnlyAt(store, at={150})
    try:
        with pytest.raises(StoreError, match=r"disk I/O error|readonly|read-only") as failed:
            _run(Engine(everything, store=store), one_by_one)
        assert not failed.value.transient and fault.hits == 1
    finally:
        fault.disarm()
        fault.restore()
    assert 0 < _stored_events(store) < len({e["id"] for e in EVENTS})
    store.close()
    _rerun_matches_clean(url, everything, expected, one_by_one)


def _events_file(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return path


def _no_secrets(text: str) -> None:
    """Nothing that only a SQL parameter or a stored document would carry."""
    assert "Traceback" not in text and "[parameters" not in text and "[SQL" not in text
    assert '"amount"' not in text and "service recovery" not in text  # event bodies


def test_process_on_a_read_only_sqlite_file_exits_2_and_a_rerun_catches_up(store_urls, everything, clean,
                                                                           tmp_path):
    expected = clean("sqlite")
    url, events = store_urls.new("sqlite"), _events_file(tmp_path)
    args = ["process", str(EVERYTHING), "--store", url, "--events", str(events), "--batch", str(BATCH)]
    with read_only(sqlite_path(url)):
        failed = RUNNER.invoke(app, args)
    assert failed.exit_code == 2, failed.output
    assert "error: the ledger at" in failed.stderr and "readonly database" in failed.stderr
    assert "run the same events again" in failed.stderr
    _no_secrets(failed.stderr + failed.stdout)
    again = RUNNER.invoke(app, args)
    assert again.exit_code == 0, again.stderr
    store = SqlStore(url)
    assert snapshot(store) == expected
    store.close()


def test_process_exits_2_when_postgresql_keeps_dropping_and_a_rerun_catches_up(store_urls, everything, clean,
                                                                               tmp_path, monkeypatch, caplog):
    expected = clean("postgresql")
    url, events = store_urls.new("postgresql"), _events_file(tmp_path)
    real_init, killers = SqlStore.__init__, []

    def with_terminator(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        killers.append(Terminator(self, at=range(10, 500)))

    monkeypatch.setattr(SqlStore, "__init__", with_terminator)
    args = ["process", str(EVERYTHING), "--store", url, "--events", str(events), "--batch", str(BATCH)]
    with caplog.at_level(logging.DEBUG):
        failed = RUNNER.invoke(app, args)
    monkeypatch.setattr(SqlStore, "__init__", real_init)
    for killer in killers:
        killer.disarm()
    assert failed.exit_code == 2 and "stopped: the store failed" in failed.stderr
    _no_secrets(failed.stderr + failed.stdout + caplog.text)
    assert RUNNER.invoke(app, args).exit_code == 0
    store = SqlStore(url)
    assert snapshot(store) == expected and store.audit().ok
    store.close()
