"""The auditor's own arithmetic is exact at any size: a row moved by its smallest unit
is found, at figures near the documented maximum, on SQLite and PostgreSQL."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledger_scenarios import HERE
from sqlalchemy import select, update

import punchcard
from punchcard.engine import Engine
from punchcard.engine.runtime.numbers import MAX_AMOUNT, MAX_POINTS
from punchcard.plugins.sql.audit import SCALE, Unreadable, units, units_text
from punchcard.plugins.sql.models import LedgerEntry, LotRow, Member
from punchcard.plugins.sql.store import SqlStore

CENT = Decimal("0.01")  # the ruleset's rounding step: its smallest unit of points
TINY = Decimal("1e-13")  # finer than the step: 29 significant digits next to 10**15
WIDE = decimal.Context(prec=80)  # the test's own tampering must not round


def _events(member: str, day: int) -> list[dict]:
    """Near the maximum: the largest purchase, adjustments just under 10**15, a redemption."""
    biggest = str(MAX_AMOUNT - CENT)
    under = str(MAX_POINTS - CENT)
    at = lambda hour: f"2026-01-{day:02d}T{hour:02d}:00:00"  # noqa: E731
    return [
        {"type": "purchase", "id": f"{member}-p", "member": member, "time": at(8), "amount": biggest},
        {"type": "adjust", "id": f"{member}-a1", "member": member, "time": at(9), "points": under, "reason": "x"},
        {"type": "adjust", "id": f"{member}-a2", "member": member, "time": at(10), "points": under, "reason": "x"},
        {"type": "redeem", "id": f"{member}-r", "member": member, "time": at(11), "points": str(MAX_POINTS - 7)},
        {"type": "adjust", "id": f"{member}-a3", "member": member, "time": at(12), "points": "-0.01", "reason": "x"},
    ]


@pytest.fixture
def huge(sql_url):
    compiled = punchcard.compile(str(HERE / "rulesets" / "huge.yaml"))
    store = SqlStore(sql_url())
    decisions = Engine(compiled, store=store).process_many(_events("big", 1) + _events("bigger", 2))
    assert all(d.outcome == "applied" for d in decisions), [d.reason for d in decisions]
    assert store.member("big").total() > MAX_POINTS and store.audit().ok
    yield store
    store.close()


def _row(store, query):
    with store.read() as conn, conn.begin():
        return conn.execute(query).first()


def _tamper(store, statement) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(statement).rowcount == 1
        conn.commit()


def _checks(store) -> set[tuple[str, str]]:
    return {(d.subject.split(" (")[0], d.check) for d in store.audit().differences}


def _plus(value: Decimal, delta: Decimal) -> Decimal:
    return WIDE.add(value, delta)


@pytest.mark.parametrize("delta", [CENT, -CENT, TINY], ids=["plus-a-cent", "less-a-cent", "plus-1e-13"])
def test_a_member_balance_moved_by_one_unit_is_found(huge, delta):
    members = Member.__table__
    member = _row(huge, select(members).where(members.c.member_id == "big"))
    _tamper(huge, update(members).where(members.c.member_id == "big").values(balance=_plus(member.balance, delta)))
    checks = _checks(huge)
    assert ("member big", "balance == sum of ledger entries") in checks
    assert ("member big", "balance == live lots less negative balance") in checks


@pytest.mark.parametrize("delta", [CENT, TINY], ids=["a-cent", "1e-13"])
def test_an_entry_moved_by_one_unit_consistently_is_found(huge, delta):
    """The entry still satisfies points == lot_points - debt_points: only the sums and the
    running balance can tell, and only when they are exact at 30 significant digits."""
    entries = LedgerEntry.__table__
    entry = _row(huge, select(entries).where(entries.c.event_id == "big-a1"))
    _tamper(huge, update(entries).where(entries.c.id == entry.id)
            .values(points=_plus(entry.points, delta), lot_points=_plus(entry.lot_points, delta)))
    checks = _checks(huge)
    assert (f"entry {entry.id}", "balance_after == balance_before + points") in checks
    assert ("member big", "balance == sum of ledger entries") in checks
    assert (f"lot big/{entry.lot_id}", "remaining == sum of its entries") in checks


@pytest.mark.parametrize("delta", [CENT, TINY], ids=["a-cent", "1e-13"])
def test_a_lot_remainder_moved_by_one_unit_is_found(huge, delta):
    lots = LotRow.__table__
    lot = _row(huge, select(lots).where(lots.c.member_id == "bigger", lots.c.lot_id.like("bigger-a2%")))
    _tamper(huge, update(lots).where(lots.c.member_id == "bigger", lots.c.lot_id == lot.lot_id)
            .values(remaining=_plus(lot.remaining, delta)))
    checks = _checks(huge)
    subject = f"lot bigger/{lot.lot_id}"
    assert (subject, "remaining == sum of its entries") in checks
    assert (subject, "amount == remaining + spent + expired + clawed + repaid + voided") in checks
    assert ("member bigger", "balance == live lots less negative balance") in checks


def test_a_difference_is_shown_exactly(huge):
    members = Member.__table__
    member = _row(huge, select(members).where(members.c.member_id == "big"))
    _tamper(huge, update(members).where(members.c.member_id == "big").values(balance=_plus(member.balance, TINY)))
    found = next(d for d in huge.audit().differences if d.check == "balance == sum of ledger entries")
    assert Decimal(found.actual) - Decimal(found.expected) == TINY  # both exact texts, 30 digits each
    assert found.expected == format(member.balance.normalize(), "f")


@given(st.integers(min_value=-(10 ** 40), max_value=10 ** 40))
def test_units_round_trip_exactly(value):
    assert units(units_text(value)) == value


@given(st.decimals(allow_nan=False, allow_infinity=False, places=SCALE, min_value=-(10 ** 20), max_value=10 ** 20))
def test_units_agree_with_exact_decimal_text(number):
    assert units(format(number, "f")) == int(WIDE.multiply(number, Decimal(10) ** SCALE))


@pytest.mark.parametrize("text", ["1e3", " 5", "5_0", "١", "0.0000000000000000001", "", "-", "1."])
def test_text_that_is_not_plain_decimal_is_unreadable(text):
    with pytest.raises(Unreadable):
        units(text)
