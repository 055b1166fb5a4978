"""Leases and attempts: a slow model never lets a second sender take the row being composed,
and a row that kills (or hangs) its sender every time is failed after ``max_attempts``
claims, while the rows behind it are sent, each claimed once."""

from __future__ import annotations

import contextlib
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from outbox_support import T0, RecordingDelivery, decided, save

from punchcard.engine.messaging.send import Sending, drain
from punchcard.engine.messaging.templates import fill_request
from punchcard.engine.runtime.message import Composed
from punchcard.engine.store import MemoryStore

NOW = T0 + dt.timedelta(days=1)
CHANNELS = ("sms", "push", "email")
LEASE = dt.timedelta(seconds=60)


class Killed(BaseException):
    """The sender dies here (killed, or hung until a supervisor killed it): nothing after runs."""


def test_a_slow_model_never_lets_another_sender_claim_the_row_it_composes(store_factory):
    store = store_factory()
    for i in range(4):
        save(store, *decided(f"e{i}", "masha"))
    now, taken, clashes = [NOW], set(), []

    def slow_model(req, messengers, *, messenger=None):
        now[0] += dt.timedelta(seconds=45)  # 15 s x 3 tries, within the 60 s lease of one row
        # a second sender starts now: it may take the rows not yet claimed, never this one
        got = {row.id for row in store.outbox_claim(now[0], 10, now[0] + LEASE, "other", CHANNELS)}
        clashes.extend(got & {req.id})
        taken.update(got)
        return Composed(fill_request(req), "llm")

    sink = RecordingDelivery()
    report = drain(store, {"push": sink}, {"slow": object()}, composer=slow_model, sending=Sending(lease=LEASE),
                   clock=lambda: now[0])
    assert clashes == []
    assert (report.sent, report.lost) == (1, 0)  # the first row; the other sender took the rest, untouched here
    assert taken == {"e1:points", "e2:points", "e3:points"}
    assert {(r.id, r.attempts) for r in store.outbox_list()} == {("e0:points", 1), ("e1:points", 1),
                                                                  ("e2:points", 1), ("e3:points", 1)}


def _poisoned_run(store, bad: str, stage: str, max_attempts: int) -> tuple[int, RecordingDelivery]:
    """Drain again and again, a lease apart, as a supervisor restarting a dying sender would;
    the runs it took to empty the outbox."""

    def composer(req, messengers, *, messenger=None):
        if stage == "compose" and req.id == bad:
            raise Killed
        return Composed(fill_request(req), "template")

    class Channel(RecordingDelivery):
        def deliver(self, message):
            if stage == "deliver" and message["id"] == bad:
                raise Killed
            return super().deliver(message)

    sink, now, runs = Channel(), NOW, 0
    sending = Sending(max_attempts=max_attempts, lease=LEASE)
    while store.outbox_list("pending"):
        runs += 1
        assert runs <= max_attempts + 1, "a row that kills its sender is claimed first for ever"
        with contextlib.suppress(Killed):
            drain(store, {"push": sink}, {}, composer=composer, sending=sending, clock=lambda at=now: at)
        now += LEASE + dt.timedelta(seconds=1)  # the dead sender's lease is over
    return runs, sink


def _check_poisoned(store, sink: RecordingDelivery, bad: str, n: int, max_attempts: int) -> None:
    rows = {row.id: row for row in store.outbox_list()}
    assert (rows[bad].status, rows[bad].last_error) == \
        ("failed", f"Abandoned: claimed {max_attempts} times, never finished")
    others = {f"e{i}:points" for i in range(n)} - {bad}
    assert all((rows[i].status, rows[i].attempts) == ("sent", 1) for i in others)  # claimed once: none paid for it
    assert sorted(m["id"] for m in sink.delivered) == sorted(others)


def test_a_row_that_kills_its_sender_is_failed_after_its_attempts(store_factory):
    store = store_factory()
    for i in range(3):
        save(store, *decided(f"e{i}", "masha"))
    runs, sink = _poisoned_run(store, "e0:points", "compose", 2)
    assert runs == 3
    _check_poisoned(store, sink, "e0:points", 3, 2)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5), data=st.data(), stage=st.sampled_from(["compose", "deliver"]),
       max_attempts=st.integers(1, 6))
def test_a_poison_row_anywhere_is_failed_and_every_other_row_sent_once(n, data, stage, max_attempts):
    store = MemoryStore()
    for i in range(n):
        save(store, *decided(f"e{i}", f"m{i % 2}"))
    bad = f"e{data.draw(st.integers(0, n - 1))}:points"
    runs, sink = _poisoned_run(store, bad, stage, max_attempts)
    assert runs == max_attempts + 1
    _check_poisoned(store, sink, bad, n, max_attempts)
