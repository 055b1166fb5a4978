"""``Engine.dry``: what ``process`` would answer now, with nothing stored. On every store, in
fixed cases: a dry run followed by the real event gives the same decision, and the dry run
stores nothing. On the memory store, for any sequence of events (hypothesis): the same, and
the store is left exactly as it was (decisions, members' states, budgets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, compile_ruleset
from punchcard.engine.store import MemoryStore, StoreError
from punchcard.plugins.sql.store import SqlStore

COFFEE = Path("rulesets/coffee-club.yaml")


def small_budget(tmp_path: Path) -> Path:
    """coffee-club with a big-basket budget of one bonus (50 points), and no daily cap to hide it."""
    text = COFFEE.read_text().replace("{rule: big-basket, max_points: 1000000}", "{rule: big-basket, max_points: 50}")
    text = text.replace("{per: member, period: day, max_points: 500}", "{per: member, period: day, max_points: 99999}")
    assert "max_points: 50}" in text and "max_points: 99999}" in text
    path = tmp_path / "coffee-small-budget.yaml"
    path.write_text(text)
    return path


def purchase(event_id: str, member: str, amount: int, day: int = 2) -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": f"2026-03-{day:02d}T08:15:00",
            "amount": str(amount), "category": "coffee"}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, store_urls):
    made = MemoryStore() if request.param == "memory" else SqlStore(store_urls.new(request.param))
    yield made
    made.close()


def _snapshot(store, members) -> list:
    return [(m, [d.to_dict() for d in store.decisions(m, 100)], _state(store.member(m))) for m in members]


def _state(state) -> tuple | None:
    return None if state is None else (state.total(), state.debt, len(state.lots), state.tier.level,
                                       sorted(state.streaks), state.last_activity)


def test_a_dry_run_reads_the_budget_and_writes_nothing(store, tmp_path):
    engine = Engine(compile_ruleset(small_budget(tmp_path)), store)
    first = engine.dry(purchase("o-1", "masha", 1500))
    assert first.outcome == "applied"
    assert [e.detail["rule"] for e in first.effects if e.kind == "budget"] == ["big-basket"]
    assert _snapshot(store, ["masha"]) == [("masha", [], None)]  # nothing stored, not even the member
    assert engine.process(purchase("o-1", "masha", 1500)).to_dict() == first.to_dict()
    spent = engine.dry(purchase("o-2", "dasha", 1500))  # the budget's one bonus is used up
    assert spent.points == first.points - 50
    assert [(e.points, e.detail) for e in spent.effects if e.kind == "budget"] == [(0, {"rule": "big-basket",
                                                                                        "clipped": True})]
    assert engine.process(purchase("o-2", "dasha", 1500)).to_dict() == spent.to_dict()


def test_a_dry_run_of_a_seen_id_answers_as_the_real_request(store):
    engine = Engine(compile_ruleset(COFFEE), store)
    applied = engine.process(purchase("o-1", "masha", 150))
    again = engine.dry(purchase("o-1", "masha", 150))
    other = engine.dry(purchase("o-1", "masha", 999))
    assert again.outcome == "duplicate" and again.points == applied.points
    assert other.outcome == "rejected" and any(step.rule == "idempotency" for step in other.trace)
    assert len(store.decisions("masha", 10)) == 1


def test_a_dry_run_of_a_bad_event_is_its_rejection(store):
    engine = Engine(compile_ruleset(COFFEE), store)
    refused = engine.dry({"type": "purchase", "id": "o-1", "member": "masha"})
    assert refused.outcome == "rejected" and refused.reason
    assert store.member("masha") is None



@pytest.mark.parametrize("bad", [
    {"type": "purchase", "id": "o-2", "member": "masha"},  # no time, amount or category
    {**purchase("o-2", "masha", 150), "amount": "1e400"},  # beyond the bounds of a money field
    {**purchase("o-2", "masha", 150), "amount": ["150"]},  # of the wrong type
    {**purchase("o-2", "masha", 150), "time": "2026-13-40T99:00:00"},  # not a time
    "not an event",
])
def test_a_preview_of_a_bad_event_is_its_rejection_with_the_members_balance(store, bad):
    engine = Engine(compile_ruleset(COFFEE), store)
    first = engine.process(purchase("o-1", "masha", 150))
    preview = engine.preview(bad)
    assert preview.decision.outcome == "rejected" and preview.decision.reason
    assert preview.available == preview.decision.balance
    assert store.member("masha").total() == first.balance

def _mixed(n: int) -> dict:
    """Purchases, redemptions, a resent id and a resent id with another body, over two members."""
    member = ["masha", "dasha"][n % 2]
    if n % 5 == 4:
        return {"type": "redeem", "id": f"r-{n}", "member": member, "time": f"2026-03-{n + 1:02d}T09:00:00",
                "points": "50"}
    if n % 7 == 6:
        return purchase(f"o-{n - 2}", ["masha", "dasha"][(n - 2) % 2], 400 if n % 2 else 150, n - 1)
    return purchase(f"o-{n}", member, [150, 420, 1350][n % 3], n + 1)


def test_a_dry_run_answers_as_the_real_event_after_it_on_every_store(store, tmp_path):
    """Each event of a mixed history, tried first: the answer is the real one, and the
    store is as it was (the SQL stores' previews read without locks, in their own snapshot)."""
    engine = Engine(compile_ruleset(small_budget(tmp_path)), store)
    members = ["masha", "dasha"]
    for n in range(18):
        event = _mixed(n)
        before = _snapshot(store, members), store.budgets()
        dry = engine.dry(event)
        assert (_snapshot(store, members), store.budgets()) == before, event["id"]
        assert engine.process(event).to_dict() == dry.to_dict(), event["id"]



PREVIEWED = {  # ruleset -> (what a history's events carry, the years they span)
    "coffee-club": {"category": "coffee"},  # lots expire after 36 months
    "retail-tiers": {"category": "shoes"},  # points pending for 14 days
    "coffee-ab": {"category": "coffee"},  # two variants, each member in one
}


def _history(extra: dict) -> list[dict]:
    """Purchases and redemptions over four years, a resent id, and one with another body."""
    events = []
    for n in range(14):
        member = ["masha", "dasha", "sasha"][n % 3]
        time = f"{2026 + n // 4}-{1 + 3 * (n % 4):02d}-{2 + n:02d}T09:00:00"
        if n % 5 == 4:
            events.append({"type": "redeem", "id": f"r-{n}", "member": member, "time": time, "points": "10"})
        else:
            events.append({"type": "purchase", "id": f"o-{n}", "member": member, "time": time,
                           "amount": str(150 + 40 * n), **extra})
    return [*events, events[3], {**events[6], "amount": "1"}]


@pytest.mark.parametrize("name", sorted(PREVIEWED))
def test_a_preview_says_what_the_member_could_redeem_before_the_event_on_every_store(store, name):
    """``Engine.preview``: the dry run's decision, and the member's points at the event's time
    before it, as housekeeping would leave them (what ``member_at`` shows): lots expired and
    points matured by then, in the member's own variant."""
    engine = Engine(compile_ruleset(Path(f"rulesets/{name}.yaml")), store)
    for event in _history(PREVIEWED[name]):
        if event["type"] == "redeem" and "redeem" not in engine.compiled.schema.event_fields:
            continue
        when = engine.compiled.schema.parse(event).time
        seen, _ = engine.member_at(event["member"], when)
        preview = engine.preview(event)
        assert preview.available == (seen.available(when) if seen is not None else 0), event["id"]
        assert preview.decision.to_dict() == engine.dry(event).to_dict(), event["id"]
        engine.process(event)


def test_a_preview_counts_expired_and_pending_points_as_housekeeping_would():
    """Lots expired by the event's time are not counted; points still pending are not either."""
    engine = Engine(compile_ruleset(COFFEE))
    engine.process(purchase("o-1", "masha", 150))
    later = {**purchase("o-2", "masha", 150), "time": "2030-01-02T08:15:00"}
    assert engine.preview(purchase("o-3", "masha", 150, day=3)).available > 0
    assert engine.preview(later).available == 0
    retail = Engine(compile_ruleset(Path("rulesets/retail-tiers.yaml")))
    shoes = {"type": "purchase", "member": "masha", "amount": "200", "category": "shoes"}
    retail.process({**shoes, "id": "o-1", "time": "2026-03-02T09:00:00"})
    assert retail.preview({**shoes, "id": "o-2", "time": "2026-03-03T09:00:00"}).available == 0
    assert retail.preview({**shoes, "id": "o-3", "time": "2026-04-03T09:00:00"}).available > 0


def test_housekeeping_that_fails_is_a_rejection_in_a_preview_not_a_store_failure(monkeypatch):
    """As ``process`` answers a rejection, so do ``dry`` and ``preview``; a seen id is still
    its duplicate."""
    import importlib

    from punchcard.engine import answers

    evaluating = importlib.import_module("punchcard.engine.evaluate")  # the module, not the function it exports
    engine = Engine(compile_ruleset(COFFEE))
    first = engine.process(purchase("o-1", "masha", 150))

    def broken(*args, **kwargs):
        raise ArithmeticError("housekeeping failed")

    monkeypatch.setattr(answers, "housekeep", broken)
    monkeypatch.setattr(evaluating, "housekeep", broken)
    preview = engine.preview(purchase("o-2", "masha", 150, day=3))
    assert preview.decision.outcome == engine.dry(purchase("o-2", "masha", 150, day=3)).outcome == "rejected"
    assert preview.available == first.balance
    assert engine.dry(purchase("o-1", "masha", 150)).outcome == "duplicate"
    assert engine.process(purchase("o-2", "masha", 150, day=3)).outcome == "rejected"


def test_a_preview_reads_the_member_in_its_own_unit_only():
    """The decision and the points before it come from one read: the store's committed
    member is not read a second time, outside the preview's unit."""

    class Counting(MemoryStore):
        reads = 0

        def member(self, member_id):
            Counting.reads += 1
            return super().member(member_id)

    engine = Engine(compile_ruleset(COFFEE), Counting())
    first = engine.process(purchase("o-1", "masha", 150))
    Counting.reads = 0
    preview = engine.preview(purchase("o-2", "masha", 150))
    assert Counting.reads == 0
    assert preview.available == first.balance > 0 and preview.decision.balance > preview.available

def test_a_preview_on_sqlite_does_not_wait_for_the_write_lock(store_urls):
    """A checkout preview while a batch holds SQLite's write lock answers at once, from the
    last committed state; the real event would wait for the lock."""
    import sqlite3

    from sqlalchemy.engine import make_url

    url = store_urls.new("sqlite")
    store = SqlStore(url, busy_timeout=0.2)
    engine = Engine(compile_ruleset(COFFEE), store)
    engine.process(purchase("o-1", "masha", 150))
    writer = sqlite3.connect(make_url(url).database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        assert engine.dry(purchase("o-2", "masha", 150)).outcome == "applied"
        assert engine.dry(purchase("o-1", "masha", 150)).outcome == "duplicate"
        with pytest.raises(StoreError):
            engine.process(purchase("o-2", "masha", 150))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        store.close()


def test_a_preview_on_postgresql_does_not_wait_for_the_members_lock(store_urls):
    """Another transaction holds the member's row: a preview reads past it, and the lock
    is still held when it answers."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text

    store = SqlStore(store_urls.new("postgresql"))
    engine = Engine(compile_ruleset(COFFEE), store)
    engine.process(purchase("o-1", "masha", 150))
    holder, pool = store.engine.connect(), ThreadPoolExecutor(1)
    try:
        holder.begin()
        holder.execute(text("SELECT 1 FROM members WHERE member_id = 'masha' FOR UPDATE"))
        answer = pool.submit(engine.dry, purchase("o-2", "masha", 150))
        assert answer.result(timeout=20).outcome == "applied"
    finally:
        holder.rollback()  # lets a preview that did wait finish, so the pool can stop
        holder.close()
        pool.shutdown()
        store.close()


EVENTS = st.lists(st.tuples(st.sampled_from(["masha", "dasha", "sasha"]), st.integers(100, 2000),
                            st.integers(1, 28), st.booleans()), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_dry_then_process_agree_and_the_dry_run_leaves_no_trace(tmp_path_factory, events):
    store = MemoryStore()
    engine = Engine(compile_ruleset(small_budget(tmp_path_factory.mktemp("r"))), store)
    members = ["masha", "dasha", "sasha"]
    for n, (member, amount, day, resend) in enumerate(events):
        event = purchase(f"o-{n - 1 if resend and n else n}", member, amount, day)
        before = _snapshot(store, members), store.budgets()
        dry = engine.dry(event)
        assert (_snapshot(store, members), store.budgets()) == before
        assert engine.process(event).to_dict() == dry.to_dict()


class Flaky:
    """A memory store whose first ``fails`` previews fail as a busy or broken database does."""

    def __init__(self, fails: int, transient: bool):
        self.inner, self.fails, self.transient, self.opened = MemoryStore(), fails, transient, 0

    def preview(self, *args, **kwargs):
        self.opened += 1
        if self.opened <= self.fails:
            raise StoreError("the database is busy", transient=self.transient)
        return self.inner.preview(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_dry_run_tries_a_transient_store_failure_again_and_raises_a_lasting_one():
    busy = Flaky(1, transient=True)
    answer = Engine(compile_ruleset(COFFEE), busy).dry(purchase("o-1", "masha", 150))
    assert answer.outcome == "applied" and busy.opened == 2
    broken = Flaky(1, transient=False)
    with pytest.raises(StoreError):
        Engine(compile_ruleset(COFFEE), broken).dry(purchase("o-1", "masha", 150))
    assert broken.opened == 1


class Retries:
    """Hooks handed to an engine that note each store retry it reports."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, int]] = []

    def functions(self):
        return []

    def decision_committed(self, decision) -> None:
        pass

    def store_retried(self, reason: str, attempt: int) -> None:
        self.heard.append((reason, attempt))


@pytest.mark.parametrize("fails", [1, 2])
def test_each_retry_of_a_dry_run_is_told_to_the_plugins(fails):
    heard = Retries()
    engine = Engine(compile_ruleset(COFFEE), Flaky(fails, transient=True), plugins=heard)
    answer = engine.dry(purchase("o-1", "masha", 150))
    assert answer.outcome == "applied"
    assert heard.heard == [("transient", attempt) for attempt in range(2, fails + 2)]
