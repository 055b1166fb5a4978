"""The outbox is drained exactly once across ``kill -9`` of the sender: a real sender
process (outbox_sender.py) is killed mid-drain on SQLite and on PostgreSQL, a second one
finishes, and every message ends marked sent once, in the channel once (by id), and
delivered twice at most if it was in flight when the first sender died."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from outbox_support import HERE, decided, env_without_delivery, save, sink_lines

from punchcard.plugins.sql.store import SqlStore

pytestmark = pytest.mark.slow

SCRIPT = HERE / "outbox_sender.py"
MESSAGES = 24
KILL_AFTER = 7  # deliveries seen in the sink before the kill
PAUSE = "0.2"  # seconds between a delivery and its sent mark in the first sender


def _sender(url: str, sink, pause: str, skew: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), url, str(sink), pause, skew], env=env_without_delivery(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_mid_drain(process: subprocess.Popen, sink) -> None:
    deadline = time.monotonic() + 120
    while len(sink_lines(sink)) < KILL_AFTER:
        if process.poll() is not None:
            pytest.fail(f"the sender ended before it was killed: {process.returncode}\n{process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the sender delivered nothing for two minutes")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_outbox_is_drained_exactly_once_across_kill_9(backend, store_urls, tmp_path):
    url, sink = store_urls.new(backend), tmp_path / "sink.jsonl"
    store = SqlStore(url)
    for i in range(MESSAGES):
        save(store, *decided(f"e{i:02}", f"m{i % 3}"))
    ids = {f"e{i:02}:points" for i in range(MESSAGES)}

    _kill_mid_drain(_sender(url, sink, PAUSE, "0"), sink)
    after_kill = store.outbox_list()
    statuses = Counter(row.status for row in after_kill)
    assert 0 < statuses["sent"] < MESSAGES and statuses["failed"] == 0  # killed half-way
    # claimed one at a time: the killed sender held one row at most; in flight: composed (its
    # text stored), perhaps delivered, not marked sent
    held = {row.id for row in after_kill if row.status == "pending" and row.lease_owner is not None}
    in_flight = {row.id for row in after_kill if row.status == "pending" and row.composed is not None}
    assert len(held) <= 1 and in_flight <= held

    finisher = _sender(url, sink, "0", "600")  # its clock is past the killed sender's leases
    out, err = finisher.communicate(timeout=300)
    assert finisher.returncode == 0, err
    assert json.loads(out)["left_pending"] == 0

    rows = store.outbox_list()
    store.close()
    assert {row.id for row in rows} == ids
    # sent, each claimed once, but the row the killed sender held: twice
    assert {row.status for row in rows} == {"sent"} and all(row.sent_at for row in rows)
    assert {row.id: row.attempts for row in rows} == {row_id: 1 + (row_id in held) for row_id in ids}
    lines = sink_lines(sink)
    delivered = Counter(line["id"] for line in lines)
    assert set(delivered) == ids  # the sink, deduplicated by id, holds each message once
    again = [message_id for message_id, n in delivered.items() if n > 1]
    assert set(again) <= in_flight and all(delivered[m] == 2 for m in again)  # only the one in flight, twice
    texts = {row.id: row.composed["text"] for row in rows}
    assert all(line["text"] == texts[line["id"]] for line in lines)  # the same text every time
