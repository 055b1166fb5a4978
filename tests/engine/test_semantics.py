"""Loyalty semantics that must be right, one behaviour per test (docs/semantics.md)."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from punchcard.dsl.errors import PunchcardError
from punchcard.engine import Engine, MemoryStore, evaluate, new_member
from punchcard.engine.compiler.stages import compile_ruleset


def purchase(event_id, time, amount, member="m1", category="food", **extra):
    return {"type": "purchase", "id": event_id, "member": member, "time": time, "amount": str(amount),
            "category": category, **extra}

HEADER = """
punchcard: 1
ruleset: lab
version: 1.0.0
timezone: {tz}
currency: EUR
point_value: 0.01
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  naive_times: {naive}
  member: {{birth_date: optional date}}
  events:
    purchase: {{amount: money, category: string}}
"""


def lab(body: str, tz: str = "Europe/Berlin", naive: str = "local"):
    return compile_ruleset(HEADER.format(tz=tz, naive=naive) + body)


BASE = """
earning:
  base: {on: purchase, points: event.amount}
"""


def run(compiled, events, state=None):
    decisions = []
    for event in events:
        decision, state = evaluate(compiled, state, event)
        decisions.append(decision)
    return decisions, state


# -- money ----------------------------------------------------------------------------

def test_points_are_decimal_and_json_has_no_floats():
    compiled = lab(BASE.replace("event.amount", "event.amount * 1.5"))
    decision, _ = evaluate(compiled, None, purchase("p", "2026-01-05T10:00:00", "10.10"))
    assert isinstance(decision.points, Decimal) and decision.points == Decimal(15)  # 15.15 floored
    assert '"points": "15"' in json.dumps(decision.to_dict())
    assert not any(isinstance(v, float) for v in _leaves(decision.to_dict()))


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


@pytest.mark.parametrize("mode,scope,step,expected", [
    ("floor", "event", "1", "25"), ("ceil", "event", "1", "26"), ("half_up", "event", "1", "25"),
    ("half_even", "event", "1", "25"), ("floor", "rule", "1", "24"), ("ceil", "rule", "1", "26"),
    ("half_even", "event", "0.01", "25.49"), ("half_up", "event", "0.5", "25.5"),
])
def test_rounding_follows_the_ruleset(mode, scope, step, expected):
    body = """
earning:
  base: {on: purchase, points: event.amount * 1.7}
  rules:
    - {id: extra, on: purchase, when: true, bonus: 0.5}
  stacking: {multipliers: add, groups: best}
"""
    text = (HEADER.format(tz="UTC", naive="local") + body).replace(
        "rounding: {mode: floor, scope: event, step: 1}", f"rounding: {{mode: {mode}, scope: {scope}, step: {step}}}")
    compiled = compile_ruleset(text)
    decision, _ = evaluate(compiled, None, purchase("p", "2026-01-05T10:00:00", 14.7))  # 24.99 + 0.5
    assert decision.points == Decimal(expected)


# -- time -----------------------------------------------------------------------------

def test_hours_and_days_are_local_across_a_dst_change():
    compiled = lab(BASE + """
  rules:
    - {id: early, on: purchase, when: hour(event.time) < 10, multiply: 2}
  stacking: {multipliers: add, groups: best}
""")
    before, _ = evaluate(compiled, None, purchase("a", "2026-03-28T08:30:00+00:00", 10))  # 09:30 CET
    after, _ = evaluate(compiled, None, purchase("b", "2026-03-30T08:30:00+00:00", 10))  # 10:30 CEST
    assert before.points == 20 and after.points == 10


def test_one_day_pending_across_dst_is_a_calendar_day():
    compiled = lab(BASE + "points: {pending: 1 day}\n")
    decision, _ = evaluate(compiled, None, purchase("a", "2026-03-28T12:00:00", 10))
    earn = next(e for e in decision.effects if e.kind == "earn")
    assert earn.detail["pending_until"].isoformat() == "2026-03-29T12:00:00+02:00"  # 23 hours later


def test_a_naive_time_is_local_or_rejected_as_the_schema_says():
    local = lab(BASE)
    decision, _ = evaluate(local, None, purchase("a", "2026-01-05T10:00:00", 10))
    assert decision.time.utcoffset() == dt.timedelta(hours=1)
    strict = lab(BASE, naive="reject")
    decision, state = evaluate(strict, None, purchase("a", "2026-01-05T10:00:00", 10))
    assert decision.outcome == "rejected" and "offset" in decision.reason and state is None


def test_now_is_the_event_time_or_the_injected_clock():
    compiled = lab(BASE + """
  rules:
    - {id: adult, on: purchase, when: age(member.birth_date) >= 18, bonus: 100}
  stacking: {multipliers: add, groups: best}
