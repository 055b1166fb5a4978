"""Property-based state machine over the ledger (hypothesis).

On a ruleset drawn from a family (rounding, pending, expiry, tiers, stacking), it
earns, redeems, refunds, reverses, adjusts, advances the clock and replays earlier
events, checking the ledger's invariants after every step. Subclass it with another
``store_factory`` to run the same machine against a database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.policies.lifecycle.lots import FAR_FUTURE

LEDGER_KINDS = {"earn", "redeem", "clawback", "negative_balance", "expire", "reverse", "adjust", "void"}
START = dt.datetime(2026, 1, 5, 9, 0)


@cache
def family_member(mode: str, step: str, pending: int, expiry: str, tiers: bool, stacking: str):
    tier_block = """
tiers:
  metric: spend
  levels:
    - {name: base, min: 0}
    - {name: plus, min: 300, earn_multiplier: 1.5}
  downgrade: {keep_through: this_window}
""" if tiers else ""
    return compile_ruleset(f"""
punchcard: 1
ruleset: family
version: 1.0.0
timezone: Europe/London
currency: GBP
point_value: 0.01
rounding: {{mode: {mode}, scope: event, step: {step}}}
schema:
  events:
    purchase: {{amount: money}}
earning:
  base: {{on: purchase, points: event.amount * 1.3}}
  rules:
    - {{id: big, on: purchase, when: event.amount >= 100, bonus: 25}}
    - {{id: double, on: purchase, when: event.amount < 20, multiply: 2}}
  stacking: {{multipliers: {stacking}, groups: best}}
