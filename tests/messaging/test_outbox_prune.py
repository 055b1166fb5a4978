"""``punchcard messages prune`` and ``Outbox.outbox_prune``: rows sent before the cut are
deleted, and (asked for) failed and expired rows first due before it; a pending row never is,
however old, nor a failed one unless asked."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from pathlib import Path

import pytest
from outbox_support import T0, decided, save
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.outbox import DONE_STATUSES, done_before
from punchcard.engine.store import MemoryStore
from punchcard.plugins.sql.store import SqlStore

RUNNER = CliRunner()
DAY = dt.timedelta(days=1)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, store_urls):
    made = MemoryStore() if request.param == "memory" else SqlStore(store_urls.new(request.param))
    yield made
    made.close()


def _fill(store) -> dict[str, str]:
    """Five rows: sent long ago, sent lately, failed long ago, expired long ago, pending long ago."""
    for n in range(5):
        save(store, *decided(f"e{n}", "masha"))
    ids = [row.id for row in store.outbox_list()]
    owner = "sender-1"
    claimed = store.outbox_claim(T0 + 400 * DAY, 5, T0 + 401 * DAY, owner, ["push"])
    assert [row.id for row in claimed] == ids
    store.outbox_sent(ids[0], T0, "r0")
    store.outbox_sent(ids[1], T0 + 100 * DAY, "r1")
    store.outbox_retry(ids[2], owner, "refused", None)
    store.outbox_release(ids[3], owner, None)
    store.outbox_release(ids[4], owner, T0 + 500 * DAY)  # pending again, waiting
    return dict(zip(["old-sent", "new-sent", "failed", "expired", "pending"], ids, strict=True))


def test_prune_deletes_sent_rows_before_the_cut_and_never_a_pending_one(store):
    rows = _fill(store)
    statuses = {row.id: row.status for row in store.outbox_list()}
    assert [statuses[rows[k]] for k in rows] == ["sent", "sent", "failed", "expired", "pending"]
    assert store.outbox_prune(T0 - DAY) == {}  # nothing was sent that long ago
    assert store.outbox_prune(T0 + 50 * DAY) == {"sent": 1}  # failed and expired rows stay unless asked
    assert {row.id for row in store.outbox_list()} == {rows[k] for k in ("new-sent", "failed", "expired", "pending")}
    assert store.outbox_prune(T0 + 50 * DAY, DONE_STATUSES) == {"failed": 1, "expired": 1}
    assert store.outbox_prune(T0 + 10_000 * DAY, DONE_STATUSES) == {"sent": 1}
    assert [row.id for row in store.outbox_list()] == [rows["pending"]]


def test_a_failed_row_is_dated_by_when_it_was_first_due(store):
    """It keeps no time of its failure: one that failed long after its send time goes with a
    cut after that send time, which is why failed rows go only when asked for."""
    rows = _fill(store)  # the failed row failed at T0 + 400 days, first due at about T0
    assert store.outbox_prune(T0 + 50 * DAY, ("failed",)) == {"failed": 1}
    assert rows["failed"] not in {row.id for row in store.outbox_list()}


@pytest.mark.parametrize("statuses", [("sent",), DONE_STATUSES, ("failed",), ("expired", "sent")])
def test_done_before_is_what_the_stores_delete(store, statuses):
    _fill(store)
    cut = T0 + 50 * DAY
    expected = sorted(row.status for row in store.outbox_list() if done_before(row, cut, statuses))
    deleted = store.outbox_prune(cut, statuses)
    assert sorted(status for status, n in deleted.items() for _ in range(n)) == expected
    assert not any(done_before(row, cut, statuses) for row in store.outbox_list())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("batch", [1, 2, 3])
def test_a_prune_in_small_transactions_deletes_the_same_rows(store_urls, backend, batch):
    """Rows go ``batch`` a transaction until a short one: every done row before the cut,
    counted once, and nothing else, whether the last batch is full or short."""
    from punchcard.plugins.sql import outbox

    store = SqlStore(store_urls.new(backend))
    try:
        rows = _fill(store)
        deleted = outbox.prune(store, T0 + 50 * DAY, DONE_STATUSES, batch=batch)
        assert deleted == {"sent": 1, "failed": 1, "expired": 1}
        assert {row.id for row in store.outbox_list()} == {rows["new-sent"], rows["pending"]}
        assert outbox.prune(store, T0 + 10_000 * DAY, DONE_STATUSES, batch=batch) == {"sent": 1}
        assert [row.id for row in store.outbox_list()] == [rows["pending"]]
    finally:
        store.close()


def test_the_prune_command_reports_what_it_deleted(store_urls):
    url = store_urls.new("sqlite")
    made = SqlStore(url)
    rows = _fill(made)
    made.close()
    at = (T0 + 60 * DAY).isoformat()
    kept = RUNNER.invoke(app, ["messages", "prune", "--store", url, "--older-than", "365", "--at", at])
    sent = RUNNER.invoke(app, ["messages", "prune", "--store", url, "--older-than", "30", "--at", at])
    done = RUNNER.invoke(app, ["messages", "prune", "--store", url, "--older-than", "30", "--failed", "--at", at,
                               "--format", "json"])
    bad = RUNNER.invoke(app, ["messages", "prune", "--store", url, "--older-than", "0"])
    bad_time = RUNNER.invoke(app, ["messages", "prune", "--store", url, "--older-than", "30", "--at", "yesterday"])
    assert kept.exit_code == 0 and "deleted 0 rows dated before" in kept.stdout
    assert sent.exit_code == 0 and "deleted 1 row dated before" in sent.stdout and "(1 sent)" in sent.stdout
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["deleted"] == {"failed": 1, "expired": 1} and report["total"] == 2
    assert report["before"] == (T0 + 30 * DAY).isoformat()
    assert bad.exit_code == 2 and bad_time.exit_code == 2 and "ISO 8601" in bad_time.output
    left = SqlStore(url)
    try:
        assert {row.id for row in left.outbox_list()} == {rows["new-sent"], rows["pending"]}
    finally:
        left.close()


def test_the_prune_example_in_the_docs_prints_what_it_shows(store_urls):
    page = (Path(__file__).resolve().parents[2] / "docs" / "messages.md").read_text(encoding="utf-8")
    command, shown = re.search(r"\$ (punchcard messages prune [^\n]+)\n([^\n]+)\n", page).groups()
    url = store_urls.new("sqlite")
    made = SqlStore(url)
    for n in range(2):  # one sent and one expired, months before the example's cut
        save(made, *decided(f"e{n}", "masha"))
    first, second = store_ids = [row.id for row in made.outbox_list()]
    assert len(store_ids) == 2 and made.outbox_claim(T0 + DAY, 2, T0 + 2 * DAY, "s", ["push"])
    made.outbox_sent(first, T0, "r")
    made.outbox_release(second, "s", None)
    made.close()
    args = [url if arg == "sqlite:///points.db" else arg for arg in shlex.split(command)[1:]]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == shown