""")
    member = new_member("m1", {"birth_date": dt.date(2008, 6, 1)})
    young, _ = evaluate(compiled, member, purchase("a", "2026-05-31T10:00:00", 1))
    grown, _ = evaluate(compiled, member, purchase("a", "2026-05-31T10:00:00", 1),
                        clock=dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
    assert young.points == 1 and grown.points == 101


def test_a_missing_optional_field_means_the_rule_does_not_fire_and_says_why():
    compiled = lab(BASE + """
  rules:
    - {id: adult, on: purchase, when: age(member.birth_date) >= 18, bonus: 100}
  stacking: {multipliers: add, groups: best}
""")
    decision, _ = evaluate(compiled, None, purchase("a", "2026-05-31T10:00:00", 1))
    step = next(s for s in decision.trace if s.rule == "adult")
    assert decision.points == 1 and step.fired is False and "birth_date" in step.note


# -- the ledger -----------------------------------------------------------------------

EXPIRING = BASE + "points: {expiry: {after: 6 months}, expiry_notice: 7 days}\n"


def test_redemption_uses_earliest_expiry_first_and_a_short_balance_changes_nothing():
    compiled = lab(EXPIRING)
    decisions, state = run(compiled, [purchase("jan", "2026-01-10T10:00:00", 30),
                                      purchase("mar", "2026-03-10T10:00:00", 50),
                                      {"type": "redeem", "id": "r1", "member": "m1",
                                       "time": "2026-04-01T10:00:00", "points": 40}])
    assert [(e.lot, e.points) for e in decisions[-1].effects] == [("jan", -30), ("mar", -10)]
    short, same = evaluate(compiled, state, {"type": "redeem", "id": "r2", "member": "m1",
                                            "time": "2026-04-02T10:00:00", "points": 41})
    assert short.outcome == "rejected" and "40 available" in short.reason and same is state
    assert state.total() == 40


def test_reversal_returns_points_to_their_lots_except_expired_ones():
    compiled = lab(EXPIRING)
    decisions, state = run(compiled, [
        purchase("jan", "2026-01-10T10:00:00", 30), purchase("mar", "2026-03-10T10:00:00", 50),
        {"type": "redeem", "id": "r1", "member": "m1", "time": "2026-04-01T10:00:00", "points": 40},
        {"type": "redeem_reversal", "id": "v1", "member": "m1", "time": "2026-08-01T10:00:00",
         "redemption": "r1"}])
    reversal = decisions[-1]
    assert [e.kind for e in reversal.effects if e.lot == "jan"] == ["not_returned"]
    returned = [e for e in reversal.effects if e.kind == "reverse"]
    assert [(e.lot, e.points) for e in returned] == [("mar", 10)]
    mar = state.lot("mar")[1]
    assert mar.remaining == 50 and mar.expires_at.date() == dt.date(2026, 9, 10)
    again, _ = evaluate(compiled, state, {"type": "redeem_reversal", "id": "v2", "member": "m1",
                                          "time": "2026-08-02T10:00:00", "redemption": "r1"})
    assert again.outcome == "rejected" and "already reversed" in again.reason


def test_expiry_runs_are_idempotent():
    compiled = lab(EXPIRING)
    _, state = run(compiled, [purchase("jan", "2026-01-10T10:00:00", 30)])
    tick = {"type": "tick", "member": "m1", "time": "2026-07-11T00:00:00"}
    first, state = evaluate(compiled, state, {**tick, "id": "t1"})
    second, state = evaluate(compiled, state, {**tick, "id": "t2"})
    assert [e.kind for e in first.effects] == ["expiry_notice", "expire"] or \
        [e.kind for e in first.effects] == ["expire"]
    assert second.effects == () and state.total() == 0 and state.totals["expired"] == 30


def test_pending_points_are_released_after_the_return_window():
    compiled = lab(BASE + "points: {pending: 14 days}\n")
    decisions, _ = run(compiled, [purchase("a", "2026-02-01T10:00:00", 70),
                                      {"type": "tick", "id": "t", "member": "m1", "time": "2026-02-15T10:00:00"}])
    assert (decisions[0].balance, decisions[0].pending) == (0, 70)
    assert decisions[1].balance == 70 and [e.kind for e in decisions[1].effects] == ["release"]


def test_a_negative_balance_is_paid_off_by_the_next_earning():
    compiled = lab(BASE)
    decisions, _ = run(compiled, [
        purchase("a", "2026-02-01T10:00:00", 50),
        {"type": "redeem", "id": "r", "member": "m1", "time": "2026-02-02T10:00:00", "points": 50},
        {"type": "refund", "id": "f", "member": "m1", "time": "2026-02-03T10:00:00", "order": "a", "amount": 50},
        purchase("b", "2026-02-04T10:00:00", 80)])
    assert decisions[2].balance == -50
    assert decisions[3].balance == 30 and any(e.kind == "debt_repaid" and e.points == 50 for e in decisions[3].effects)


def test_fraud_review_holds_points_until_voided():
    compiled = lab(BASE + """
