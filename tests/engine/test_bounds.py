"""Input is bounded and quantized: every number, time and id that is out of range gets a
decision that says what is wrong, and none of them mints points or raises.

The bounds are in docs/semantics.md ("Numbers and bounds"): amounts up to 10^12 in the
currency's minor unit, points up to 10^15 as a multiple of the rounding step, other
numbers up to 18 digits either side of the point, times from 1900 to 8999.
"""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal, InvalidOperation
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine, MemoryStore
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.runtime.calendar import add, month_end, year_end
from punchcard.engine.runtime.numbers import MAX_AMOUNT
from punchcard.engine.runtime.state import FAR_FUTURE


@cache
def program(currency: str = "USD", minor_unit: int | None = None, step: str = "1", rate: str = "1",
            timezone: str = "Pacific/Kiritimati", expiry: str = "{after: 36 months, round_to: month_end}"):
    override = "" if minor_unit is None else f"minor_unit: {minor_unit}\n"
    return compile_ruleset(f"""
punchcard: 1
ruleset: bounds
version: 1.0.0
timezone: {timezone}
currency: {currency}
{override}rounding: {{mode: floor, scope: event, step: {step}}}
schema:
  events:
    purchase: {{amount: money, category: string}}
    survey: {{score: number}}
earning:
  base: {{on: purchase, points: event.amount * {rate}}}
points:
  pending: 0 days
  expiry: {expiry}
  expiry_notice: 7 days
  refunds: {{clawback: proportional, negative_balance: allow}}
""")


TIME = "2026-03-02T08:15:00+00:00"


def purchase(amount, **changes) -> dict:
    return {"type": "purchase", "id": "p1", "member": "m1", "time": TIME, "amount": amount, "category": "food",
            **changes}


def engine(**kwargs) -> Engine:
    return Engine(program(**kwargs), MemoryStore())


@pytest.mark.parametrize("currency,places", [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3),
                                             ("KWD", 3), ("OMR", 3), ("JOD", 3), ("TND", 3), ("CLF", 4)])
def test_the_minor_unit_comes_from_the_currency(currency, places):
    assert program(currency).model.money_places == places
    accepted = engine(currency=currency).process(purchase("1." + "0" * (places - 1) + "1" if places else "1"))
    assert accepted.outcome == "applied", accepted.reason
    refused = engine(currency=currency).process(purchase("1." + "0" * places + "1"))
    assert refused.outcome == "rejected" and currency in refused.reason and "decimal place" in refused.reason


def test_minor_unit_overrides_the_currency():
    assert program("USD", minor_unit=0).model.money_places == 0
    refused = engine(currency="USD", minor_unit=0).process(purchase("10.5"))
    assert refused.outcome == "rejected" and "USD amounts have no decimals" in refused.reason
    assert engine(currency="USD", minor_unit=0).process(purchase("10.00")).outcome == "applied"


@pytest.mark.parametrize("amount,applied", [("1000000000000", True), ("1000000000000.00", True),
                                            ("1000000000000.01", False), (10 ** 12 + 1, False), ("1e13", False)])
def test_an_amount_above_the_maximum_is_refused(amount, applied):
    decision = engine().process(purchase(amount))
    assert (decision.outcome == "applied") is applied, decision.reason
    if not applied:
        assert "largest amount" in decision.reason and decision.points == 0


NASTY_AMOUNTS = {
    "1e309": "largest amount", "1e999999999": "largest amount", "-0": "-0", "5_0": "'_'", " 5 ": "spaces",
    "NaN": "finite", "Infinity": "finite", "-Infinity": "finite", "sNaN": "finite", "1e-30": "decimal places",
    "1" * 5000: "too long", "٥": "not a number", "0x10": "not a number", "": "not a number", "1,5": "not a number",
    "-5": "negative", "12.345": "decimal places",
}


@pytest.mark.parametrize("amount,why", sorted(NASTY_AMOUNTS.items()), ids=lambda v: repr(v)[:20])
def test_a_nasty_amount_text_says_what_is_wrong(amount, why):
    running = engine()
    decision = running.process(purchase(amount))
    assert decision.outcome == "rejected" and decision.points == 0
    assert decision.reason.startswith("amount ") and why in decision.reason, decision.reason
    assert len(decision.reason) < 200 and running.member("m1") is None


@pytest.mark.parametrize("amount,why", [(True, "true/false"), (10 ** 5000, "digits"), (float("inf"), "finite"),
                                        (float("nan"), "finite"), ([], "a list"), ({"a": 1}, "an object"),
                                        (b"5", "bytes"), (1e309, "finite")], ids=lambda v: type(v).__name__)
