"""A custom tier metric (``metric: {on, add}``) with ``refund`` in ``on:``: a refund re-evaluates
the refunded order's ``add:`` at the amount left, and the metric drops by the difference, in the
window the order counted in (docs/semantics.md, "Tiers"; docs/ruleset-format.md, "Tiers")."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.dsl.check import check_text
from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset

HEADER = """punchcard: 1
ruleset: custom-metric
version: 1.0.0
timezone: Europe/Paris
currency: EUR
point_value: 0.01
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
earning:
  base: {on: purchase, points: event.amount}
"""
TIERS = """tiers:
  metric: {on: %s, add: '%s'}
  window: %s
  levels:
    - {name: member, min: 0}
    - {name: silver, min: 350}
  downgrade: {keep_through: next_window}
"""
NET = "event.amount"
NO_GIFT_CARDS = 'if event.category == "gift_card" then 0 else event.amount'


def _ruleset(add: str = NET, on: str = "[purchase, refund]", window: str = "calendar_year") -> str:
    return HEADER + TIERS % (on, add, window)


def _purchase(event_id: str, time: str, amount, category: str = "shoes") -> dict:
    return {"type": "purchase", "id": event_id, "member": "m", "time": time, "amount": str(amount),
            "category": category}


def _refund(event_id: str, time: str, order: str, amount) -> dict:
    return {"type": "refund", "id": event_id, "member": "m", "time": time, "order": order, "amount": str(amount)}


def _tick(event_id: str, time: str) -> dict:
    return {"type": "tick", "id": event_id, "member": "m", "time": time}


def _run(compiled, events):
    state, decisions = None, []
    for event in events:
        decision, state = evaluate(compiled, state, event)
        assert decision.outcome == "applied", decision.reason
        decisions.append(decision)
    return decisions


def test_a_refund_lowers_the_custom_metric():
    """Bought 400, returned 100: the year ends at 300, below silver's 350."""
    decisions = _run(compile_ruleset(_ruleset()), [
        _purchase("o-1", "2026-02-01T10:00:00", 400),
        _refund("r-1", "2026-02-10T10:00:00", "o-1", 100),
        _tick("t-1", "2027-01-01T00:00:01"),
    ])
    assert decisions[0].tier.current == "silver"
    assert decisions[1].tier.metric == Decimal(300)
    assert decisions[1].tier.current == "silver"  # never mid-window
    assert decisions[2].tier.current == "member"  # the final metric, 300, keeps nothing


def test_a_custom_metric_can_leave_out_gift_cards_and_their_refunds():
    compiled = compile_ruleset(_ruleset(NO_GIFT_CARDS))
    decisions = _run(compiled, [
        _purchase("o-1", "2026-02-01T10:00:00", 400),
        _purchase("g-1", "2026-02-01T11:00:00", 500, "gift_card"),
        _refund("r-1", "2026-02-10T10:00:00", "g-1", 500),
        _refund("r-2", "2026-02-11T10:00:00", "o-1", 100),
    ])
    assert [d.tier.metric for d in decisions] == [400, 400, 400, 300]


def test_without_refund_in_on_the_metric_counts_what_was_bought():
    decisions = _run(compile_ruleset(_ruleset(on="[purchase]")), [
        _purchase("o-1", "2026-02-01T10:00:00", 400),
        _refund("r-1", "2026-02-10T10:00:00", "o-1", 100),
        _tick("t-1", "2027-01-01T00:00:01"),
    ])
    assert decisions[1].tier.metric == Decimal(400)
    assert decisions[2].tier.current == "silver"


def test_a_rolling_custom_metric_drops_at_the_month_end():
    decisions = _run(compile_ruleset(_ruleset(window="rolling_12_months").replace(
        "  downgrade: {keep_through: next_window}\n", "")), [
        _purchase("o-1", "2026-02-01T10:00:00", 400),
        _refund("r-1", "2026-02-10T10:00:00", "o-1", 100),
        _tick("t-1", "2026-03-01T00:00:01"),
    ])
    assert [(d.tier.current, d.tier.metric) for d in decisions] == \
        [("silver", 400), ("silver", 300), ("member", 300)]


def test_check_types_add_on_the_orders_it_re_evaluates():
    """``add:`` never runs on a refund event: it may read the order's own fields."""
    assert check_text(_ruleset(NO_GIFT_CARDS)).ok
    reads_refund = check_text(_ruleset('if event.order == "x" then 1 else 0'))
    assert [d.code.value for d in reads_refund.errors] == ["unknown_name"]


def test_check_rejects_a_refund_without_an_order_type_to_re_evaluate():
    found = check_text(_ruleset(on="[refund]"))
    assert [d.code.value for d in found.errors] == ["schema_error"]
    assert "refund" in found.errors[0].message


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["shoes", "gift_card"]), st.decimals(1, 900, places=2),
                          st.decimals(0, 1, places=2)), min_size=1, max_size=8))
def test_the_metric_is_what_is_left_of_the_orders_it_counts(orders):
    """Each order, less what was refunded on it, gift cards left out: in exact arithmetic."""
    compiled, state, expected = compile_ruleset(_ruleset(NO_GIFT_CARDS)), None, Decimal(0)
    for i, (category, amount, share) in enumerate(orders):
        decision, state = evaluate(compiled, state, _purchase(f"o-{i}", f"2026-03-{i + 1:02d}T10:00:00", amount,
                                                              category))
        refunded = (amount * share).quantize(Decimal("0.01"))
        if refunded > 0:
            decision, state = evaluate(compiled, state, _refund(f"r-{i}", f"2026-03-{i + 1:02d}T12:00:00",
                                                                f"o-{i}", refunded))
            assert decision.outcome == "applied", decision.reason
        expected += amount - refunded if category != "gift_card" else 0
        assert decision.tier.metric == expected


def test_check_rejects_built_in_types_that_never_reach_the_metric():
    found = check_text(_ruleset(on="[purchase, redeem, refund]"))
    assert ("schema_error", "redeem events never count toward a tier metric") in \
        [(d.code.value, d.message) for d in found.errors]


def test_the_example_in_the_format_docs():
    """docs/ruleset-format.md, "Tiers": gift cards count neither way; 400 refunded by 100 leaves 300."""
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs/ruleset-format.md").read_text(encoding="utf-8")
    (text,) = [b for b in re.findall(r"```yaml\n(.*?)```", docs, re.S) if "ruleset: no-gift-cards" in b]
    decisions = _run(compile_ruleset(text), [
        _purchase("o-1", "2026-02-01T10:00:00", 400),
        _purchase("g-1", "2026-02-02T10:00:00", 50, "gift_card"),
        _refund("r-1", "2026-02-03T10:00:00", "g-1", 50),
        _refund("r-2", "2026-02-04T10:00:00", "o-1", 100),
    ])
    assert [(d.tier.current, d.tier.metric) for d in decisions] == \
        [("silver", 400), ("silver", 400), ("silver", 400), ("silver", 300)]


def test_an_add_that_cannot_be_computed_on_the_refund_rejects_it():
    """Left at 100, ``1000 / (event.amount - 100)`` divides by zero: the refund is refused,
    naming the metric, rather than leaving the metric silently as it was."""
    compiled = compile_ruleset(_ruleset("1000 / (event.amount - 100)"))
    state = None
    decision, state = evaluate(compiled, state, _purchase("o-1", "2026-02-01T10:00:00", 400))
    decision, after = evaluate(compiled, state, _refund("r-1", "2026-02-10T10:00:00", "o-1", 300))
    assert decision.outcome == "rejected" and "tiers.metric" in decision.reason
    assert after.tier.metric == state.tier.metric