fraud:
  - {id: big, on: purchase, when: event.amount > 1000, action: review}
""")
    decisions, state = run(compiled, [
        purchase("a", "2026-02-01T10:00:00", 5000),
        {"type": "review_decision", "id": "v", "member": "m1", "time": "2026-02-02T10:00:00",
         "target": "a", "verdict": "void"}])
    assert decisions[0].outcome == "review" and decisions[0].balance == 0 and decisions[0].pending == 5000
    assert decisions[1].points == -5000 and state.total() == 0 and state.lots[0].voided == 5000


def test_window_history_is_bounded_by_the_longest_window():
    compiled = lab(BASE + """
fraud:
  - {id: velocity, on: purchase, when: "count(purchase, within: 2 hours) > 50", action: block}
""")
    events = [purchase(f"p{i}", (dt.datetime(2026, 1, 1, 8) + dt.timedelta(minutes=30 * i)).isoformat(), 1)
              for i in range(200)]
    _, state = run(compiled, events)
    assert len(state.history) <= 5  # two hours of half-hourly purchases, not all 200


def test_evaluate_never_changes_the_state_it_is_given():
    compiled = lab(EXPIRING)
    _, state = run(compiled, [purchase("a", "2026-01-10T10:00:00", 30)])
    snapshot = (list(state.lots), dict(state.totals), state.clock)
    evaluate(compiled, state, {"type": "redeem", "id": "r", "member": "m1", "time": "2026-08-01T10:00:00",
                               "points": 10})
    assert (list(state.lots), dict(state.totals), state.clock) == snapshot


def test_effective_dates_are_enforced():
    compiled = lab(BASE + "effective: {from: 2026-06-01, until: 2026-12-31}\n")
    early, _ = evaluate(compiled, None, purchase("a", "2026-05-31T10:00:00", 1))
    assert early.outcome == "rejected" and "2026-06-01" in early.reason


# -- events and idempotency ------------------------------------------------------------

@pytest.mark.parametrize("change,problem", [
    ({"amount": None}, "missing field 'amount'"),
    ({"colour": "red"}, "unknown field 'colour'"),
    ({"amount": "abc"}, "not a number"),
    ({"amount": "NaN"}, "finite"),
    ({"amount": float("inf")}, "finite"),
    ({"amount": "-5"}, "must not be negative"),
    ({"category": 7}, "must be text"),
    ({"time": "yesterday"}, "ISO 8601"),
    ({"type": "purchace"}, "not an event type"),
])
def test_bad_events_are_rejected_with_a_clear_reason_and_change_nothing(change, problem):
    engine = Engine(lab(BASE), MemoryStore())
    event = {**purchase("a", "2026-01-05T10:00:00", 10), **change}
    event = {k: v for k, v in event.items() if v is not None}
    decision = engine.process(event)
    assert decision.outcome == "rejected" and problem in decision.reason
    assert engine.member("m1") is None


def test_replaying_an_event_returns_the_original_decision_and_changes_nothing():
    engine = Engine(lab(BASE), MemoryStore())
    first = engine.process(purchase("a", "2026-01-05T10:00:00", 10))
    again = engine.process(purchase("a", "2026-01-05T10:00:00", "10.0"))
    assert again.outcome == "duplicate" and again.points == first.points == 10
    assert engine.member("m1").total() == 10


def test_the_same_id_with_a_different_body_is_a_conflict_naming_the_fields():
    engine = Engine(lab(BASE), MemoryStore())
    engine.process(purchase("a", "2026-01-05T10:00:00", 10))
    conflict = engine.process(purchase("a", "2026-01-05T10:00:00", 12, category="toys"))
    assert conflict.outcome == "rejected" and "conflict" in conflict.reason
    assert "amount" in conflict.reason and "category" in conflict.reason and "time" not in conflict.reason
    assert engine.member("m1").total() == 10


# -- compile ----------------------------------------------------------------------------

def test_analyst_text_reaches_generated_code_only_as_data():
    sneaky = 'x"); import os; ("'
    compiled = lab(BASE + f"""
  rules:
    - id: odd
      on: purchase
      when: 'event.category == "{sneaky.replace('"', '')}"'
      bonus: 1
  stacking: {{multipliers: add, groups: best}}