def test_a_nasty_amount_value_says_what_is_wrong(amount, why):
    running = engine()
    decision = running.process(purchase(amount))
    assert decision.outcome == "rejected" and why in decision.reason and len(decision.reason) < 200
    assert running.member("m1") is None


def test_an_event_that_would_earn_past_the_maximum_is_refused():
    running = engine(rate="10000")
    decision = running.process(purchase("1000000000"))  # 10^13 points: fine
    assert decision.outcome == "applied" and decision.points == Decimal(10) ** 13
    decision = running.process(purchase("1000000000000", id="p2"))  # 10^16 points
    assert decision.outcome == "rejected" and "more than the" in decision.reason
    assert running.member("m1").total() == Decimal(10) ** 13


def _funded(step: str = "1") -> Engine:
    running = engine(step=step)
    assert running.process(purchase("1000")).outcome == "applied"
    return running


@pytest.mark.parametrize("kind,points,step,why", [
    ("redeem", "1e-30", "1", "multiple of the ruleset's rounding step, 1"),
    ("redeem", "0.5", "1", "multiple"),
    ("redeem", "0.005", "0.01", "multiple of the ruleset's rounding step, 0.01"),
    ("redeem", "1e16", "1", "most points"),
    ("adjust", "-0", "1", "-0"),
    ("adjust", "1e-30", "1", "multiple"),
    ("adjust", 10 ** 15 + 1, "1", "most points"),
    ("adjust", "-1000000000000001", "1", "most points"),
    ("adjust", "1e999999999", "1", "most points"),
    ("redeem", "5_0", "1", "'_'"),
])
def test_points_given_in_an_event_are_bounded_and_quantized(kind, points, step, why):
    running = _funded(step)
    before = running.member("m1")
    extra = {"reason": "goodwill"} if kind == "adjust" else {}
    decision = running.process({"type": kind, "id": "x1", "member": "m1", "time": TIME, "points": points, **extra})
    assert decision.outcome == "rejected" and decision.reason.startswith("points ") and why in decision.reason
    assert running.member("m1") == before


def test_points_within_the_bounds_are_applied_exactly():
    running = _funded("0.01")
    adjust = {"type": "adjust", "id": "a1", "member": "m1", "time": TIME, "points": 10 ** 15, "reason": "migration"}
    assert running.process(adjust).outcome == "applied"
    redeem = {"type": "redeem", "id": "r1", "member": "m1", "time": TIME, "points": "0.01"}
    assert running.process(redeem).outcome == "applied"
    assert running.member("m1").total() == Decimal(10) ** 15 + Decimal("999.99")


def test_other_numbers_are_bounded():
    running = engine()
    for score, ok in (("123456789012345678.123456789012345678", True), ("1" * 19, False), ("1e-19", False),
                      ("0.0000000000000000001", False), (10 ** 18 - 1, True), (10 ** 18, False),
                      (-(10 ** 18) + 1, True)):
        decision = running.process({"type": "survey", "id": f"s{score!s:.30}", "member": "m1", "time": TIME,
                                    "score": score})
        assert (decision.outcome == "applied") is ok, (score, decision.reason)


def test_a_missing_time_says_it_is_missing():
    event = purchase("10")
    del event["time"]
    for raw in (event, {**event, "time": None}):
        decision = engine().process(raw)
        assert decision.outcome == "rejected" and "time is missing" in decision.reason
        assert "None" not in decision.reason


@pytest.mark.parametrize("value,expected", [(5, "not a number"), ([], "not a list"), (True, "not true/false"),
                                            ("yesterday", "'yesterday' is not")])
def test_a_wrong_time_says_what_was_expected(value, expected):
    decision = engine().process(purchase("10", time=value))
    assert decision.outcome == "rejected" and "ISO 8601" in decision.reason and expected in decision.reason


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00", "0001-01-01T00:00:00-05:00",
                                    "9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-12:00",
                                    "9999-12-31T23:59:59", "1899-12-31T23:59:59+00:00", "9000-01-02T00:00:00Z"])
@pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "Etc/GMT+12", "UTC"])
def test_a_time_outside_the_supported_range_is_refused(moment, timezone):
    running = Engine(program(timezone=timezone), MemoryStore())
    decision = running.process(purchase("10", time=moment))
    assert decision.outcome == "rejected" and "time is outside the supported range" in decision.reason


@pytest.mark.parametrize("expiry", ["{after: 36 months, round_to: month_end}", "{after: 100 years}",
                                    "{after: 1 year, round_to: year_end}", "{inactivity: 100 years}"])
