"""A legal hold (engine/policies/hold.py, docs/operations.md): no lot expires, is released or
is noticed while it lasts, earning and redeeming are refused, and after it each lot has
exactly the life (and the wait) it had left when the hold began."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import MemoryStore, compile_ruleset, evaluate
from punchcard.engine.engine import Engine
from punchcard.engine.policies.hold import elapsed
from punchcard.plugins.sql.store import SqlStore

ROOT = Path(__file__).resolve().parents[2]
COMPILED = compile_ruleset(ROOT / "tests/engine/rulesets/hold-expiry.yaml")
# the same terms in a zone with summer time, whose clocks change during a hold
BERLIN = compile_ruleset((ROOT / "tests/engine/rulesets/hold-expiry.yaml").read_text(encoding="utf-8")
                         .replace("timezone: UTC", "timezone: Europe/Berlin"))
START = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
CLOCKS = ("expire", "release", "expiry_notice")


def _at(days: int, hours: int = 0) -> str:
    return (START + dt.timedelta(days=days, hours=hours)).isoformat()


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)


def _life(state, since: dt.datetime) -> dict[str, tuple]:
    """Each live lot's remaining expiry life and pending wait, measured from ``since`` in real time."""
    return {lot.id: tuple(None if d is None else _utc(d) - _utc(since) for d in (lot.expires_at, lot.pending_until))
            for lot in state.lots if lot.remaining > 0}


