"""The sender: compose once (stored before delivery), deliver with the message id, mark
sent once; failures back off and end failed; channels nobody delivers stay pending."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from outbox_support import T0, CountingComposer, RecordingDelivery, decided, save

from punchcard.engine.messaging.send import Sending, backoff, drain, error_text
from punchcard.engine.store import MemoryStore

NOW = T0 + dt.timedelta(days=1)


def clock_at(moment: dt.datetime):
    return lambda: moment


def _store(n: int = 3, member: str = "masha") -> MemoryStore:
    store = MemoryStore()
    for i in range(n):
        save(store, *decided(f"e{i}", member))
    return store


def test_drain_composes_delivers_and_marks_each_once():
    store, composer, sink = _store(), CountingComposer(model=True), RecordingDelivery()
    report = drain(store, {"push": sink}, {}, composer=composer, clock=clock_at(NOW))
    assert [m["id"] for m in sink.delivered] == ["e0:points", "e1:points", "e2:points"]
    # the facts as stored (exact decimal text, an ISO date) fill the template as the originals would
    assert sink.delivered[0] == {"id": "e0:points", "member_id": "masha", "channel": "push", "locale": "en",
                                 "text": "Masha, 300.5 points are yours until 31 March 2026. #1"}
    assert (report.sent, report.composed, report.by_source["llm"], report.input_tokens, report.output_tokens,
            report.cost, report.left_pending, report.ok) == (3, 3, 3, 300, 60, Decimal("0.0036"), 0, True)
    rows = store.outbox_list()
    assert {(r.status, r.sent_at, r.attempts) for r in rows} == {("sent", NOW, 1)}
    assert [r.receipt for r in rows] == ["r-1", "r-2", "r-3"]
    assert rows[0].composed["text"] == sink.delivered[0]["text"] and rows[0].composed["source"] == "llm"
    again = drain(store, {"push": sink}, {}, composer=composer, clock=clock_at(NOW))
    assert (again.sent, again.composed, len(sink.delivered)) == (0, 0, 3)


def test_not_due_yet_is_left_alone():
    store, sink = _store(1), RecordingDelivery()
    report = drain(store, {"push": sink}, {}, composer=CountingComposer(), clock=clock_at(T0 - dt.timedelta(hours=1)))
    assert (report.sent, report.left_pending, sink.delivered) == (0, 0, [])


def test_limit_sends_at_most_n():
    store, sink = _store(5), RecordingDelivery()
    report = drain(store, {"push": sink}, {}, limit=2, composer=CountingComposer(), clock=clock_at(NOW))
    assert (report.sent, len(sink.delivered), report.left_pending) == (2, 2, 3)


def test_a_failed_delivery_keeps_its_text_backs_off_and_fails_after_the_last_attempt():
    store, composer = _store(1), CountingComposer()
    sending = Sending(max_attempts=3, backoff_base=dt.timedelta(seconds=10), backoff_cap=dt.timedelta(seconds=15))
    failing = RecordingDelivery(fail={"e0:points"})
    first = drain(store, {"push": failing}, {}, composer=composer, clock=clock_at(NOW), sending=sending)
    [row] = store.outbox_list()
    assert (first.retrying, first.failed, first.ok, first.errors["ConnectionError"]) == (1, 0, False, 1)
    assert (row.status, row.attempts, row.lease_until) == ("pending", 1, NOW + dt.timedelta(seconds=10))
    assert row.failed_at == NOW  # when the attempt failed, by the sender's clock
    assert row.composed is not None and row.composed["text"].endswith("#1")
    # the error keeps its kind, never the text or the facts
    assert row.last_error.startswith("ConnectionError: gateway refused") and "Masha" not in row.last_error
    assert row.composed["text"] not in row.last_error
    # backing off: not tried before its time
    assert drain(store, {"push": failing}, {}, composer=composer, clock=clock_at(NOW)).retrying == 0
    later = NOW + dt.timedelta(seconds=10)
    drain(store, {"push": failing}, {}, composer=composer, clock=clock_at(later), sending=sending)
    assert store.outbox_list()[0].lease_until == later + dt.timedelta(seconds=15)  # doubled, capped
    last = drain(store, {"push": failing}, {}, composer=composer, clock=clock_at(later + dt.timedelta(minutes=1)),
                 sending=sending)
    assert (last.failed, store.outbox_list()[0].status, store.outbox_list()[0].attempts) == (1, "failed", 3)
    assert composer.calls == {"e0:points": 1}  # composed once, whatever the retries


def test_a_retry_after_a_failure_sends_the_stored_text():
    store, composer = _store(1), CountingComposer()
    drain(store, {"push": RecordingDelivery(fail={"e0:points"})}, {}, composer=composer, clock=clock_at(NOW))
    sink = RecordingDelivery()
    report = drain(store, {"push": sink}, {}, composer=composer, clock=clock_at(NOW + dt.timedelta(hours=2)))
    assert (report.sent, report.composed, composer.calls) == (1, 0, {"e0:points": 1})
    assert sink.delivered[0]["text"].endswith("#1")


def test_a_message_that_cannot_be_composed_fails_at_once():
    store = _store(1)

    def broken(req, messengers, *, messenger=None):
        raise KeyError("first_name")

    report = drain(store, {"push": RecordingDelivery()}, {}, composer=broken, clock=clock_at(NOW))
    [row] = store.outbox_list()
    assert (report.failed, row.status, row.last_error) == (1, "failed", "KeyError: 'first_name'")


def test_channels_nobody_delivers_stay_pending_and_say_so():
    store = _store(3)
    report = drain(store, {"sms": RecordingDelivery()}, {}, composer=CountingComposer(), clock=clock_at(NOW))
    assert (report.sent, report.pending, report.undeliverable, report.ok) == (0, {"push": 3}, ["push"], False)
    assert {r.status for r in store.outbox_list()} == {"pending"}
    assert report.to_json()["left_pending"] == 3


def test_backoff_doubles_and_is_bounded():
    sending = Sending(backoff_base=dt.timedelta(seconds=30), backoff_cap=dt.timedelta(hours=1))
    assert [backoff(n, sending).total_seconds() for n in (1, 2, 3, 8, 100)] == [30, 60, 120, 3600, 3600]


def test_error_text_masks_secrets_and_is_short():
    exc = ValueError("could not send 'Masha, 300 points' to +447700900123\nsecond line")
    assert error_text(exc, ["Masha, 300 points", "+447700900123", "5"]) == "ValueError: could not send '…' to …"
    assert len(error_text(ValueError("x" * 1000))) == 200
    assert error_text(ConnectionError()) == "ConnectionError"


@pytest.mark.parametrize("model", [False, True])
def test_report_json_counts_sources_and_reasons(model):
    store = _store(2)
    report = drain(store, {"push": RecordingDelivery()}, {}, composer=CountingComposer(model), clock=clock_at(NOW))
    out = report.to_json()
    assert out["by_source"] == ({"llm": 2} if model else {"template": 2})
    assert out["cost"] == ("0.0024" if model else "0") and out["sent"] == 2