""")
    assert "import os" not in compiled.source.replace(repr(sneaky.replace('"', '')), "")
    fn = next(iter(compiled.functions.values()))
    assert fn.__globals__["__builtins"+"__"] == {}
    decision, _ = evaluate(compiled, None, purchase("a", "2026-01-05T10:00:00", 1, category=sneaky.replace('"', '')))
    assert decision.points == 2


def test_expressions_have_a_cost_limit():
    heavy = " + ".join(f"count(purchase, within: {i + 1} days)" for i in range(40))
    lets = "\n".join(f"  heavy{i}: '{heavy}'" for i in range(4))
    total = " + ".join(f"heavy{i}" for i in range(4))
    with pytest.raises(PunchcardError) as caught:
        lab(f"let:\n{lets}\n" + BASE.replace("event.amount", total))
    assert caught.value.code.value == "limit_error" and "too costly" in str(caught.value)


def test_the_graph_orders_phases_and_has_no_cycles(coffee):
    order = coffee.plans["purchase"].order
    assert order.index("let:morning") < order.index("rule:coffee-mornings") < order.index("stacking")
    assert order.index("stacking") < order.index("tier-multiplier") < order.index("cap:0") < order.index("rounding")


def test_members_racing_for_a_budget_in_memory_never_overspend():
    import threading

    compiled = lab(BASE + """
  rules:
    - {id: promo, on: purchase, when: true, bonus: 30}
  stacking: {multipliers: add, groups: best}
  budgets:
    - {rule: promo, max_points: 100}
""")
    store = MemoryStore()
    engine = Engine(compiled, store)
    barrier = threading.Barrier(8)

    def shop(i):
        barrier.wait()
        engine.process(purchase(f"p{i}", "2026-01-05T10:00:00", 1, member=f"m{i}"))

    threads = [threading.Thread(target=shop, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    paid = sum(store.member(f"m{i}").total() - 1 for i in range(8))
    assert paid == 100 and store.budgets()["promo"] == 100
