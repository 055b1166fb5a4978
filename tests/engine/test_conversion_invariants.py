"""Conversion to vouchers (docs/conversion.md): the invariants, under generated histories.

At each conversion the points converted are whole blocks and the remainder, smaller than a
block, is kept; the voucher is worth exactly the blocks times the block's value; points and
vouchers together keep their value at the block's rate; a voucher is redeemed at most once
and never once expired; and the vouchers do not depend on when housekeeping happened to run.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import evaluate
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.decision import Outcome

TZ = ZoneInfo("Europe/London")
START = dt.datetime(2026, 1, 1, tzinfo=TZ)


def _ruleset(block: str, value: str, expires: str = "12 months", pending: str = "0 days") -> str:
    return f"""punchcard: 1
ruleset: conversion-props
version: 1.0.0
timezone: Europe/London
currency: GBP
point_value: 0.01
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  events:
    purchase: {{amount: money}}
earning:
  base: {{on: purchase, points: event.amount}}
points:
  pending: {pending}
conversion:
  months: [2, 5, 8, 11]
  block: {block}
  value: {value}
  expires: {expires}
"""


TERMS = [("150", "1.50"), ("7", "0.03"), ("1", "0.01"), ("500", "5.00")]
COMPILED = {terms: compile_ruleset(_ruleset(*terms)) for terms in TERMS}
PENDING = compile_ruleset(_ruleset("150", "1.50", pending="10 days"))

purchases = st.lists(st.tuples(st.integers(0, 700 * 24), st.integers(0, 900)), min_size=1, max_size=25)
redeems = st.lists(st.tuples(st.integers(0, 800 * 24), st.integers(0, 10)), max_size=12)


def _events(bought: list[tuple[int, int]]) -> list[dict]:
    return [{"type": "purchase", "id": f"p-{i}", "member": "m", "time": (START + dt.timedelta(hours=h)).isoformat(),
             "amount": str(amount)} for i, (h, amount) in enumerate(sorted(bought))]


def _run(compiled, events: list[dict]) -> tuple[list, object]:
    state, decisions = None, []
    for event in events:
        decision, state = evaluate(compiled, state, event)
        decisions.append(decision)
    return decisions, state


def _tick(event_id: str, moment: dt.datetime) -> dict:
    return {"type": "tick", "id": event_id, "member": "m", "time": moment.isoformat()}


@settings(max_examples=60, deadline=None)
@given(purchases, st.sampled_from(TERMS))
def test_a_conversion_takes_whole_blocks_and_keeps_the_remainder(bought, terms):
    compiled, block, value = COMPILED[terms], Decimal(terms[0]), Decimal(terms[1])
    decisions, _ = _run(compiled, [*_events(bought), _tick("end", START + dt.timedelta(days=800))])
    issued = 0
    for decision in decisions:
        for effect in decision.effects:
            if effect.kind != "voucher_issued":
                continue
            issued += 1
            detail = effect.detail
            taken = -sum(e.points for e in decision.effects
                         if e.kind == "converted" and e.detail["voucher"] == detail["voucher"])
            assert taken == detail["points"] == detail["blocks"] * block
            assert 0 <= detail["kept"] < block
            assert detail["value"] == detail["blocks"] * value  # exact money, nothing rounded away
    total = sum(amount for _, amount in bought)
    assert issued or total < block


@settings(max_examples=60, deadline=None)
@given(purchases, st.sampled_from(TERMS), st.booleans())
def test_points_and_vouchers_keep_their_value_across_a_conversion(bought, terms, pending):
    """Just before and at each period end: the points that left are worth, at the block's
    rate, exactly the money of the voucher issued (points held pending are not converted)."""
    terms = ("150", "1.50") if pending else terms
    compiled, block, value = PENDING if pending else COMPILED[terms], Decimal(terms[0]), Decimal(terms[1])
    events = _events(bought)
    for year in (2026, 2027):
        for month in (3, 6, 9, 12):
            end = dt.datetime(year, month, 1, tzinfo=TZ)
            events += [_tick(f"before-{end:%Y-%m}", end - dt.timedelta(microseconds=1)), _tick(f"at-{end:%Y-%m}", end)]
    events.sort(key=lambda e: (e["time"], e["id"]))
    state = None
    for event in events:
        before = state.total() if state is not None else Decimal(0)
        money_before = sum((v.value for v in state.vouchers), Decimal(0)) if state is not None else Decimal(0)
        _, state = evaluate(compiled, state, event)
        if event["type"] != "tick":
            continue
        money = sum((v.value for v in state.vouchers), Decimal(0)) - money_before
        assert (before - state.total()) * value == money * block


@settings(max_examples=60, deadline=None)
@given(purchases, redeems)
def test_a_voucher_is_redeemed_at_most_once_and_never_once_expired(bought, tries):
    compiled = COMPILED[("150", "1.50")]
    events = _events(bought)
    months = [f"{y}-{m:02d}" for y in (2026, 2027) for m in (2, 5, 8, 11)]
    events += [{"type": "redeem_voucher", "id": f"r-{i}", "member": "m",
                "time": (START + dt.timedelta(hours=h)).isoformat(), "voucher": f"m:{months[pick % len(months)]}"}
               for i, (h, pick) in enumerate(tries)]
    events.sort(key=lambda e: (e["time"], e["id"]))
    decisions, state = _run(compiled, events)
    redeemed: dict[str, int] = {}
    for event, decision in zip(events, decisions, strict=True):
        if event["type"] != "redeem_voucher" or decision.outcome != Outcome.APPLIED:
            continue
        redeemed[event["voucher"]] = redeemed.get(event["voucher"], 0) + 1
        voucher = next(v for v in state.vouchers if v.id == event["voucher"])
        assert decision.time < voucher.expires_at and decision.time >= voucher.issued_at
    assert all(count == 1 for count in redeemed.values())
    assert {v.id for v in state.vouchers if v.status == "redeemed"} == set(redeemed)


@settings(max_examples=40, deadline=None)
@given(purchases, st.sampled_from(TERMS), st.booleans())
def test_vouchers_do_not_depend_on_when_housekeeping_ran(bought, terms, pending):
    """A tick at every period end, or none until a year later: the same vouchers, with the same
    ids, points and values; and a replay of the same events gives them again."""
    compiled = PENDING if pending else COMPILED[terms]
    late = START + dt.timedelta(days=900)
    ticks = [_tick(f"t-{y}-{m}", dt.datetime(y, m, 1, tzinfo=TZ)) for y in (2026, 2027, 2028) for m in (3, 6, 9, 12)]
    ticks = [t for t in ticks if t["time"] < late.isoformat()]
    events = _events(bought)
    eager = sorted([*events, *ticks], key=lambda e: (e["time"], e["id"]))
    _, lazy_state = _run(compiled, [*events, _tick("late", late)])
    _, eager_state = _run(compiled, [*eager, _tick("late", late)])
    _, again = _run(compiled, [*events, _tick("late", late)])
    assert eager_state.vouchers == lazy_state.vouchers == again.vouchers
    assert eager_state.total() == lazy_state.total()
