"""Times finer than a microsecond: evaluated to the microsecond, compared exactly.

A host on Go or Java sends nanosecond timestamps. They are accepted, the rules see the
time to the microsecond, and idempotency compares every digit sent: the same id with
another nanosecond is a conflict, with the same instant written with trailing zeros a
duplicate (docs/semantics.md, "Numbers and bounds").
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset

RULESET = compile_ruleset("""
punchcard: 1
ruleset: nanos
version: 1.0.0
currency: USD
timezone: UTC
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
    visit: {at: datetime}
earning:
  base: {on: purchase, points: event.amount}
""")


def _purchase(time: str, event_id: str = "e1") -> dict:
    return {"type": "purchase", "id": event_id, "member": "m", "time": time, "amount": "10"}


def test_a_nanosecond_time_is_read_to_the_microsecond():
    event = RULESET.schema.parse(_purchase("2026-03-02T12:15:00.123456789Z"))
    assert event.time == dt.datetime(2026, 3, 2, 12, 15, 0, 123456, tzinfo=dt.UTC)
    assert event.body["time"] == "2026-03-02T12:15:00.123456789+00:00"


def test_another_nanosecond_is_a_conflict_and_trailing_zeros_a_duplicate():
    engine = Engine(RULESET, MemoryStore())
    assert engine.process(_purchase("2026-03-02T12:15:00.123456789Z")).outcome == "applied"
    other = engine.process(_purchase("2026-03-02T12:15:00.123456788Z"))
    assert other.outcome == "rejected" and other.reason.startswith("conflict") and other.reason.endswith("time")
    assert engine.process(_purchase("2026-03-02T12:15:00.1234567890+00:00")).outcome == "duplicate"
    assert engine.process(_purchase("2026-03-02T12:15:00.123456Z", "e2")).outcome == "applied"
    assert engine.process(_purchase("2026-03-02T12:15:00.123456000Z", "e2")).outcome == "duplicate"
    assert engine.process(_purchase("2026-03-02T12:15:00.000000001Z", "e3")).outcome == "applied"
    assert engine.process(_purchase("2026-03-02T12:15:00Z", "e3")).reason.startswith("conflict")


def test_a_datetime_field_keeps_its_digits_too():
    engine = Engine(RULESET, MemoryStore())
    visit = {"type": "visit", "id": "v1", "member": "m", "time": "2026-03-02T12:15:00Z",
             "at": "2026-03-02T12:00:00.000000001Z"}
    assert engine.process(visit).outcome == "applied"
    again = engine.process({**visit, "at": "2026-03-02T12:00:00.000000002Z"})
    assert again.outcome == "rejected" and again.reason.endswith(": at")


@settings(max_examples=100, deadline=None)
@given(a=st.integers(0, 999_999_999), b=st.integers(0, 999_999_999))
def test_two_nanosecond_times_are_one_body_exactly_when_equal(a, b):
    first = RULESET.schema.parse(_purchase(f"2026-03-02T12:15:00.{a:09d}Z"))
    second = RULESET.schema.parse(_purchase(f"2026-03-02T12:15:00.{b:09d}Z"))
    assert (first.digest == second.digest) == (a == b)
    assert first.time.microsecond == a // 1000


def test_every_store_tells_nanoseconds_apart(store_factory):
    engine = Engine(RULESET, store_factory())
    assert engine.process(_purchase("2026-03-02T12:15:00.123456789Z")).outcome == "applied"
    other = engine.process(_purchase("2026-03-02T12:15:00.123456788Z"))
    assert other.outcome == "rejected" and other.reason.endswith("fields: time"), other.reason
    assert engine.process(_purchase("2026-03-02T12:15:00.123456789000Z")).outcome == "duplicate"


def test_digits_of_the_offset_are_not_taken_for_the_seconds():
    """An offset may carry a fraction of its own: only the seconds' digits are kept exactly."""
    event = RULESET.schema.parse(_purchase("2026-03-02T12:15:00+03:00:00.1234567"))
    assert event.exact == {} and event.body["time"] == event.time.isoformat()
    assert RULESET.schema.parse(_purchase("2026-03-02T12:15:00.1234567-03:00")).body["time"] \
        == "2026-03-02T15:15:00.1234567+00:00"