def _events(purchases: list[int], freeze_at: int, hold: int, ticks: list[int]) -> list[dict]:
    events = [{"type": "purchase", "id": f"p-{i}", "member": "m", "time": _at(day, 1), "amount": 10 + i}
              for i, day in enumerate(purchases)]
    events += [{"type": "tick", "id": f"t-{i}", "member": "m", "time": _at(day, 2)} for i, day in enumerate(ticks)]
    events.append({"type": "freeze", "id": "f", "member": "m", "time": _at(freeze_at, 3), "reason": "court order"})
    events.append({"type": "unfreeze", "id": "u", "member": "m", "time": _at(freeze_at + hold, 4),
                   "reason": "lifted"})
    events.append({"type": "redeem", "id": "r", "member": "m", "time": _at(freeze_at + hold // 2, 5), "points": 1})
    return sorted(events, key=lambda e: e["time"])


@settings(max_examples=120, deadline=None)
@given(purchases=st.lists(st.integers(0, 500), min_size=1, max_size=6), freeze_at=st.integers(0, 500),
       hold=st.integers(1, 900), ticks=st.lists(st.integers(0, 1500), max_size=6))
def test_nothing_runs_out_during_a_hold_and_each_lot_keeps_the_life_it_had(purchases, freeze_at, hold, ticks):
    state, frozen_life, holding = None, None, False
    for event in _events(purchases, freeze_at, hold, ticks):
        decision, state = evaluate(COMPILED, state, event)
        if holding:  # while the hold lasts, its lifting included: no clock runs, nothing is earned or spent
            assert not [e for e in decision.effects if e.kind in CLOCKS], decision.effects
            if event["type"] in ("purchase", "redeem"):
                assert decision.outcome == "rejected" and "on hold" in decision.reason
        if event["type"] == "freeze":
            assert decision.outcome == "applied"
            holding, frozen_life = True, _life(state, state.frozen[0])
        if event["type"] == "unfreeze":
            assert decision.outcome == "applied" and state.frozen is None
            assert _life(state, event_time(event)) == frozen_life  # the same life left, to the microsecond
            holding = False


def event_time(event: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(event["time"])


@settings(max_examples=60, deadline=None)
@given(earned=st.integers(0, 300), freeze_after=st.integers(0, 200), hold=st.integers(1, 800))
def test_across_summer_time_the_life_left_is_real_time(earned, freeze_after, hold):
    """In a zone with summer time a lot's deadline moves by the hold's real duration, not its wall time."""
    state = None
    start = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    events = [
        {"type": "purchase", "id": "p", "member": "m", "time": (start + dt.timedelta(days=earned)).isoformat(),
         "amount": 10},
        {"type": "freeze", "id": "f", "member": "m", "reason": "hold",
         "time": (start + dt.timedelta(days=earned + freeze_after, hours=1)).isoformat()},
        {"type": "unfreeze", "id": "u", "member": "m", "reason": "lifted",
         "time": (start + dt.timedelta(days=earned + freeze_after + hold, hours=2)).isoformat()},
    ]
    life = None
    for event in events:
        _, state = evaluate(BERLIN, state, event)
        if event["id"] == "f":
            life = _life(state, state.frozen[0])
    assert _life(state, event_time(events[-1])) == life


def test_the_hold_is_kept_by_the_store_and_refuses_once_stored():
    """The hold is member state: a store keeps it between events, and a replay applies each event once."""
    store = MemoryStore()
    engine = Engine(COMPILED, store)
    engine.process({"type": "purchase", "id": "p-1", "member": "m", "time": "2026-01-01T00:00:00", "amount": 10})
    engine.process({"type": "freeze", "id": "f-1", "member": "m", "time": "2026-02-01T00:00:00", "reason": "court"})
    assert store.member("m").frozen[1] == "court"
    refused = engine.process({"type": "purchase", "id": "p-2", "member": "m", "time": "2026-02-02T00:00:00",
                              "amount": 10})
    assert refused.outcome == "rejected" and "on hold" in refused.reason
    again = engine.process({"type": "freeze", "id": "f-1", "member": "m", "time": "2026-02-01T00:00:00",
                            "reason": "court"})
    assert again.outcome == "duplicate"
    lifted = engine.process({"type": "unfreeze", "id": "u-1", "member": "m", "time": "2026-03-01T00:00:00",
                             "reason": "lifted"})
    assert lifted.outcome == "applied" and store.member("m").frozen is None
    earned = engine.process({"type": "purchase", "id": "p-3", "member": "m", "time": "2026-03-02T00:00:00",
                             "amount": 10})
    assert earned.outcome == "applied" and earned.points == 10


def test_a_hold_skips_conversions_and_keeps_vouchers_from_expiring():
    """Clubcard: no period end converts points during a hold (they wait for the next one after
    it), and a voucher issued before the hold keeps the life it had left."""
    clubcard = compile_ruleset(ROOT / "rulesets/clubcard.yaml")
    events = [
        {"type": "purchase", "id": "p-1", "member": "m", "time": "2026-01-10T10:00:00", "amount": 300,
         "category": "grocery"},
        {"type": "purchase", "id": "p-2", "member": "m", "time": "2026-04-10T10:00:00", "amount": 200,
         "category": "grocery"},
        {"type": "freeze", "id": "f", "member": "m", "time": "2027-01-01T00:00:00", "reason": "court"},
        {"type": "tick", "id": "t-1", "member": "m", "time": "2028-04-01T00:00:00"},
        {"type": "unfreeze", "id": "u", "member": "m", "time": "2028-06-01T00:00:00", "reason": "lifted"},
    ]
    state, decisions = None, {}
    for event in events:
        decisions[event["id"]], state = evaluate(clubcard, state, event)
    assert [v.id for v in state.vouchers] == ["m:2026-02", "m:2026-05"]  # none for the period ends of the hold
    assert not [e for e in decisions["t-1"].effects if e.kind.startswith("voucher")]  # none expired in it
    held = elapsed(dt.datetime.fromisoformat("2027-01-01T00:00:00+00:00"),
                   dt.datetime.fromisoformat("2028-06-01T00:00:00+01:00"))
    first = state.vouchers[0]
    assert _utc(first.expires_at) - _utc(first.issued_at) == dt.timedelta(days=731) + held  # 2 years, then the hold
    unfreeze = next(e for e in decisions["u"].effects if e.kind == "unfreeze")
    assert unfreeze.detail["conversions_skipped"] == 6 and unfreeze.detail["moved"] == 2


def test_a_ledger_with_a_hold_reconciles(tmp_path):
    """A hold moves no point: the SQL audit finds the ledger, the lots (their dates moved) and the
    balances in agreement after it, with an adjustment made during it."""
    store = SqlStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    engine = Engine(COMPILED, store)
    for event in ({"type": "purchase", "id": "p-1", "time": "2026-01-10T00:00:00", "amount": 100},
                  {"type": "freeze", "id": "f-1", "time": "2026-06-01T00:00:00", "reason": "court order"},
                  {"type": "adjust", "id": "a-1", "time": "2026-07-01T00:00:00", "points": 5, "reason": "goodwill"},
                  {"type": "unfreeze", "id": "u-1", "time": "2027-03-01T00:00:00", "reason": "lifted"},
                  {"type": "tick", "id": "t-1", "time": "2027-10-10T00:00:00"}):
        assert engine.process({**event, "member": "m"}).outcome == "applied"
    report = store.audit()
    store.close()
    assert report.ok, report.differences
    assert report.lots == 2


def test_a_deadline_at_the_calendar_s_end_stays_there_and_the_hold_can_be_lifted():
    """A lot that expires in 9999 cannot move a month later: it stays at the calendar's end,
    and lifting the hold is decided like any other (docs/semantics.md, calendar arithmetic)."""
    engine = Engine(compile_ruleset(ROOT / "rulesets/coffee-club.yaml"))
    events = [
        {"type": "import", "id": "i1", "member": "m1", "time": "2026-03-02T10:00:00", "points": 100,
         "earned_at": "2026-01-01T00:00:00", "expires_at": "9999-12-01T00:00:00Z"},
        {"type": "freeze", "id": "f1", "member": "m1", "time": "2026-03-03T10:00:00", "reason": "legal"},
        {"type": "unfreeze", "id": "u1", "member": "m1", "time": "2026-04-03T10:00:00", "reason": "done"},
        {"type": "purchase", "id": "p1", "member": "m1", "time": "2026-04-04T10:00:00", "amount": "150",
         "category": "coffee"}]
    assert [engine.process(event).outcome for event in events] == ["applied"] * 4
    state = engine.member("m1")
    assert state.frozen is None and state.lots[0].expires_at.year == 9999 and state.total() > 100
