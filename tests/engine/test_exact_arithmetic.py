"""Points are held exactly over the whole allowed range.

An oracle keeps the balance in integers (units of 10^-15 points, finer than any step
drawn) and must agree with the engine to the last digit after every event: the balance,
the sum of the lots' remainders less the debt, the sum of every ledger entry, and the
balance the decision reports as JSON.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.numbers import MAX_AMOUNT, MAX_BALANCE, MAX_POINTS

LEDGER_KINDS = {"earn", "redeem", "clawback", "negative_balance", "adjust"}  # a debt repaid is inside an earn
UNIT = Decimal("1e-15")  # the oracle counts in these
TIME = "2026-03-02T08:15:00+00:00"
STEPS = ["1", "0.01", "0.000001", "0.5", "5"]
WIDE = Context(prec=100)


@cache
def program(step: str):
    return compile_ruleset(f"""
punchcard: 1
ruleset: exact
version: 1.0.0
currency: USD
rounding: {{mode: floor, scope: event, step: {step}}}
schema:
  events:
    purchase: {{amount: money}}
earning:
  base: {{on: purchase, points: event.amount}}
points:
  pending: 0 days
  expiry: never
  refunds: {{clawback: proportional, negative_balance: allow}}
""")


def units(value: Decimal) -> int:
    with localcontext(WIDE):
        scaled = value / UNIT
    assert scaled == scaled.to_integral_value()
    return int(scaled)


amounts = st.one_of(st.decimals(min_value=0, max_value=MAX_AMOUNT, places=2),
                    st.sampled_from([MAX_AMOUNT, Decimal("0.01"), Decimal("999999999999.99")]))
# times the step, capped at MAX_POINTS below; 0 and less count down from the largest multiple allowed
multiples = st.one_of(st.integers(min_value=1, max_value=10 ** 30), st.integers(min_value=-10 ** 6, max_value=0))
operations = st.lists(st.one_of(
    st.tuples(st.just("purchase"), amounts),
    st.tuples(st.just("redeem"), multiples),
    st.tuples(st.just("adjust"), multiples, st.booleans()),
    st.tuples(st.just("refund"), st.integers(min_value=0)),
), min_size=1, max_size=30)


def _points(step: Decimal, multiple: int) -> Decimal:
    biggest = int(MAX_POINTS / step)
    return step * (biggest + multiple if multiple <= 0 else multiple % biggest + 1)


class Oracle:
    def __init__(self, step: Decimal):
        self.step, self.balance, self.orders, self.booked = step, 0, {}, Decimal(0)

    def expect(self, op: tuple, decision) -> None:
        """Check the decision against the oracle, then advance the oracle."""
        kind = op[0]
        if kind == "purchase":
            earned = units((op[1] / self.step).to_integral_value(rounding="ROUND_FLOOR") * self.step)
            assert decision.outcome == "applied" and units(decision.points) == earned
            self.balance += earned
            self.orders[decision.event_id] = earned
        elif kind == "redeem":
            wanted = units(_points(self.step, op[1]))
            assert (decision.outcome == "applied") == (wanted <= self.balance), decision.reason
            self.balance -= wanted if decision.outcome == "applied" else 0
        elif kind == "adjust":
            assert decision.outcome == "applied", decision.reason
            self.balance += units(decision.points)
        elif decision.outcome == "applied":  # a full refund takes back all the order's points
            self.balance -= self.orders.pop(op[2])


def _event(op: tuple, i: int, step: Decimal, orders: list[str]) -> dict | None:
    base = {"id": f"e{i}", "member": "m1", "time": TIME}
    kind = op[0]
    if kind == "purchase":
        return {**base, "type": "purchase", "amount": str(op[1])}
    if kind == "redeem":
        return {**base, "type": "redeem", "points": str(_points(step, op[1]))}
    if kind == "adjust":
        points = _points(step, op[1])
        return {**base, "type": "adjust", "points": str(points if op[2] else -points), "reason": "exactness"}
    if not orders:
        return None
    order = orders[op[1] % len(orders)]
    return {**base, "type": "refund", "order": order, "amount": str(_amounts[order])}


_amounts: dict[str, Decimal] = {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.sampled_from(STEPS), ops=operations)
def test_the_ledger_adds_up_exactly_over_the_allowed_range(step, ops):
    compiled, step = program(step), Decimal(step)
    engine, oracle = Engine(compiled, MemoryStore()), Oracle(step)
    orders: list[str] = []
    for i, op in enumerate(ops):
        event = _event(op, i, step, orders)
        if event is None:
            continue
        decision = engine.process(event)
        if op[0] == "purchase":
            orders.append(event["id"])
            _amounts[event["id"]] = op[1]
        elif op[0] == "refund" and decision.outcome == "applied":
            orders.remove(event["order"])
        oracle.expect((*op, event.get("order")), decision)
        state = engine.member("m1")
        if state is None:  # nothing was applied yet
            assert oracle.balance == 0 and decision.outcome == "rejected"
            continue
        assert units(Decimal(decision.to_dict()["balance"])) == oracle.balance  # summed by the engine
        with localcontext(WIDE):  # a MemberState's own sums run in the caller's context
            oracle.booked += sum((e.points for e in decision.effects if e.kind in LEDGER_KINDS), Decimal(0))
            assert units(state.total()) == oracle.balance
            assert state.total() == sum((lot.remaining for lot in state.lots), Decimal(0)) - state.debt
            assert state.total() == oracle.booked
            assert all(lot.accounted() == lot.amount for lot in state.lots)


# an opening balance anywhere in the allowed range, in steps: up to MAX_BALANCE less room for one purchase
openings = st.one_of(st.integers(min_value=1, max_value=10 ** 30), st.integers(min_value=-10 ** 6, max_value=0),
                     st.sampled_from([1, 10 ** 13, 10 ** 15 + 1, 10 ** 17 + 7, 10 ** 30]))


def _opening(step: Decimal, multiple: int) -> Decimal:
    """A multiple of ``step`` from one step up to MAX_BALANCE - MAX_AMOUNT, drawn from ``multiple``."""
    biggest = int((MAX_BALANCE - MAX_AMOUNT) / step)
    return step * (biggest + multiple if multiple <= 0 else multiple % biggest + 1)


def _fund(engine: Engine, step: Decimal, opening: Decimal) -> None:
    """Adjust the member up to ``opening`` in as few events as MAX_POINTS allows, each with many digits."""
    count = int(opening // (MAX_POINTS / 2)) + 1
    chunk = (opening / count / step).to_integral_value(rounding="ROUND_FLOOR") * step
    parts = [chunk] * (count - 1) + [opening - chunk * (count - 1)]
    for i, points in enumerate(parts):
        assert 0 < points <= MAX_POINTS
        decision = engine.process({"type": "adjust", "id": f"a{i}", "member": "m1", "time": TIME,
                                   "points": str(points), "reason": "opening balance"})
        assert decision.outcome == "applied", decision.reason


@settings(max_examples=60, deadline=None)
@given(step=st.sampled_from(STEPS), start=openings, amount=amounts)
def test_earning_then_refunding_returns_to_the_start(step, start, amount):
    compiled, step = program(step), Decimal(step)
    engine = Engine(compiled, MemoryStore())
    opening = _opening(step, start)
    with localcontext(WIDE):
        _fund(engine, step, opening)
    assert Decimal(engine.member("m1").total().to_eng_string()) == opening  # exact, whatever its size
    earned = engine.process({"type": "purchase", "id": "p", "member": "m1", "time": TIME, "amount": str(amount)})
    assert earned.outcome == "applied"
    with localcontext(WIDE):
        assert Decimal(earned.to_dict()["balance"]) == opening + earned.points
    refund = engine.process({"type": "refund", "id": "r", "member": "m1", "time": TIME, "order": "p",
                             "amount": str(amount)})
    assert refund.outcome == "applied" or amount == 0, refund.reason
    assert Decimal(refund.to_dict()["balance"]) == opening
    with localcontext(WIDE):
        assert engine.member("m1").total() == opening


def test_the_openings_reach_the_ends_of_the_range():
    for step in map(Decimal, STEPS):
        assert _opening(step, 0) == step * int((MAX_BALANCE - MAX_AMOUNT) / step)
        assert _opening(step, 0) > MAX_BALANCE - MAX_AMOUNT - step and _opening(step, 1) == step * 2
