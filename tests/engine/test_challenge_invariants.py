"""Challenges (docs/challenges.md): the invariants, under generated histories.

Progress never exceeds a challenge's target; a challenge pays at most once per period (a
second completion comes only after a refund undid the first); events outside a challenge's
dates never count; and an opt-in challenge counts nothing from before the member joined.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime import calendar

TZ = ZoneInfo("Europe/Paris")
START = dt.datetime(2026, 2, 20, tzinfo=TZ)  # a little before March, so some events fall outside it

RULESET = """punchcard: 1
ruleset: challenge-props
version: 1.0.0
timezone: Europe/Paris
currency: EUR
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
earning:
  base: {on: purchase, points: event.amount}
challenges:
  - id: coffee-march
    on: purchase
    when: event.category == "coffee"
    target: 5
    from: 2026-03-01
    until: 2026-03-31
    reward: {bonus: 25, badge: march}
  - id: weekly-spend
    on: purchase
    progress: event.amount
    target: 40
    from: 2026-03-02
    until: 2026-04-12
    period: week
    reward: {bonus: 10}
  - id: dash
    on: purchase
    when: event.amount >= 10
    target: 3
    from: 2026-03-05
    until: 2026-03-20
    opt_in: true
    reward: {bonus: 50}
"""
COMPILED = compile_ruleset(RULESET)
CHALLENGES = {c.id: c for c in COMPILED.model.challenges}
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))

# (hours after START, amount in euros, coffee?, refund it later? (0: no, else hours after it))
purchase = st.tuples(st.integers(0, 60 * 24), st.integers(0, 60), st.booleans(), st.integers(0, 5 * 24))


def _history(bought: list[tuple[int, int, bool, int]], join_at: int | None) -> list[dict]:
    events = []
    for i, (hours, amount, coffee, refund_after) in enumerate(bought):
        at = START + dt.timedelta(hours=hours)
        events.append({"type": "purchase", "id": f"p-{i}", "member": "m", "time": at.isoformat(),
                       "amount": str(amount), "category": "coffee" if coffee else "food"})
        if refund_after and amount > 0:
            events.append({"type": "refund", "id": f"r-{i}", "member": "m", "order": f"p-{i}", "amount": str(amount),
                           "time": (at + dt.timedelta(hours=refund_after)).isoformat()})
    if join_at is not None:
        events.append({"type": "challenge_join", "id": "join", "member": "m", "challenge": "dash",
                       "time": (START + dt.timedelta(hours=join_at)).isoformat()})
    return sorted(events, key=lambda e: (e["time"], e["id"]))


def _replay(events: list[dict]):
    state = None
    for event in events:
        decision, state = evaluate(COMPILED, state, event)
        yield event, decision, state


@settings(max_examples=60, deadline=None)
@given(st.lists(purchase, min_size=1, max_size=30), st.none() | st.integers(0, 40 * 24))
def test_progress_never_exceeds_the_target(bought, join_at):
    for _event, _decision, state in _replay(_history(bought, join_at)):
        for name, record in state.challenges.items():
            assert Decimal(0) <= record.progress <= CHALLENGES[name].target
            assert sum((added for _order, added in record.orders), Decimal(0)) <= record.progress


def _period(name: str, time: dt.datetime) -> int:
    unit = CHALLENGES[name].period
    return calendar.period_key(time.astimezone(TZ), unit) if unit else 0


@settings(max_examples=60, deadline=None)
@given(st.lists(purchase, min_size=1, max_size=30), st.none() | st.integers(0, 40 * 24))
def test_a_challenge_pays_at_most_once_per_period(bought, join_at):
    held: Counter[tuple[str, int]] = Counter()  # rewards paid and not taken back, per challenge and period
    paid_at: dict[str, int] = {}  # the period each challenge's standing reward was paid in
    for _event, decision, _state in _replay(_history(bought, join_at)):
        for effect in decision.effects:
            name = effect.detail.get("challenge")
            if effect.kind == "challenge_completed":
                period = _period(name, decision.time)
                held[(name, period)] += 1
                paid_at[name] = period
                assert held[(name, period)] == 1, f"{name} paid twice in period {period}"
                assert Decimal(effect.detail["bonus"]) == Decimal(str(CHALLENGES[name].reward.bonus))
            elif effect.kind == "challenge_undone":
                held[(name, paid_at[name])] -= 1
                assert held[(name, paid_at[name])] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(purchase, min_size=1, max_size=30), st.none() | st.integers(0, 40 * 24))
def test_events_outside_a_challenge_never_count(bought, join_at):
    for event, decision, _state in _replay(_history(bought, join_at)):
        if event["type"] != "purchase":
            continue
        day = decision.time.astimezone(TZ).date()
        counted = {e.detail["challenge"] for e in decision.effects
                   if e.kind in ("challenge_progress", "challenge_completed")}
        for name in counted:
            challenge = CHALLENGES[name]
            assert challenge.from_ <= day <= challenge.until, f"{name} counted an event on {day}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40 * 24), st.integers(0, 30), st.booleans(), st.just(0)),
                min_size=1, max_size=20),
       st.none() | st.integers(0, 40 * 24))
def test_nothing_before_joining_counts(bought, join_at):
    events = _history(bought, join_at)
    dash = CHALLENGES["dash"]
    joined = None if join_at is None else START + dt.timedelta(hours=join_at)
    start = dt.datetime.combine(dash.from_, dt.time(), TZ)
    end = dt.datetime.combine(dash.until + dt.timedelta(days=1), dt.time(), TZ)
    counted = [decision.time for _event, decision, _state in _replay(events)
               if any(e.kind in ("challenge_progress", "challenge_completed") and e.detail["challenge"] == "dash"
                      for e in decision.effects)]
    qualifying = [t for e in events if e["type"] == "purchase" and Decimal(e["amount"]) >= 10
                  for t in [dt.datetime.fromisoformat(e["time"])]
                  if joined is not None and max(joined, start) <= t < end]
    assert all(joined is not None and t >= joined for t in counted)
    assert len(counted) == min(len(qualifying), int(dash.target))
