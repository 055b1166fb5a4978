"""The rewards catalogue (docs/rewards.md) as invariants, over random histories of purchases,
redemptions and reversals: a stock never goes negative, the units sold never pass it and
are exactly the sales not reversed; a sale costs the reward's price; and no redeem, however
malformed, raises: each is decided, a refusal with its reason."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import punchcard
from punchcard.engine import Engine

RULESET = Path(__file__).parents[2] / "rulesets" / "beauty-rewards.yaml"
STOCKED = {"skincare-trio": 2, "rouge-kit": 50}
PRICES = {"mini-mascara": 100, "skincare-trio": 500, "rouge-kit": 750, "holiday-set": 250}


@pytest.fixture(scope="module")
def bazaar():
    return punchcard.compile(str(RULESET))


@pytest.fixture(scope="module", params=["beauty-rewards", "beans-pay"])
def program(request):
    return punchcard.compile(str(RULESET.parent / f"{request.param}.yaml"))


_members = st.sampled_from(["ann", "bea", "cat"])
_actions = st.lists(st.one_of(
    st.tuples(st.just("purchase"), _members, st.integers(1, 1500)),
    st.tuples(st.just("redeem"), _members, st.sampled_from([*PRICES, "lipstick"])),
    st.tuples(st.just("reverse"), _members, st.integers(0, 30)),
), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(actions=_actions)
def test_stock_never_goes_negative_and_units_sold_never_pass_it(bazaar, actions):
    engine = Engine(bazaar)
    sales: list[tuple[str, str, str]] = []  # (member, redemption id, reward)
    sold: Counter = Counter()
    for n, (kind, member, arg) in enumerate(actions):
        time = f"2026-11-{1 + n // 24:02d}T{n % 24:02d}:00:00"
        if kind == "purchase":
            engine.process({"type": "purchase", "id": f"e-{n}", "member": member, "time": time, "amount": str(arg)})
        elif kind == "redeem":
            decision = engine.process({"type": "redeem", "id": f"e-{n}", "member": member, "time": time,
                                       "reward": arg})
            if decision.outcome == "applied":
                assert decision.points == -PRICES[arg]
                sales.append((member, f"e-{n}", arg))
                sold[arg] += 1
            else:
                assert decision.reason
        elif sales:
            buyer, sale, reward = sales.pop(arg % len(sales))
            decision = engine.process({"type": "redeem_reversal", "id": f"e-{n}", "member": buyer, "time": time,
                                       "redemption": sale})
            assert decision.outcome == "applied", decision.reason
            sold[reward] -= 1
        used = engine.store.budgets()
        for reward, stock in STOCKED.items():
            units = used.get(f"reward:{reward}", Decimal(0))
            assert Decimal(0) <= units <= stock
            assert units == sold[reward]


_values = st.one_of(st.none(), st.text(max_size=12), st.integers(-10**30, 10**30), st.booleans(),
                    st.sampled_from(["skincare-trio", "rouge-kit", "o-1", "p-1", "1000", "0.5", "-3", "1e400"]),
                    st.decimals(allow_nan=True, allow_infinity=True).map(str), st.lists(st.integers(), max_size=2))


@settings(max_examples=150, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(["points", "reward", "order", "amount", "tier", "redemption"]),
                              _values, max_size=4))
def test_no_redeem_raises(program, fields):
    engine = Engine(program)
    engine.process({"type": "purchase", "id": "p-1", "member": "ann", "time": "2026-11-02T10:00:00",
                    "amount": "2000", **({"category": "phone"} if program.model.redemption else {})})
    decision = engine.process({"type": "redeem", "id": "r-1", "member": "ann", "time": "2026-11-02T11:00:00",
                               **fields})
    assert decision.outcome in ("applied", "rejected")
    if decision.outcome == "rejected":
        assert decision.reason
        assert decision.balance == Decimal(2000)  # a refusal changes nothing
