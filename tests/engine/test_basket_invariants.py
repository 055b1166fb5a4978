"""Baskets (docs/baskets.md): what per-item rules pay, what excluded lines earn, what a
refund naming items claws back, and what an exclusive rule stops, as invariants over
generated baskets and rules."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine
from punchcard.engine.compiler.stages import compile_ruleset

RULESET = """punchcard: 1
ruleset: basket-invariants
version: 1.0.0
timezone: UTC
currency: USD
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, items: optional line_items}
earning:
  base:
    on: purchase
    per_item: true
    points: item.amount * 1.5
    unless: item.category in ["gift_cards", "tobacco"]
  rules:
    - {id: coffee, on: purchase, per_item: true, when: 'item.category == "coffee"', bonus: item.quantity * 2}
  stacking: {multipliers: add, groups: add}
points:
  refunds: {clawback: proportional, negative_balance: allow}
"""
COMPILED = {specialised: compile_ruleset(RULESET, specialise=specialised) for specialised in (True, False)}
EARNING = ("coffee", "bakery", "produce")
EXCLUDED = ("gift_cards", "tobacco")

cents = st.integers(0, 50_000).map(lambda c: Decimal(c) / 100)


def lines(categories: tuple[str, ...], prefix: str, max_size: int = 8) -> st.SearchStrategy[list[dict]]:
    line = st.fixed_dictionaries({"category": st.sampled_from(categories), "quantity": st.integers(1, 20),
                                  "amount": cents})
    return st.lists(line, max_size=max_size).map(
        lambda found: [{"sku": f"{prefix}-{i}", **line} for i, line in enumerate(found)])


def purchase(items: list[dict], event_id: str = "o-1") -> dict:
    amount = sum((line["amount"] for line in items), Decimal(1))  # a dollar of tax: refunds of a cent each fit
    return {"type": "purchase", "id": event_id, "member": "m", "time": "2026-05-01T10:00:00",
            "amount": str(amount), "items": [{**line, "amount": str(line["amount"])} for line in items]}


def refund(event_id: str, returned: list[dict], hour: int = 11) -> dict:
    return {"type": "refund", "id": event_id, "member": "m", "time": f"2026-05-02T{hour:02d}:00:00",
            "order": "o-1", "amount": "0.01", "items": returned}


def line_points(line: dict) -> Decimal:
    """What one line earns under RULESET, exactly: 1.5 a dollar unless excluded, 2 a coffee."""
    points = Decimal(0) if line["category"] in EXCLUDED else line["amount"] * Decimal("1.5")
    return points + (line["quantity"] * 2 if line["category"] == "coffee" else 0)


@settings(max_examples=80, deadline=None)
@given(items=lines(EARNING + EXCLUDED, "sku"), specialised=st.booleans())
def test_a_baskets_points_are_its_lines_points_added_then_rounded_once(items, specialised):
    decision = Engine(COMPILED[specialised]).process(purchase(items))
    assert decision.outcome == "applied", decision.reason
    exact = sum((line_points(line) for line in items), Decimal(0))
    assert decision.points == exact.to_integral_value(rounding=ROUND_FLOOR)


@settings(max_examples=80, deadline=None)
@given(earning=lines(EARNING, "keep"), excluded=lines(EXCLUDED, "skip"), specialised=st.booleans())
def test_excluded_lines_earn_nothing_whatever_the_rest(earning, excluded, specialised):
    alone = Engine(COMPILED[specialised]).process(purchase(earning))
    mixed = Engine(COMPILED[specialised]).process(purchase(earning + excluded))
    assert alone.outcome == mixed.outcome == "applied"
    assert mixed.points == alone.points
    held = dict((sku, points) for sku, _units, points in _order(Engine(COMPILED[specialised]), earning + excluded))
    assert all(held[line["sku"]] == 0 for line in excluded)


def _order(engine: Engine, items: list[dict]) -> tuple:
    engine.process(purchase(items))
    state = engine.member("m")
    assert state is not None
    return state.orders["o-1"].lines


@st.composite
def refunds_in_parts(draw) -> tuple[list[dict], list[list[dict]]]:
    """A basket, and every unit of it returned over several refunds, in any order."""
    items = draw(lines(EARNING + EXCLUDED, "sku", max_size=5).filter(bool))
    units = [(line["sku"], 1) for line in items for _ in range(line["quantity"])]
    units = draw(st.permutations(units))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(units) - 1)), max_size=4)))
    parts, start = [], 0
    for cut in [*cuts, len(units)]:
        chunk: dict[str, int] = {}
        for sku, count in units[start:cut]:
            chunk[sku] = chunk.get(sku, 0) + count
        if chunk:
            parts.append([{"sku": sku, "quantity": count} for sku, count in chunk.items()])
        start = cut
    return items, parts


def kept_points(items: list[dict], kept: dict[str, int]) -> Decimal:
    """What the order earns on the units it keeps, each line's amount cut down to the cent in
    proportion to them, rounded once (docs/baskets.md, refunds that name items)."""
    exact = Decimal(0)
    for line in items:
        if kept[line["sku"]]:
            amount = (line["amount"] * kept[line["sku"]] / line["quantity"]).quantize(Decimal("0.01"), ROUND_FLOOR)
            exact += line_points({**line, "quantity": kept[line["sku"]], "amount": amount})
    return exact.to_integral_value(rounding=ROUND_FLOOR)


@settings(max_examples=60, deadline=None)
@given(case=refunds_in_parts())
def test_refunding_items_reevaluates_what_is_kept_and_parts_equal_the_whole(case):
    items, parts = case
    engine = Engine(COMPILED[True])
    earned = engine.process(purchase(items)).points
    state = engine.member("m")
    assert state is not None
    held = {sku: points for sku, _units, points in state.orders["o-1"].lines}
    assert sum(held.values(), Decimal(0)) == earned  # the lines share the order's points exactly
    assert all(points == points.to_integral_value() >= 0 for points in held.values())  # in whole steps
    kept = {line["sku"]: line["quantity"] for line in items}
    clawed = Decimal(0)
    for i, part in enumerate(parts):
        before = engine.member("m").orders["o-1"].points
        decision = engine.process(refund(f"f-{i}", part, hour=1 + i))
        assert decision.outcome == "applied", decision.reason
        for line in part:
            kept[line["sku"]] -= line["quantity"]
        after = engine.member("m").orders["o-1"]
        assert after.points == min(before, kept_points(items, kept))  # never more back than the order held
        assert -decision.points == before - after.points
        assert sum((points for _sku, _units, points in after.lines), Decimal(0)) == after.points
        clawed -= decision.points
    assert clawed == earned
    whole = Engine(COMPILED[True])
    whole.process(purchase(items))
    at_once = whole.process(refund("f-all", [{"sku": line["sku"]} for line in items]))
    assert -at_once.points == clawed


def test_an_amount_alone_refunds_an_order_with_lines_only_in_full():
    engine = Engine(COMPILED[True])
    items = [{"sku": "a", "category": "bakery", "quantity": 2, "amount": Decimal(10)}]
    assert engine.process(purchase(items)).points == 15
    part = engine.process({**refund("f-1", []), "amount": "5.00"})
    assert part.outcome == "rejected" and "name the items returned" in part.reason
    whole = engine.process({**refund("f-2", []), "amount": "11.00"})
    assert whole.outcome == "applied" and whole.points == -15
    assert engine.member("m").orders["o-1"].lines == (("a", 0, Decimal(0)),)


def priority_ruleset(rules: list[tuple[int, bool, int]]) -> str:
    """Rules of one group: (priority, exclusive, the amount from which they fire)."""
    written = "\n".join(
        f"    - {{id: r{i}, on: purchase, when: event.amount >= {low}, bonus: {i + 1}, group: g, "
        f"priority: {priority}, exclusive: {'true' if exclusive else 'false'}}}"
        for i, (priority, exclusive, low) in enumerate(rules))
    return RULESET.split("earning:", maxsplit=1)[0] + f"earning:\n  rules:\n{written}\n  stacking: {{groups: add}}\n"


@settings(max_examples=60, deadline=None)
@given(rules=st.lists(st.tuples(st.integers(-3, 3), st.booleans(), st.integers(0, 100)), min_size=1, max_size=6),
       amount=st.integers(0, 100), specialised=st.booleans())
def test_an_exclusive_rule_that_pays_stops_every_later_rule_of_its_group(rules, amount, specialised):
    compiled = compile_ruleset(priority_ruleset(rules), specialise=specialised)
    event = {"type": "purchase", "id": "o-1", "member": "m", "time": "2026-05-01T10:00:00", "amount": str(amount)}
    decision = Engine(compiled, trace=True).process(event)
    order = sorted(range(len(rules)), key=lambda i: -rules[i][0])  # priority first, then as written
    paying = [i for i in order if amount >= rules[i][2]]
    winner = next((i for i in paying if rules[i][1]), None)
    expected = paying if winner is None else paying[:paying.index(winner) + 1]
    assert decision.paid() == [f"r{i}" for i in expected]
    assert decision.points == Engine(compiled).process(event).points == sum(i + 1 for i in expected)
    if winner is not None:  # the trace names the winner on each rule it stopped
        stopped = [s for s in decision.trace if s.phase == "earning" and not s.fired and "won" in s.note]
        assert {s.rule for s in stopped} == {f"r{i}" for i in order[order.index(winner) + 1:]}
        assert all(f"r{winner} won (exclusive, priority {rules[winner][0]}" in s.note for s in stopped)


@settings(max_examples=100, deadline=None)
@given(junk=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                             st.sampled_from(["sku", "category", "quantity", "amount", "x"]), inner, max_size=5),
                         max_leaves=12))
def test_a_malformed_basket_is_rejected_with_a_reason_never_raised(junk):
    event = {"type": "purchase", "id": "o-1", "member": "m", "time": "2026-05-01T10:00:00", "amount": "1",
             "items": junk}
    decision = Engine(COMPILED[True]).process(event)
    assert decision.outcome in ("applied", "rejected")
    if decision.outcome == "rejected":
        assert decision.reason and "items" in decision.reason


def test_each_kind_of_bad_line_is_named_in_the_reason():
    engine = Engine(COMPILED[True])
    bad = {
        "line 1 (sku 'latte-12'): quantity must be a whole number from 1 to 10,000":
            [{"sku": "latte-12", "category": "coffee", "quantity": 0, "amount": "1"}],
        "line 2 names sku 'latte-12' again with category 'tea', not 'coffee'":
            [{"sku": "latte-12", "category": "coffee", "amount": "1"},
             {"sku": "latte-12", "category": "tea", "amount": "2"}],
        "line 2 (sku 'a'): the lines of this sku come to more than 10,000 units":
            [{"sku": "a", "category": "b", "quantity": 6000, "amount": "1"},
             {"sku": "a", "category": "b", "quantity": 5000, "amount": "1"}],
        "line 1 has unknown key 'colour'": [{"sku": "a", "category": "b", "amount": "1", "colour": "red"}],
        "line 1 (sku 'a') has no amount": [{"sku": "a", "category": "b"}],
        "line 1 (sku 'a'): amount must not be negative": [{"sku": "a", "category": "b", "amount": "-1"}],
        "line 1: category must be printable text": [{"sku": "a", "amount": "1"}],
        "has 501 lines, more than the 500": [{"sku": f"s{i}", "category": "b", "amount": "1"} for i in range(501)],
    }
    for n, (reason, items) in enumerate(bad.items()):
        decision = engine.process({**purchase([]), "id": f"o-{n}", "items": items})
        assert decision.outcome == "rejected" and reason in decision.reason, decision.reason


@settings(max_examples=60, deadline=None)
@given(items=lines(EARNING + EXCLUDED, "sku", max_size=5).filter(bool), data=st.data())
def test_a_sku_on_several_lines_earns_as_one_line_of_them_all(items, data):
    """A sku scanned on two lines of one category is one line: its quantities and amounts added."""
    split = []
    for line in items:
        units = data.draw(st.integers(0, line["quantity"] - 1))
        cents = data.draw(st.integers(0, int(line["amount"] * 100))) if units else 0
        split.append({**line, "quantity": line["quantity"] - units, "amount": line["amount"] - Decimal(cents) / 100})
        if units:
            split.append({**line, "quantity": units, "amount": Decimal(cents) / 100})
    split = data.draw(st.permutations(split))
    whole, parts = Engine(COMPILED[True]), Engine(COMPILED[True])
    decision = parts.process({**purchase(split), "amount": purchase(items)["amount"]})
    assert decision.outcome == "applied", decision.reason
    assert decision.points == whole.process(purchase(items)).points
    order = parts.member("m").orders["o-1"]
    assert sorted(dict(order.fields)["items"], key=lambda line: line["sku"]) == sorted(
        ({**line, "quantity": Decimal(line["quantity"])} for line in items), key=lambda line: line["sku"])


PER_LINE_EXCLUSIVE = RULESET.split("earning:", maxsplit=1)[0] + """earning:
  rules:
    - {id: any-line, on: purchase, per_item: true, bonus: item.amount, group: lines}
    - {id: coffee, on: purchase, per_item: true, when: 'item.category == "coffee"', bonus: item.amount * 2,
       group: lines, priority: 5, exclusive: true}
  stacking: {groups: add}