def test_deadlines_past_the_calendar_end_never_raise(expiry):
    running = Engine(program(expiry=expiry), MemoryStore())
    first = running.process(purchase("10", time="8999-12-31T09:00:00+00:00"))  # 23:00 in the ruleset's zone
    assert first.outcome == "applied", first.reason
    lot = running.member("m1").lots[0]
    assert lot.expires_at is not None or "inactivity" in expiry
    second = running.process(purchase("10", id="p2", time="8999-12-31T09:30:00+00:00"))
    assert second.outcome == "applied" and running.member("m1").total() == 20


def test_calendar_arithmetic_stops_at_the_ends_of_the_calendar():
    utc = dt.UTC
    late = dt.datetime(9990, 6, 15, 12, tzinfo=utc)
    assert add(late, 20, "year", utc) == FAR_FUTURE
    assert add(late, 200, "month", utc) == FAR_FUTURE
    assert add(late, 10 ** 6, "day", utc) == FAR_FUTURE
    assert add(late, 10 ** 9, "hour", utc) == FAR_FUTURE
    assert add(dt.datetime(5, 1, 1, tzinfo=utc), -10, "year", utc) == dt.datetime.min.replace(tzinfo=utc)
    assert add(dt.date(9999, 12, 30), 5, "day") == dt.date.max
    assert month_end(dt.datetime(9999, 12, 15, tzinfo=utc), utc) == FAR_FUTURE
    assert year_end(dt.datetime(9999, 12, 15, tzinfo=utc), utc) == FAR_FUTURE


@pytest.mark.parametrize("key", ["id", "member"])
@pytest.mark.parametrize("value,why", [("a\x00b", "control character"), ("a\x1b[31mb", "control character"),
                                       ("a\nb", "control character"), ("a\ud800b", "not valid Unicode"),
                                       ("a\x7fb", "control character")], ids=repr)
def test_an_id_with_nul_or_control_characters_is_refused(key, value, why):
    running = engine()
    decision = running.process(purchase("10", **{key: value}))
    assert decision.outcome == "rejected" and f"{key} " in decision.reason and why in decision.reason
    assert "\x00" not in decision.reason and running.member("m1") is None


@pytest.mark.parametrize("value,why", [("caf\udce9", "not valid Unicode"), ("a\x00b", "NUL"),
                                       (b"caf\xe9", "not bytes")], ids=repr)
def test_text_fields_refuse_lone_surrogates_nul_and_bytes(value, why):
    decision = engine().process(purchase("10", category=value))
    assert decision.outcome == "rejected" and "category" in decision.reason and why in decision.reason


@pytest.mark.parametrize("value", [5, 10 ** 5000, [1], {"a": None}, None, True, 1.5], ids=lambda v: type(v).__name__)
def test_an_id_that_is_not_text_is_refused(value):
    decision = engine().process(purchase("10", id=value))
    assert decision.outcome == "rejected" and "id must be" in decision.reason and len(decision.reason) < 300


amount_texts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=0, max_value=MAX_AMOUNT * 2, places=4).map(str),
    st.from_regex(r"\A[ +\-_0-9.eE]{1,30}\Z"),
)


@settings(max_examples=300, deadline=None)
@given(text=amount_texts)
def test_an_amount_is_applied_exactly_when_it_is_in_bounds_and_in_whole_cents(text):
    running = engine()
    decision = running.process(purchase(text))
    try:
        number = Decimal(text)
        fits = text == text.strip() and "_" not in text and number.is_finite() and not (
            number.is_zero() and number.is_signed()) and 0 <= number <= MAX_AMOUNT and number == number.quantize(
            Decimal("0.01"), context=Context(prec=100))
    except (InvalidOperation, ValueError):
        fits = False
    assert (decision.outcome == "applied") is fits, (text, decision.reason)
    if fits:
        assert decision.points == number.to_integral_value(rounding="ROUND_FLOOR")
    else:
        assert decision.reason.startswith("amount ") and running.member("m1") is None


@given(st.decimals(min_value=-10 ** 18, max_value=10 ** 18, places=4), st.sampled_from(["1", "0.01", "0.5", "5"]))
def test_a_multiple_of_the_step_is_decided_exactly(value, step):
    from punchcard.engine.runtime.numbers import is_multiple

    assert is_multiple(value, Decimal(step)) == (Context(prec=60).remainder(value, Decimal(step)) == 0)


@pytest.mark.parametrize("points,outcome", [("0E-999999999", "applied"), ("0E+999999999", "applied"),
                                            ("-0E-99999999", "rejected")])
def test_zero_points_written_with_any_exponent_are_decided_at_once(points, outcome):
    """A twelve-character zero must not make the engine build a power of ten with a billion digits."""
    engine = Engine(program(step="0.01"))
    decision = engine.process({"type": "adjust", "id": "a-1", "member": "m", "time": "2026-03-02T10:00:00",
                               "points": points, "reason": "x"})
    assert (decision.outcome, decision.points) == (outcome, 0)
