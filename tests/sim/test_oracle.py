"""The oracle against the documented semantics, with numbers worked out by hand
(docs/semantics.md, "The ledger is lot-based"), before it is trusted to judge a store."""

from __future__ import annotations

import datetime as dt

from sim_oracle import Oracle, Posting

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


class Script:
    def __init__(self):
        self.oracle, self.count = Oracle(), 0

    def send(self, kind: str, days: float, **values):
        self.count += 1
        return self.oracle.apply(f"e{self.count}", "m", kind, _at(days), (self.count,), **values)

    @property
    def member(self):
        return self.oracle.members["m"]


def test_earning_is_floored_to_the_step_and_redemption_spends_earliest_expiry_first():
    s = Script()
    assert s.send("purchase", 0, pence=1470).points == 2205  # 14.70 * 1.5 = 22.05
    assert s.send("purchase", 1, pence=1).points == 1  # 0.015 floors to 0.01
    spent = s.send("redeem", 2, points=2206)
    assert spent.postings == [Posting("redeem", "e1", -2205), Posting("redeem", "e2", -1)]
    assert s.send("redeem", 3, points=1).why == "not enough points"


def test_a_refund_reevaluates_the_order_and_claws_back_the_difference_then_goes_negative():
    s = Script()
    s.send("purchase", 0, pence=10000)  # 150.00 points
    refund = s.send("refund", 1, order="e1", pence=3333)  # 66.67 left: 100.005 floors to 100.00
    assert refund.points == -5000 and refund.postings == [Posting("clawback", "e1", -5000)]
    s.send("redeem", 2, points=10000)
    rest = s.send("refund", 3, order="e1", pence=6667)
    assert rest.postings == [Posting("negative_balance", None, 0, 10000)] and s.member.debt == 10000
    assert s.send("refund", 4, order="e1", pence=1).why == "more than refundable"
    paid = s.send("adjust", 5, points=12000)
    assert paid.postings == [Posting("earn", "e6", 12000), Posting("debt_repaid", "e6", -10000, -10000)]
    assert s.member.total() == 2000


def test_expiry_and_a_reversal_that_comes_after_it():
    s = Script()
    s.send("purchase", 0, pence=200)  # 3.00, expires on day 60
    s.send("purchase", 30, pence=200)  # 3.00, expires on day 90
    s.send("redeem", 31, points=500)  # 3.00 from e1, 2.00 from e2
    back = s.send("redeem_reversal", 61, redemption="e3")
    assert back.postings == [Posting("reverse", "e2", 200)]  # e1 expired meanwhile: not returned
    assert s.send("redeem_reversal", 62, redemption="e3").why == "already reversed"
    tick = s.send("tick", 90)
    assert tick.postings == [Posting("expire", "e2", -300)] and s.member.total() == 0


def test_the_refund_window_and_a_rejected_event_changing_nothing():
    s = Script()
    s.send("purchase", 0, pence=100)
    assert s.send("refund", 90, order="e1", pence=50).why == "unknown order"  # 1 January + 3 months
    assert s.send("redeem", 61, points=1).why == "not enough points"
    assert s.member.lots["e1"].remaining == 150  # the rejected redeem did not expire anything
    assert s.send("tick", 61).postings == [Posting("expire", "e1", -150)]


def test_retries_are_duplicates_and_another_body_is_a_conflict():
    o = Oracle()
    assert o.apply("x", "m", "purchase", T0, ("a",), pence=100).outcome == "applied"
    assert o.apply("x", "m", "purchase", T0, ("a",), pence=100).outcome == "duplicate"
    assert o.apply("x", "m", "purchase", T0, ("b",), pence=101).why == "conflict"
    assert o.apply("y", "m", "purchase", T0, ("c",), valid=False).why == "out of bounds"
    assert o.apply("y", "m", "purchase", T0, ("c",), valid=False).outcome == "rejected"
    assert o.members["m"].total() == 150