"""


@settings(max_examples=60, deadline=None)
@given(items=lines(EARNING, "sku"), specialised=st.booleans())
def test_an_exclusive_per_item_rule_takes_its_lines_and_leaves_the_rest(items, specialised):
    engine = Engine(compile_ruleset(PER_LINE_EXCLUSIVE, specialise=specialised), trace=True)
    decision = engine.process(purchase(items))
    coffee = [line for line in items if line["category"] == "coffee"]
    exact = sum((line["amount"] * (2 if line in coffee else 1) for line in items), Decimal(0))
    assert decision.points == exact.to_integral_value(rounding=ROUND_FLOOR)
    generic = [s for s in decision.trace if s.phase == "earning" and s.rule == "any-line"]
    paid_on = {key.removeprefix("item ") for step in generic for key in step.values}
    assert not paid_on & {line["sku"] for line in coffee}  # no coffee line paid by the lower rule


@pytest.mark.parametrize("quantity", ["5_0", " 7 ", "\u0661\u0662", "0" * 2_000 + "3", "2.5", 2.0, True])
def test_a_quantity_is_read_as_strictly_as_any_number(quantity):
    """Spaces, '_', other scripts' digits, endless text, fractions and floats are not counts."""
    event = {"type": "purchase", "id": "o-1", "member": "m", "time": "2026-05-01T10:00:00", "amount": "60",
             "items": [{"sku": "latte-12", "category": "coffee", "quantity": quantity, "amount": "60"}]}
    decision = Engine(COMPILED[True]).process(event)
    assert decision.outcome == "rejected"
    assert "line 1 (sku 'latte-12'): quantity must be a whole number from 1 to 10,000" in decision.reason


@pytest.mark.parametrize("quantity", [3, "3", "3.000", Decimal("3")])
def test_a_whole_quantity_however_written_is_a_count(quantity):
    event = {"type": "purchase", "id": "o-1", "member": "m", "time": "2026-05-01T10:00:00", "amount": "60",
             "items": [{"sku": "latte-12", "category": "coffee", "quantity": quantity, "amount": "60"}]}
    engine = Engine(COMPILED[True])
    assert engine.process(event).outcome == "applied"
    assert dict(engine.member("m").orders["o-1"].fields)["items"][0]["quantity"] == 3
