"""The ledger's entries must explain an event's state change exactly, lot by lot, before
anything is written (plugins/sql/postings.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchcard.engine.evaluate import new_member
from punchcard.engine.runtime.decision import Decision, Effect
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.state import Lot
from punchcard.plugins.sql.postings import LedgerMismatch, post

AT = dt.datetime(2026, 3, 2, 8, 15, tzinfo=dt.UTC)
EVENT = Event("e-9", "purchase", "masha", AT, {})


def _member(*amounts: int):
    state = new_member("masha")
    for index, amount in enumerate(amounts):
        state.add_lot(Lot(f"l-{index}", "earn", AT, Decimal(amount), Decimal(amount)))
    return state


def _decision(*effects: Effect) -> Decision:
    return Decision("e-9", "masha", "r@1", "applied", sum((e.points or 0 for e in effects), Decimal(0)), effects)


def _spent(state, index: int, points: int):
    lot = state.lots[index]
    state.put_lot(index, lot.with_(remaining=lot.remaining - points, spent=lot.spent + points))


@given(st.lists(st.integers(1, 500), min_size=1, max_size=8), st.data())
def test_a_redemption_from_one_lot_is_explained_and_the_untouched_lots_need_no_entry(amounts, data):
    before = _member(*amounts)
    index = data.draw(st.integers(0, len(amounts) - 1))
    points = data.draw(st.integers(1, amounts[index]))
    after = before.clone()
    _spent(after, index, points)
    postings = post(EVENT, _decision(Effect("redeem", Decimal(-points), f"l-{index}")), before, after)
    assert [(e["lot_id"], e["points"], e["balance_after"]) for e in postings.entries] == [
        (f"l-{index}", -points, sum(amounts) - points)]


def test_points_moved_between_lots_without_an_entry_are_refused_though_the_balance_holds():
    before = _member(10, 5)
    after = before.clone()
    _spent(after, 0, 2)
    lot = after.lots[1]
    after.put_lot(1, lot.with_(remaining=lot.remaining + 2, amount=lot.amount + 2))
    assert after.total() == before.total()
    with pytest.raises(LedgerMismatch, match="lot l-0 has 8 points left; entries explain 10"):
        post(EVENT, _decision(), before, after)


def test_an_entry_on_a_lot_the_member_does_not_have_is_refused():
    before = _member(10)
    after = before.clone()
    with pytest.raises(LedgerMismatch, match="an entry touches lot l-7, which the member does not have"):
        post(EVENT, _decision(Effect("redeem", Decimal(-1), "l-7"), Effect("adjust", Decimal(1), "l-7")), before, after)


def test_a_state_with_two_lots_of_one_id_is_refused():
    before = _member(10)
    after = before.clone()
    after.add_lot(Lot("l-0", "earn", AT, Decimal(3), Decimal(3)))
    with pytest.raises(LedgerMismatch, match="two lots with one id"):
        post(EVENT, _decision(Effect("earn", Decimal(3), "l-0")), before, after)
