"""A rejected decision reports the member's real balance and pending points.

An over-spend, a conflict and an event refused as invalid input all say what the
member holds (docs/semantics.md, "Decisions"); only an event whose member id is itself
invalid has no member, and reports 0.
"""

from __future__ import annotations

from decimal import Decimal

from punchcard.engine import Engine
from punchcard.engine.compiler.stages import compile_ruleset

RULESET = compile_ruleset("""
punchcard: 1
ruleset: rejected-balance
version: 1.0.0
currency: USD
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
""")
TIME = "2026-03-02T12:15:00"


def _engine(store_factory) -> Engine:
    engine = Engine(RULESET, store_factory())
    first = engine.process({"type": "purchase", "id": "p1", "member": "m", "time": TIME, "amount": "150"})
    assert first.outcome == "applied" and first.balance == Decimal(150)
    return engine


def test_an_invalid_redeem_reports_the_members_balance(store_factory):
    engine = _engine(store_factory)
    for points in ("1e999", "0.5", "-0", " 5 "):
        decision = engine.process({"type": "redeem", "id": "r1", "member": "m", "time": TIME, "points": points})
        assert decision.outcome == "rejected", points
        assert decision.balance == Decimal(150) and decision.to_dict()["balance"] == "150", (points, decision)
        assert decision.member_id == "m"


def test_an_invalid_event_with_a_bad_time_still_reports_the_balance(store_factory):
    engine = _engine(store_factory)
    decision = engine.process({"type": "purchase", "id": "p2", "member": "m", "time": "soon", "amount": "5"})
    assert decision.outcome == "rejected" and decision.balance == Decimal(150)


def test_a_conflict_reports_the_members_balance(store_factory):
    engine = _engine(store_factory)
    again = engine.process({"type": "purchase", "id": "p1", "member": "m", "time": TIME, "amount": "151"})
    assert again.outcome == "rejected" and again.reason.startswith("conflict")
    assert again.balance == Decimal(150) and again.to_dict()["balance"] == "150"


def test_a_new_member_and_an_invalid_member_id_report_zero(store_factory):
    engine = _engine(store_factory)
    unknown = engine.process({"type": "redeem", "id": "r2", "member": "nobody", "time": TIME, "points": "0.5"})
    assert unknown.outcome == "rejected" and unknown.balance == 0 and unknown.member_id == "nobody"
    for member in ("", "x" * 201, "a\x00b", 5):
        bad = engine.process({"type": "redeem", "id": "r3", "member": member, "time": TIME, "points": "1"})
        assert bad.outcome == "rejected" and bad.balance == 0 and bad.pending == 0
        assert bad.to_dict()["balance"] == "0" and bad.member_id == ""


def test_an_over_spend_still_reports_the_balance(store_factory):
    engine = _engine(store_factory)
    over = engine.process({"type": "redeem", "id": "r4", "member": "m", "time": TIME, "points": "200"})
    assert over.outcome == "rejected" and over.balance == Decimal(150)


def test_a_store_failing_to_read_the_member_is_a_store_error():
    import pytest

    from punchcard.engine import MemoryStore
    from punchcard.engine.store import StoreError

    class Failing(MemoryStore):
        def member(self, member_id):
            raise OSError("disk gone")

    engine = Engine(RULESET, Failing())
    with pytest.raises(StoreError, match="reading a member with OSError"):
        engine.process({"type": "redeem", "id": "r1", "member": "m", "time": TIME, "points": "0.5"})
    # no member to read: no store read, a plain rejection
    nobody = {"type": "redeem", "id": "r1", "member": "", "time": TIME, "points": "1"}
    assert engine.process(nobody).outcome == "rejected"


def test_an_invalid_event_in_a_batch_reports_the_members_balance(store_factory):
    """A store that parses a batch itself reports the same balance as one event at a time."""
    engine = _engine(store_factory)
    bad = {"type": "redeem", "id": "r1", "member": "m", "time": TIME, "points": "0.5"}
    [decision] = engine.process_many([bad])
    assert decision.outcome == "rejected" and decision.balance == Decimal(150)
