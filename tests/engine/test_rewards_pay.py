"""Paying part of an order in points (``redemption:``, docs/rewards.md), as invariants:
the points never pass the order's limit and are whole steps; points at the rate plus cash
are the order's amount; and refunding the order, in any number of parts, gives back exactly
the points redeemed, to the lots they came from, with those lots' expiry unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import punchcard
from punchcard.engine import Engine
from punchcard.engine.policies.rewards import order_limit, whole_steps

# (currency, rate, step, max_share, max_points): JD beans, a program with a cap per order,
# one paying in 0.01 steps, a currency without minor units
TERMS = [("CNY", "100", "100", "0.5", None), ("USD", "100", "1", "0.3", "5000"), ("EUR", "10", "0.1", "1", None),
         ("JPY", "1", "5", "0.25", None)]
HEADER = """
punchcard: 1
ruleset: pay-lab
version: 1.0.0
currency: {currency}
rounding: {{mode: floor, scope: event, step: 0.1}}
schema:
  events:
    purchase: {{amount: money}}
earning:
  base: {{on: purchase, points: event.amount}}
points:
  expiry: {{after: 12 months}}
redemption: {{rate: {rate}, step: {step}, max_share: {share}{cap}}}
"""


@pytest.fixture(scope="module", params=range(len(TERMS)), ids=[t[0] for t in TERMS])
def program(request, tmp_path_factory):
    currency, rate, step, share, cap = TERMS[request.param]
    text = HEADER.format(currency=currency, rate=rate, step=step, share=share,
                         cap=f", max_points: {cap}" if cap else "")
    path = tmp_path_factory.mktemp("pay") / "pay.yaml"
    path.write_text(text, encoding="utf-8")
    return punchcard.compile(str(path))


def _places(program) -> int:
    return program.model.money_places


def _amounts(program):
    places = _places(program)
    return st.integers(1, 10**7).map(lambda minor: Decimal(minor).scaleb(-places))


def _engine_with(program, lots: list[int]) -> Engine:
    """A member with one lot per purchase, a day apart, so each lot expires on its own day."""
    engine = Engine(program)
    for day, points in enumerate(lots, start=1):
        decision = engine.process({"type": "purchase", "id": f"buy-{day}", "member": "m",
                                   "time": f"2026-01-{day:02d}T10:00:00", "amount": str(points)})
        assert decision.outcome == "applied", decision.reason
    return engine


def _pay(engine, amount: Decimal, points: Decimal | None = None, event_id: str = "pay-1", order: str = "o-1"):
    event = {"type": "redeem", "id": event_id, "member": "m", "time": "2026-02-01T10:00:00", "order": order,
             "amount": str(amount)}
    if points is not None:
        event["points"] = str(points)
    return engine.process(event)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), lots=st.lists(st.integers(1, 20000), min_size=1, max_size=5))
def test_the_points_never_pass_the_limit_and_are_whole_steps(program, data, lots):
    terms = program.model.redemption
    amount = data.draw(_amounts(program))
    engine = _engine_with(program, lots)
    available = engine.member("m").available(engine.member("m").clock)
    decision = _pay(engine, amount)
    limit = order_limit(terms, amount)
    expected = min(limit, whole_steps(available, terms.step))
    if expected <= 0:
        assert decision.outcome == "rejected"
        assert "cannot be paid in points" in decision.reason
        return
    assert decision.outcome == "applied", decision.reason
    paid = -decision.points
    assert paid == expected
    assert paid <= amount * terms.max_share * terms.rate
    assert terms.max_points is None or paid <= terms.max_points
    assert paid % terms.step == 0
    [split] = [e.detail for e in decision.effects if e.kind == "order_paid"]
    assert split["points"] == paid
    assert split["paid"] + split["cash"] == amount  # points at the rate plus cash: the order
    assert split["paid"] * terms.rate == paid  # exact: no part of a cent is lost
    assert split["cash"] >= 0


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_asked_points_are_taken_only_when_the_terms_allow_them(program, data):
    terms = program.model.redemption
    amount = data.draw(_amounts(program))
    engine = _engine_with(program, [50000])
    # whole steps and not, within the limit and past it
    unit = data.draw(st.sampled_from([terms.step, terms.step / 2, Decimal("0.1"), Decimal(1)]))
    asked = max((data.draw(st.integers(1, 4000)) * unit).quantize(Decimal("0.1")), Decimal("0.1"))
    decision = _pay(engine, amount, asked)
    allowed = asked % terms.step == 0 and asked <= order_limit(terms, amount) and asked <= 50000 \
        and (terms.min_points is None or asked >= terms.min_points)
    assert decision.outcome == ("applied" if allowed else "rejected"), decision.reason
    if allowed:
        assert decision.points == -asked
    else:
        assert decision.reason and decision.balance == Decimal(50000)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), lots=st.lists(st.integers(1, 20000), min_size=1, max_size=5))
def test_refunds_give_back_exactly_the_points_to_their_own_lots(program, data, lots):
    terms = program.model.redemption
    amount = data.draw(_amounts(program))
    engine = _engine_with(program, lots)
    before = {lot.id: (lot.remaining, lot.expires_at) for lot in engine.member("m").lots}
    decision = _pay(engine, amount)
    if decision.outcome != "applied":
        return
    redeemed = -decision.points
    # the order refunded in one to four parts, the last completing it
    places = _places(program)
    cuts = sorted(data.draw(st.lists(st.integers(1, int(amount.scaleb(places))), max_size=3, unique=True)))
    bounds = [Decimal(c).scaleb(-places) for c in cuts if Decimal(c).scaleb(-places) < amount] + [amount]
    returned, last = Decimal(0), Decimal(0)
    for n, bound in enumerate(bounds):
        refund = engine.process({"type": "refund", "id": f"back-{n}", "member": "m",
                                 "time": f"2026-02-{n + 2:02d}T10:00:00", "order": "o-1", "amount": str(bound - last)})
        assert refund.outcome == "applied", refund.reason
        assert refund.points % terms.step == 0 or bound == amount  # whole steps until the last
        returned += refund.points
        last = bound
    assert returned == redeemed
    after = {lot.id: (lot.remaining, lot.expires_at) for lot in engine.member("m").lots}
    assert after == before  # every point back in the lot it came from, expiring when it did
    assert engine.process({"type": "refund", "id": "back-more", "member": "m", "time": "2026-02-20T10:00:00",
                           "order": "o-1", "amount": "1"}).outcome == "rejected"
