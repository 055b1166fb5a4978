"""``punchcard messages send`` and ``list``, the file delivery plugin, and the outbox's
migration: a ledger at revision 0001 is refused until ``punchcard db upgrade``."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from outbox_support import T0, decided, message_effect, request, save, sink_lines
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.runtime.decision import Outcome
from punchcard.engine.store import StoreError
from punchcard.plugins.deliver_file import DELIVERY_FILE_ENV, FileDelivery, delivered
from punchcard.plugins.manager import reset_plugin_manager
from punchcard.plugins.sql import migrate
from punchcard.plugins.sql.store import SqlStore

RUNNER = CliRunner()


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    monkeypatch.delenv(DELIVERY_FILE_ENV, raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def _ledger(store_urls, n: int = 3, backend: str = "sqlite") -> str:
    url = store_urls.new(backend)
    store = SqlStore(url)
    for i in range(n):
        save(store, *decided(f"e{i}", "masha"))
    store.close()
    return url


def _rows(url: str, status: str | None = None) -> list:
    store = SqlStore(url)
    try:
        return store.outbox_list(status)
    finally:
        store.close()


def test_send_delivers_to_a_file_and_reports_in_json(store_urls, tmp_path):
    url, sink = _ledger(store_urls), tmp_path / "out.jsonl"
    result = RUNNER.invoke(app, ["messages", "send", "--store", url, "--deliver-to", str(sink), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["sent"], report["composed"], report["by_source"], report["left_pending"]) == \
        (3, 3, {"template": 3}, 0)
    assert [m["id"] for m in sink_lines(sink)] == ["e0:points", "e1:points", "e2:points"]
    assert sink_lines(sink)[0] == {"id": "e0:points", "member_id": "masha", "channel": "push", "locale": "en",
                                   "text": "Masha, 300.5 points are yours until 31 March 2026."}
    assert {r.status for r in _rows(url)} == {"sent"}
    again = RUNNER.invoke(app, ["messages", "send", "--store", url, "--deliver-to", str(sink)])
    assert again.exit_code == 0 and "sent 0 messages" in again.stdout and len(sink_lines(sink)) == 3


def test_the_delivery_file_setting_loads_the_built_in_plugin(store_urls, tmp_path, monkeypatch):
    url, sink = _ledger(store_urls, 2), tmp_path / "env.jsonl"
    monkeypatch.setenv(DELIVERY_FILE_ENV, str(sink))
    reset_plugin_manager()
    result = RUNNER.invoke(app, ["messages", "send", "--store", url, "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "sent 1 message (" in result.stdout and "1 left pending" in result.stdout
    assert [m["id"] for m in delivered(sink)] == ["e0:points"]


def test_no_delivery_leaves_messages_pending_and_exits_1(store_urls):
    url = _ledger(store_urls)
    result = RUNNER.invoke(app, ["messages", "send", "--store", url])
    assert result.exit_code == 1
    assert "3 push messages waiting: no delivery plugin serves push" in result.stdout
    assert {r.status for r in _rows(url)} == {"pending"}


def test_a_failing_delivery_exits_1_and_is_retried_later(store_urls, tmp_path):
    url = _ledger(store_urls, 1)
    result = RUNNER.invoke(app, ["messages", "send", "--store", url, "--deliver-to", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["retrying"] == 1
    [row] = _rows(url)
    assert (row.status, row.attempts, row.last_error.split(":")[0]) == ("pending", 1, "IsADirectoryError")


def test_list_shows_the_outbox(store_urls, tmp_path):
    url = _ledger(store_urls)
    RUNNER.invoke(app, ["messages", "send", "--store", url, "--deliver-to", str(tmp_path / "s"), "--limit", "1"])
    listed = RUNNER.invoke(app, ["messages", "list", "--store", url, "--status", "pending", "--format", "json"])
    assert listed.exit_code == 0
    assert [(m["id"], m["status"]) for m in json.loads(listed.stdout)] == [("e1:points", "pending"),
                                                                           ("e2:points", "pending")]
    text = RUNNER.invoke(app, ["messages", "list", "--store", url])
    assert text.exit_code == 0 and "e0:points  masha  push  sent  attempts 1" in text.stdout
    assert RUNNER.invoke(app, ["messages", "list", "--store", url, "--status", "lost"]).exit_code == 2


def test_send_at_a_time_expires_the_stale_and_list_shows_them(store_urls, tmp_path):
    url, sink = store_urls.new("sqlite"), tmp_path / "out.jsonl"
    store = SqlStore(url)
    for event_id, valid in (("old", dt.timedelta(hours=1)), ("new", dt.timedelta(days=2))):
        chosen = message_effect(request(event_id, "masha", expires_at=T0 + valid))
        save(store, *decided(event_id, "masha", Outcome.APPLIED, chosen))
    store.close()
    at = (T0 + dt.timedelta(days=1)).isoformat()
    result = RUNNER.invoke(app, ["messages", "send", "--store", url, "--deliver-to", str(sink), "--at", at,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["expired"], report["sent"], report["left_pending"]) == (1, 1, 0)
    assert [m["id"] for m in sink_lines(sink)] == ["new:points"]
    [row] = _rows(url, "sent")
    assert row.sent_at == T0 + dt.timedelta(days=1)  # the time --at names
    listed = RUNNER.invoke(app, ["messages", "list", "--store", url, "--status", "expired", "--format", "json"])
    assert [(m["id"], m["status"], m["attempts"]) for m in json.loads(listed.stdout)] == [("old:points", "expired", 0)]
    text = RUNNER.invoke(app, ["messages", "list", "--store", url, "--status", "expired"])
    assert "old:points  masha  push  expired  attempts 0" in text.stdout
    again = RUNNER.invoke(app, ["messages", "send", "--store", url, "--deliver-to", str(sink), "--at", at])
    assert again.exit_code == 0 and "0 failed, 0 expired, 0 left pending" in again.stdout
    bad = RUNNER.invoke(app, ["messages", "send", "--store", url, "--at", "yesterday"])
    assert bad.exit_code == 2 and "not an ISO 8601 time" in bad.output


def test_a_missing_ledger_is_an_error(tmp_path):
    result = RUNNER.invoke(app, ["messages", "send", "--store", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_the_file_delivery_drops_ids_it_has_written_and_mends_a_cut_line(tmp_path):
    sink = tmp_path / "d.jsonl"
    first, second = FileDelivery(sink), FileDelivery(sink)  # two senders, one file
    message = {"id": "m-1", "member_id": "masha", "channel": "sms", "locale": "en", "text": "hi"}
    assert first.deliver(message) == "d.jsonl@0"
    assert second.deliver(message) is None and first.deliver(message) is None
    with sink.open("a") as handle:
        handle.write('{"id": "m-2", "text": "cut sh')  # a writer killed mid-line
    assert second.deliver({**message, "id": "m-3"}) is not None
    assert [m["id"] for m in delivered(sink)] == ["m-1", "m-3"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_ledger_at_0001_is_refused_until_db_upgrade(backend, store_urls):
    url = _ledger(store_urls, 1, backend)
    engine = SqlStore(url, migrating=True).engine
    assert migrate.downgrade(engine, "0001_ledger") == ("0005_outbox_failed_at", "0001_ledger")
    engine.dispose()
    with pytest.raises(StoreError, match=r"revision 0001_ledger, this punchcard needs 0005_outbox_failed_at: run "
                                         r"`punchcard db upgrade"):
        SqlStore(url)
    refused = RUNNER.invoke(app, ["messages", "send", "--store", url])
    assert refused.exit_code == 2 and "punchcard db upgrade" in refused.stderr
    current = RUNNER.invoke(app, ["db", "current", "--store", url])
    assert "0001_ledger (this punchcard needs 0005_outbox_failed_at)" in current.stdout
    upgraded = RUNNER.invoke(app, ["db", "upgrade", "--store", url])
    assert upgraded.exit_code == 0 and "schema at 0005_outbox_failed_at (was 0001_ledger)" in upgraded.stderr
    store = SqlStore(url)
    assert [d.event_id for d in store.decisions("masha")] == ["e0"]  # the ledger kept, the outbox new
    assert store.outbox_list() == []
    save(store, *decided("e1", "masha"))
    assert [row.id for row in store.outbox_list()] == ["e1:points"]
    store.close()