points:
  pending: {pending} days
  expiry: {expiry}
  refunds: {{clawback: proportional, negative_balance: allow}}
{tier_block}""")


rulesets = st.builds(
    family_member,
    mode=st.sampled_from(["floor", "ceil", "half_up", "half_even"]),
    step=st.sampled_from(["1", "0.01"]),
    pending=st.sampled_from([0, 7]),
    expiry=st.sampled_from(["never", "{after: 2 months}", "{after: 1 month, round_to: month_end}",
                            "{inactivity: 2 months, activity: [purchase, redeem]}"]),
    tiers=st.booleans(),
    stacking=st.sampled_from(["add", "multiply"]),
)
# Across the documented range (engine/runtime/numbers.py): GBP amounts in pence up to 10**12
# pounds, and points a multiple of the ruleset's step up to 10**15 either way. Most
# draws stay small, so that redemptions and refunds meet the points they act on.
MAX_AMOUNT, MAX_POINTS = Decimal(10) ** 12, Decimal(10) ** 15
amounts = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("400"), places=2),
    st.decimals(min_value=Decimal("0"), max_value=MAX_AMOUNT, places=2),
    st.sampled_from([Decimal("0"), Decimal("0.01"), MAX_AMOUNT, MAX_AMOUNT - Decimal("0.01")]),
)


def in_steps(low: int, high: int, small: int):
    """Whole multiples of the ruleset's step (drawn as a count of steps): mostly within
    ``small`` points, sometimes anywhere up to the bound."""
    return st.one_of(st.integers(min_value=low * small, max_value=high * small),
                     st.integers(min_value=low * 100 * int(MAX_POINTS), max_value=high * 100 * int(MAX_POINTS)),
                     st.sampled_from([high * 100 * int(MAX_POINTS), low * 100 * int(MAX_POINTS)]))


class LedgerMachine(RuleBasedStateMachine):
    store_factory = MemoryStore
    member = "m1"

    @initialize(compiled=rulesets)
    def start(self, compiled):
        self.compiled = compiled
        self.step = compiled.model.rounding.step
        self.engine = Engine(compiled, type(self).store_factory())
        self.now = START
        self.counter = 0
        self.events: list[dict] = []
        self.orders: dict[str, Decimal] = {}  # order id -> points it earned
        self.clawed: dict[str, Decimal] = {}
        self.redemptions: list[str] = []
        self.booked = Decimal(0)  # the sum of every ledger effect seen

    def teardown(self):
        close = getattr(getattr(self, "engine", None), "store", None)
        if close is not None:
            close.close()

    # -- helpers -------------------------------------------------------------------
    def _send(self, kind: str, **fields):
        self.counter += 1
        self.now += dt.timedelta(minutes=1)
        event = {"type": kind, "id": f"{kind}-{self.counter}", "member": self.member,
                 "time": self.now.isoformat(), **fields}
        decision = self.engine.process(event)
        assert decision.outcome in ("applied", "rejected"), decision.reason
        if decision.outcome == "applied":
            self.events.append(event)
            self.booked += sum((e.points for e in decision.effects if e.kind in LEDGER_KINDS), Decimal(0))
        return decision

    def _state(self):
        return self.engine.member(self.member)

    # -- operations ----------------------------------------------------------------
    @rule(amount=amounts)
    def earn(self, amount):
        decision = self._send("purchase", amount=str(amount))
        self.orders[decision.event_id] = decision.points

    def _points(self, steps: int) -> Decimal:
        """``steps`` hundredths of a point in a whole number of the ruleset's steps, within the bound."""
        points = (Decimal(steps) / 100).quantize(self.step, rounding="ROUND_DOWN") if self.step < 1 else \
            Decimal(steps // 100)
        return max(min(points, MAX_POINTS), -MAX_POINTS)

    @rule(steps=in_steps(0, 1, 60000))
    def redeem(self, steps):
        points = self._points(steps) or self.step
        before = self._state()
        decision = self._send("redeem", points=str(points))
        if decision.outcome == "applied":
            self.redemptions.append(decision.event_id)
            self._check_fifo(before, decision)
        else:
            assert "not enough points" in decision.reason

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), share=st.decimals(min_value=Decimal("0.05"), max_value=Decimal("1"), places=2))
    def refund(self, data, share):
        order = data.draw(st.sampled_from(sorted(self.orders)))
        record = self._state().orders.get(order)
        left = record.amount - record.refunded if record else Decimal(1)
        amount = max((left * share).quantize(Decimal("0.01")), Decimal("0.01"))
        decision = self._send("refund", order=order, amount=str(amount))
        if decision.outcome == "applied":
            self.clawed[order] = self.clawed.get(order, Decimal(0)) - decision.points

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def reverse(self, data):
        self._send("redeem_reversal", redemption=data.draw(st.sampled_from(self.redemptions)))

    @rule(steps=in_steps(-1, 1, 5000))
    def adjust(self, steps):
        points = self._points(steps) or self.step
        self._send("adjust", points=str(points), reason="service gesture")

    @rule(days=st.integers(min_value=1, max_value=70))
    def advance(self, days):
        self.now += dt.timedelta(days=days)
        self._send("tick")

    @precondition(lambda self: self.events)
    @rule(data=st.data())
    def replay(self, data):
        event = data.draw(st.sampled_from(self.events))
        before = self._state()
        decision = self.engine.process(event)
        assert decision.outcome == "duplicate"
        after = self._state()
        assert after.total() == before.total() and after.lots == before.lots

    # -- invariants ----------------------------------------------------------------
    def _check_fifo(self, before, decision):
        now = decision.time
        used = [e.lot for e in decision.effects if e.kind == "redeem"]
        order = sorted((lot for lot in before.lots if lot.spendable(now) and lot.remaining > 0),
                       key=lambda lot: (lot.expires_at or FAR_FUTURE, lot.earned_at, lot.id))
        assert used == [lot.id for lot in order[:len(used)]], "redemption must use earliest expiry first"

    @invariant()
    def balance_is_the_sum_of_live_lots_and_of_every_posting(self):
        if not hasattr(self, "engine") or self._state() is None:
            return
        state = self._state()
        assert state.total() == sum((lot.remaining for lot in state.lots), Decimal(0)) - state.debt
        spendable = sum((lot.remaining for lot in state.lots if lot.spendable(state.clock)), Decimal(0))
        assert state.available(state.clock) == spendable - state.debt, "running sums drifted from the lots"
        assert state.total() == self.booked
        totals = state.totals
        issued = totals.get("issued", 0) - totals.get("redeemed", 0) - totals.get("expired", 0) \
            - totals.get("clawed_back", 0) - totals.get("voided", 0) - totals.get("adjusted_down", 0)
        assert state.total() == issued

    @invariant()
    def every_lot_accounts_for_its_points(self):
        if not hasattr(self, "engine") or self._state() is None:
            return
        state = self._state()
        for lot in state.lots:
            assert lot.remaining >= 0 and lot.accounted() == lot.amount, lot
            if lot.expires_at is not None and lot.expires_at <= state.clock:
                assert lot.remaining == 0, "an expired lot still has points"
        assert state.debt >= 0

    @invariant()
    def refunds_never_return_more_than_was_earned(self):
        for order, clawed in getattr(self, "clawed", {}).items():
            assert clawed <= self.orders[order]


LedgerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestLedgerMachine = LedgerMachine.TestCase
