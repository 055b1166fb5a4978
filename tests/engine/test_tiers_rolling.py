"""Rolling tier windows (docs/semantics.md, "Rolling windows"): the member holds the highest
level whose threshold the trailing twelve months' metric meets, re-evaluated as purchases
and refunds come in and as old spend ages out; ``keep_through`` and ``grace`` only extend it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset

TZ = ZoneInfo("Europe/Paris")
LEVELS = (("member", Decimal(0)), ("silver", Decimal(1000)), ("gold", Decimal(10000)))
RULESET = """punchcard: 1
ruleset: rolling
version: 1.0.0
timezone: Europe/Paris
currency: EUR
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
tiers:
  metric: spend
  window: rolling_12_months
  levels:
    - {name: member, min: 0}
    - {name: silver, min: 1000, earn_multiplier: 1.25}
    - {name: gold, min: 10000, earn_multiplier: 1.5}
"""
DOWNGRADES = {
    "default": "",
    "this_window": "  downgrade: {keep_through: this_window}\n",
    "next_window": "  downgrade: {keep_through: next_window}\n",
    "grace": "  downgrade: {keep_through: this_window, grace: 10 days}\n",
    "next_grace": "  downgrade: {keep_through: next_window, grace: 1 month}\n",
}
COMPILED = {name: compile_ruleset(RULESET + text) for name, text in DOWNGRADES.items()}


def _purchase(event_id: str, time: str, amount) -> dict:
    return {"type": "purchase", "id": event_id, "member": "m", "time": time, "amount": str(amount)}


def _refund(event_id: str, time: str, order: str, amount) -> dict:
    return {"type": "refund", "id": event_id, "member": "m", "time": time, "order": order, "amount": str(amount)}


def _tick(event_id: str, time: str) -> dict:
    return {"type": "tick", "id": event_id, "member": "m", "time": time}


def _levels(compiled, events) -> list[str]:
    state, found = None, []
    for event in events:
        decision, state = evaluate(compiled, state, event)
        assert decision.outcome == "applied", decision.reason
        found.append(decision.tier.current)
    return found


def test_a_trailing_metric_above_the_threshold_keeps_the_level_past_the_month_end():
    """10,500 spent in March is still in the trailing window in April: gold stays."""
    levels = _levels(COMPILED["default"], [
        _purchase("o-1", "2026-03-10T10:00:00", 10500),
        _tick("t-1", "2026-04-01T00:00:01"),
        _tick("t-2", "2026-12-15T12:00:00"),
        _purchase("o-2", "2027-01-05T10:00:00", 10),
    ])
    assert levels == ["gold", "gold", "gold", "gold"]


def test_no_window_ended_change_while_the_metric_qualifies():
    compiled, state = COMPILED["default"], None
    for event in (_purchase("o-1", "2026-03-10T10:00:00", 10500), _tick("t-1", "2026-04-01T00:00:01")):
        decision, state = evaluate(compiled, state, event)
    assert [e for e in decision.effects if e.kind == "tier_change"] == []
    decision, state = evaluate(compiled, state, _purchase("o-2", "2026-04-02T10:00:00", 100))
    assert decision.points == 150  # earned at gold's multiplier, not re-upgraded from member
    assert [e for e in decision.effects if e.kind == "tier_change"] == []


def test_spend_ages_out_twelve_months_after_its_month():
    """March 2026 counts in the trailing windows of March 2026 to February 2027."""
    levels = _levels(COMPILED["default"], [
        _purchase("o-1", "2026-03-10T10:00:00", 10500),
        _purchase("o-2", "2026-08-10T10:00:00", 2000),
        _tick("t-1", "2027-02-28T23:59:00"),
        _tick("t-2", "2027-03-01T00:00:01"),
        _tick("t-3", "2027-08-01T00:00:01"),
    ])
    assert levels == ["gold", "gold", "gold", "silver", "member"]


def test_a_refund_lowers_the_metric_at_once_and_the_level_at_the_month_end():
    compiled, state = COMPILED["default"], None
    decision, state = evaluate(compiled, state, _purchase("o-1", "2026-03-10T10:00:00", 10500))
    decision, state = evaluate(compiled, state, _refund("r-1", "2026-03-20T10:00:00", "o-1", 1000))
    assert (decision.tier.current, decision.tier.metric) == ("gold", Decimal(9500))
    decision, state = evaluate(compiled, state, _tick("t-1", "2026-04-01T00:00:01"))
    assert decision.tier.current == "silver"
    assert [(e.detail["from"], e.detail["to"]) for e in decision.effects if e.kind == "tier_change"] \
        == [("gold", "silver")]


def test_a_refund_of_an_earlier_month_lowers_the_level_at_the_month_end():
    levels = _levels(COMPILED["default"], [
        _purchase("o-1", "2026-03-10T10:00:00", 10500),
        _tick("t-1", "2026-04-15T00:00:00"),
        _refund("r-1", "2026-04-20T10:00:00", "o-1", 1000),
        _purchase("o-2", "2026-04-25T10:00:00", 1),  # re-evaluates the tier: gold was held in April
        _tick("t-3", "2026-05-01T00:00:01"),
    ])
    assert levels == ["gold", "gold", "gold", "gold", "silver"]


def test_next_window_keeps_a_level_twelve_more_months():
    levels = _levels(COMPILED["next_window"], [
        _purchase("o-1", "2026-03-10T10:00:00", 10500),
        _tick("t-1", "2027-03-01T00:00:01"),  # aged out of the window; held in March 2026 and Feb 2027
        _tick("t-2", "2028-02-29T23:59:00"),  # held in February 2027: kept to the end of February 2028
        _tick("t-3", "2028-03-01T00:00:01"),
    ])
    assert levels == ["gold", "gold", "gold", "member"]


def test_grace_runs_from_the_month_end_and_its_deadline_is_kept():
    compiled, state = COMPILED["grace"], None
    decision, state = evaluate(compiled, state, _purchase("o-1", "2026-03-10T10:00:00", 10500))
    decision, state = evaluate(compiled, state, _tick("t-1", "2027-03-05T00:00:00"))
    assert decision.tier.current == "gold"  # aged out on 1 March, ten days' grace
    decision, state = evaluate(compiled, state, _purchase("o-2", "2027-03-11T00:00:01", 100))
    assert decision.points == 100  # the grace ended before this purchase: it earns at member's rate
    assert decision.tier.current == "member"


# -- the property -------------------------------------------------------------------------------
def _month(local: dt.datetime) -> int:
    return local.year * 12 + local.month - 1


def _reference_level(orders: dict, now: dt.datetime) -> int:
    """The highest level the trailing twelve calendar months' net spend meets, from the
    orders themselves: each order counts in its own month, less what was refunded on it."""
    current = _month(now)
    metric = sum((amount - refunded for month, amount, refunded in orders.values()
                  if current - 11 <= month <= current), Decimal(0))
    return max(i for i, (_, threshold) in enumerate(LEVELS) if metric >= threshold)


@st.composite
def histories(draw):
    start = dt.datetime(2026, 1, 1, tzinfo=TZ).astimezone(dt.UTC)  # no local time twice or never
    # (days, minutes) between events: often within a month, sometimes months apart
    gaps = draw(st.lists(st.tuples(st.integers(0, 6) | st.integers(0, 80), st.integers(1, 24 * 60)),
                         min_size=1, max_size=25))
    events, orders, moment = [], {}, start
    for i, (days, minutes) in enumerate(gaps):
        moment += dt.timedelta(days=days, minutes=minutes)
        kind = draw(st.sampled_from(["purchase", "purchase", "refund", "refund", "tick"]))
        time = moment.isoformat()
        recent = moment - dt.timedelta(days=300)  # well inside the refund window
        refundable = [o for o, (at, amount, done) in orders.items() if amount > done and at > recent]
        if kind == "refund" and refundable:
            order = draw(st.sampled_from(refundable))
            at, amount, done = orders[order]
            part = draw(st.just(amount - done) | st.decimals(Decimal("0.01"), amount - done, places=2))
            orders[order] = (at, amount, done + part)
            events.append(_refund(f"r-{i}", time, order, part))
        elif kind == "tick":
            events.append(_tick(f"t-{i}", time))
        else:
            amount = draw(st.decimals(Decimal("0.01"), Decimal(1500), places=2)  # near silver's threshold
                          | st.decimals(Decimal("0.01"), Decimal(12000), places=2))
            orders[f"o-{i}"] = (moment, amount, Decimal(0))
            events.append(_purchase(f"o-{i}", time, amount))
    return draw(st.sampled_from(sorted(COMPILED))), events


# how long a level held in a month lasts: (months after it, grace), per downgrade
EXTENSIONS = {"default": (0, None), "this_window": (0, None), "next_window": (12, None),
              "grace": (0, dt.timedelta(days=10)), "next_grace": (12, "1 month")}


def _status_end(name: str, month: int) -> dt.datetime:
    """The first instant a level held during ``month`` no longer counts."""
    extra, grace = EXTENSIONS[name]
    after = month + 1 + extra + (1 if grace == "1 month" else 0)
    end = dt.datetime(after // 12, after % 12 + 1, 1, tzinfo=TZ)
    return end + grace if isinstance(grace, dt.timedelta) else end


def _reference_tier(name: str, held: dict, now: dt.datetime) -> int:
    return max([level for month, level in held.items() if _status_end(name, month) > now] + [0])


@settings(max_examples=200, deadline=None)
@given(histories())
@example(("default", [_purchase("o-1", "2026-01-10T10:00:00", 1500), _refund("r-1", "2026-02-02T10:00:00", "o-1", 600),
                      _purchase("o-2", "2026-02-03T10:00:00", 5)]))  # a refund of an older month, then a purchase
def test_the_level_is_never_below_what_the_trailing_metric_meets(history):
    """The lower bound the brief asks for, and the exact level from an independent replay:
    the highest level the trailing metric met at any instant of a month still lasting."""
    name, events = history
    compiled, state, orders, ranks = COMPILED[name], None, {}, [level for level, _ in LEVELS]
    held: dict[int, int] = {}  # month -> highest level the trailing metric met in it
    for event in events:
        decision, state = evaluate(compiled, state, event)
        assert decision.outcome == "applied", decision.reason
        local = decision.time.astimezone(TZ)
        first = max(held) + 1 if held else _month(local)
        for month in range(first, _month(local) + 1):  # months opened since: before this event
            start = dt.datetime(month // 12, month % 12 + 1, 1, tzinfo=TZ)
            held[month] = _reference_level(orders, start)
        if event["type"] == "purchase":
            orders[event["id"]] = (_month(local), Decimal(event["amount"]), Decimal(0))
        elif event["type"] == "refund":
            bought, amount, refunded = orders[event["order"]]
            orders[event["order"]] = (bought, amount, refunded + Decimal(event["amount"]))
        held[_month(local)] = max(held[_month(local)], _reference_level(orders, local))
        level = ranks.index(decision.tier.current)
        assert level >= _reference_level(orders, local), (name, event)
        assert level == _reference_tier(name, held, local), (name, event)


def test_the_worked_example_with_next_window_and_grace():
    """docs/semantics.md: gold held in February 2027 lasts to the end of February 2028, and
    silver held in October 2027 to the end of October 2028; grace adds ten days to both."""
    import yaml

    path = Path(__file__).parent / "rulesets/tier-rolling.yaml"
    example = yaml.safe_load(path.read_text())["tests"][0]["events"]
    events = [{k: v for k, v in e.items() if k != "expect"} | {"member": "m", "time": str(e["time"])} for e in example]
    text = path.read_text().split("\ntests:")[0]
    for downgrade, gold_until, silver_until in (("{keep_through: next_window}", "2028-02-29", "2028-10-31"),
                                                ("{keep_through: next_window, grace: 10 days}", "2028-03-10",
                                                 "2028-11-10")):
        compiled = compile_ruleset(text + f"  downgrade: {downgrade}\n")
        ticks = [_tick("a", f"{gold_until}T23:59:59"), _tick("b", _next_day(gold_until)),
                 _tick("c", f"{silver_until}T23:59:59"), _tick("d", _next_day(silver_until))]
        levels = _levels(compiled, events[:-4] + ticks)  # the ticks of 2027 left out
        assert levels[-4:] == ["gold", "silver", "silver", "member"], downgrade


def _next_day(day: str) -> str:
    return (dt.datetime.fromisoformat(day) + dt.timedelta(days=1, seconds=1)).isoformat()
