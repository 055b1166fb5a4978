"""A message past its request's ``expires_at`` is ``expired``, never composed nor delivered;
one reached inside its quiet hours (read in the ruleset's zone the row keeps, else at its
``send_at``'s offset) waits, untried and uncomposed, for their end, summer time included."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from outbox_support import T0, CountingComposer, RecordingDelivery, decided, message_effect, request, save

from punchcard.engine.messaging.send import drain, quiet_until
from punchcard.engine.runtime.decision import Outcome
from punchcard.engine.runtime.message import Composed
from punchcard.engine.store import MemoryStore

NOW = T0 + dt.timedelta(days=1)
MSK = dt.timezone(dt.timedelta(hours=3))  # Europe/Moscow's offset, as a stored request keeps its send_at
QUIET = ("21:00", "08:00")


def _queue(store, event_id: str, **fields) -> None:
    save(store, *decided(event_id, "masha", Outcome.APPLIED, message_effect(request(event_id, "masha", **fields))))


def _at(moment: dt.datetime):
    return lambda: moment


def test_a_message_past_its_expiry_is_expired_never_composed_nor_delivered(store_factory):
    store = store_factory()
    # both chosen for back-filled events a day ago: one's offer ended an hour after it, one's is still on,
    # and one may go until this very instant
    _queue(store, "stale", expires_at=T0 + dt.timedelta(hours=1))
    _queue(store, "fresh", expires_at=T0 + dt.timedelta(days=2))
    _queue(store, "edge", expires_at=NOW)
    composer, sink = CountingComposer(), RecordingDelivery()
    report = drain(store, {"push": sink}, {}, composer=composer, clock=_at(NOW))
    assert sorted(m["id"] for m in sink.delivered) == ["edge:points", "fresh:points"]
    assert composer.calls == {"edge:points": 1, "fresh:points": 1}
    assert (report.expired, report.sent, report.failed, report.left_pending, report.ok) == (1, 2, 0, 0, True)
    assert report.to_json()["expired"] == 1
    [row] = store.outbox_list("expired")
    assert (row.id, row.attempts, row.lease_owner, row.lease_until, row.composed, row.sent_at) == \
        ("stale:points", 0, None, None, None, None)
    again = drain(store, {"push": sink}, {}, composer=composer, clock=_at(NOW + dt.timedelta(days=1)))
    assert (again.expired, again.sent, len(sink.delivered)) == (0, 0, 2)  # expired is final


def test_a_message_that_expires_while_it_is_composed_is_not_delivered():
    store = MemoryStore()
    _queue(store, "slow", expires_at=NOW + dt.timedelta(seconds=30))
    now = [NOW]

    def slow_model(req, messengers, *, messenger=None):
        now[0] += dt.timedelta(seconds=45)  # three tries of 15 s
        return Composed("Masha, your points are waiting.", "llm")

    sink = RecordingDelivery()
    report = drain(store, {"push": sink}, {}, composer=slow_model, clock=lambda: now[0])
    [row] = store.outbox_list()
    assert (sink.delivered, report.expired, report.sent, row.status) == ([], 1, 0, "expired")


@pytest.mark.parametrize(("local_now", "ends"), [
    (dt.datetime(2026, 3, 3, 3, 0, tzinfo=MSK), dt.datetime(2026, 3, 3, 8, 0, tzinfo=MSK)),  # after midnight
    (dt.datetime(2026, 3, 2, 22, 30, tzinfo=MSK), dt.datetime(2026, 3, 3, 8, 0, tzinfo=MSK)),  # before midnight
], ids=["03:00", "22:30"])
def test_a_message_drained_in_quiet_hours_waits_for_their_end(store_factory, local_now, ends):
    store = store_factory()
    _queue(store, "q", send_at=dt.datetime(2026, 3, 2, 14, 0, tzinfo=MSK), quiet=QUIET)  # decided at 14:00
    composer, sink = CountingComposer(), RecordingDelivery()
    utc = local_now.astimezone(dt.UTC)  # the sender's clock is UTC: the hours are read in send_at's zone
    report = drain(store, {"push": sink}, {}, composer=composer, clock=_at(utc))
    assert (report.deferred, report.sent, report.retrying, composer.calls, sink.delivered) == (1, 0, 0, {}, [])
    assert report.ok and report.to_json()["deferred"] == 1
    [row] = store.outbox_list()
    assert (row.status, row.attempts, row.lease_owner, row.lease_until, row.composed) == \
        ("pending", 0, None, ends, None)
    early = drain(store, {"push": sink}, {}, composer=composer, clock=_at(ends - dt.timedelta(minutes=1)))
    assert (early.deferred, early.sent, early.left_pending) == (0, 0, 1)  # not even claimed
    done = drain(store, {"push": sink}, {}, composer=composer, clock=_at(ends))
    assert (done.sent, composer.calls, [m["id"] for m in sink.delivered]) == (1, {"q:points": 1}, ["q:points"])
    [row] = store.outbox_list()
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, ends)


def test_an_expired_message_in_quiet_hours_is_expired_not_held():
    store = MemoryStore()
    _queue(store, "q", send_at=dt.datetime(2026, 3, 2, 14, 0, tzinfo=MSK), quiet=QUIET,
           expires_at=dt.datetime(2026, 3, 3, 2, 0, tzinfo=MSK))
    report = drain(store, {"push": RecordingDelivery()}, {}, composer=CountingComposer(),
                   clock=_at(dt.datetime(2026, 3, 3, 3, 0, tzinfo=MSK)))
    assert (report.expired, report.deferred, store.outbox_list()[0].status) == (1, 0, "expired")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02}:{minute % 60:02}"


@given(start=st.integers(0, 1439), end=st.integers(0, 1439), minute=st.integers(0, 1439),
       offset=st.integers(-12 * 4, 14 * 4))
def test_quiet_until_is_the_next_end_of_the_quiet_hours_now_is_in(start, end, minute, offset):
    zone = dt.timezone(dt.timedelta(minutes=15 * offset))
    req = dataclasses.replace(request("e", "m", send_at=dt.datetime(2026, 3, 2, 12, tzinfo=zone)),
                              quiet=(_hhmm(start), _hhmm(end)))
    local = dt.datetime(2026, 3, 2, tzinfo=zone) + dt.timedelta(minutes=minute)
    until = quiet_until(req, local.astimezone(dt.UTC))
    if start == end:  # an empty window
        assert until is None
        return
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    assert (until is not None) == inside
    if until is not None:
        assert local < until <= local + dt.timedelta(days=1)
        assert until.astimezone(zone).time() == dt.time.fromisoformat(_hhmm(end))
        assert quiet_until(req, until) is None  # the end is outside them
        assert quiet_until(req, until - dt.timedelta(minutes=1)) == until  # and every minute before it waits for it


LONDON = "Europe/London"  # summer time from 01:00 UTC on 2026-03-29


@given(minute=st.integers(0, 3 * 24 * 60))
def test_quiet_hours_are_kept_on_the_members_clocks_across_a_change_to_summer_time(minute):
    """A message chosen in winter (its send_at at GMT's offset) and sent after the clocks went
    forward: the quiet hours are read in the ruleset's zone, as the members' clocks show them."""
    zone = ZoneInfo(LONDON)
    req = dataclasses.replace(request("e", "m", send_at=dt.datetime(2026, 3, 28, 8, tzinfo=dt.UTC)), quiet=QUIET,
                              quiet_zone=LONDON)
    now = dt.datetime(2026, 3, 28, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    clock = now.astimezone(zone).time()
    until = quiet_until(req, now)
    assert (until is not None) == (clock >= dt.time(21) or clock < dt.time(8))
    if until is not None:
        assert until.astimezone(zone).time() == dt.time(8) and now < until <= now + dt.timedelta(hours=11)


def test_a_row_stored_without_the_zone_keeps_its_send_at_offset():
    """Rows queued before the zone was kept read the hours at their send_at's UTC offset."""
    req = dataclasses.replace(request("e", "m", send_at=dt.datetime(2026, 3, 28, 8, tzinfo=dt.UTC)), quiet=QUIET)
    summer_morning = dt.datetime(2026, 3, 30, 7, 30, tzinfo=dt.UTC)  # 08:30 in London, 07:30 at GMT's offset
    assert quiet_until(req, summer_morning) == dt.datetime(2026, 3, 30, 8, tzinfo=dt.UTC)
    kept = dataclasses.replace(req, quiet_zone=LONDON)
    assert quiet_until(kept, summer_morning) is None  # 08:30 on the members' clocks: the quiet hours are over
    assert quiet_until(dataclasses.replace(req, quiet_zone="Nowhere/Atlantis"), summer_morning) == \
        quiet_until(req, summer_morning)  # a zone this machine does not know: the offset, as before
