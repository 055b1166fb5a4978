"""Exact values in and out: points are never floats, datetimes keep their zone."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, Table, create_engine, insert, select, text

from punchcard.engine import Engine
from punchcard.engine.runtime.decision import Decision, Effect, Step, TierView
from punchcard.engine.runtime.state import Allocation, CapUsage, OrderRecord, Redemption
from punchcard.plugins.sql.codec import decision_from_json, decode, decode_text, encode, encode_text
from punchcard.plugins.sql.jsontext import decision_text, dumps
from punchcard.plugins.sql.types import Instant, Money

NEW_YORK = ZoneInfo("America/New_York")


_VALUES = [
    Decimal("0.1"), Decimal("-12.3400"), Decimal("1E+3"), 7, "$d", None, True, 0.1,
    dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK), dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    (1, ("a", Decimal("2"))), frozenset({"b", "a"}), [1, [2]], {1: Decimal("1"), 2: Decimal("2")}, {"$d": "not a tag"},
    OrderRecord("o-1", "purchase", dt.datetime(2026, 3, 2, tzinfo=NEW_YORK), (("amount", Decimal("150")),),
                Decimal("150"), Decimal("300")),
    Redemption("r-1", dt.datetime(2026, 3, 2, tzinfo=NEW_YORK), Decimal("5"), (Allocation("o-1", Decimal("5")),)),
    {"cap:0": CapUsage(739677, Decimal("300"), 1)},
]


@pytest.mark.parametrize("value", _VALUES)
def test_values_survive_a_json_round_trip_exactly(value):
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value and type(back) is type(value)
    if isinstance(value, dt.datetime):
        assert back.tzinfo == value.tzinfo and back.isoformat() == value.isoformat()


@pytest.mark.parametrize("value", [*_VALUES, {"é\n": [None, False, 10 ** 30]}, [[("a", Decimal("1"))]]])
def test_documents_are_compact_json_in_one_spelling(value):
    assert encode_text(value) == dumps(json.loads(encode_text(value)))
    assert encode_text(value) == encode_text(decode(json.loads(encode_text(value))))


_KEYS = st.text(max_size=4)
_LEAVES = (st.none() | st.booleans() | st.integers() | _KEYS
           | st.decimals(allow_nan=False, allow_infinity=False, places=4)
           | st.datetimes(timezones=st.sampled_from([dt.UTC, NEW_YORK]), allow_imaginary=False))
_DOCUMENTS = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                          | st.frozensets(_KEYS | st.integers(), max_size=3)
                          | st.dictionaries(_KEYS, inner, max_size=3)
                          | st.dictionaries(st.integers(), inner, max_size=2),
                          max_leaves=12)


@given(_DOCUMENTS)
def test_any_document_comes_back_equal_and_of_the_same_types(value):
    back = decode(encode(value))
    assert back == value and _types(back) == _types(value)


@given(_DOCUMENTS | st.sampled_from(_VALUES), st.booleans())
def test_a_document_decoded_as_it_is_parsed_equals_one_decoded_after(value, reorder):
    """How the store reads documents (decode_text) and how a parsed one is read (decode)
    agree, also with each object's members in another order, as PostgreSQL's jsonb keeps them."""
    text = encode_text(value)
    if reorder:
        text = json.dumps(_reversed(json.loads(text)))
    back = decode_text(text)
    assert back == value and _types(back) == _types(decode(json.loads(text)))
    if not reorder:
        assert _types(back) == _types(value)


def _reversed(doc):
    if isinstance(doc, dict):
        return {k: _reversed(v) for k, v in reversed(doc.items())}
    return [_reversed(v) for v in doc] if isinstance(doc, list) else doc


def test_fields_a_newer_version_wrote_are_left_out():
    record = OrderRecord("o-1", "purchase", dt.datetime(2026, 3, 2, tzinfo=NEW_YORK), (), Decimal("1"), Decimal("2"))
    doc = json.loads(encode_text(record))
    doc["v"]["added_later"] = {"$d": "1"}
    assert decode_text(json.dumps(doc)) == record == decode(doc)


def test_a_field_holding_a_class_a_newer_version_added_is_left_out(tmp_path):
    """Rolled back below the version that added a field of a new kind, members still load."""
    from sqlalchemy import update

    from punchcard.engine import compile_ruleset
    from punchcard.plugins.sql.models import LotRow, Member
    from punchcard.plugins.sql.store import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'points.db'}")
    engine = Engine(compile_ruleset("rulesets/coffee-club.yaml"), store=store)
    event = {"id": "e1", "member": "m1", "type": "purchase", "time": "2026-03-02T09:00:00", "amount": "150",
             "category": "coffee"}
    engine.process(event)
    before = store.member("m1")
    newer = {"$tuple": [{"$dc": "Coupon", "v": {"id": "c1", "kept": {"$dc": "Gift", "v": {}}}}]}
    with store.engine.begin() as conn:
        state = json.loads(conn.execute(select(text("CAST(state AS TEXT)")).select_from(Member.__table__)).scalar())
        conn.execute(update(Member.__table__).values(state={**state, "coupons": newer}))
        conn.execute(update(LotRow.__table__).values(extra={"coupons": newer}))
    assert SqlStore(store.engine.url.render_as_string(hide_password=False)).member("m1") == before



@pytest.fixture(params=["sqlite", "postgresql"])
def tagged_table(request, store_urls):
    """A table with one codec document column, on each backend (PostgreSQL: ``jsonb``,
    which keeps an object's members in an order of its own)."""
    from sqlalchemy import Integer

    from punchcard.plugins.sql.connect import create_sql_engine
    from punchcard.plugins.sql.types import Tagged

    table = Table("tagged_docs", MetaData(), Column("id", Integer, primary_key=True), Column("doc", Tagged))
    engine = create_sql_engine(store_urls.empty(request.param))
    table.create(engine)
    yield engine, table
    engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_DOCUMENTS | st.sampled_from(_VALUES))
@example(value=2 ** 63)
@example(value=-(10 ** 30))
def test_a_stored_document_is_read_back_as_the_values_it_was_written_from(tagged_table, value):
    """A stored document is an object (a state, a record, a lot's fields) or an array (history
    values): never a bare number, which SQLite's NUMERIC affinity would store as a float."""
    engine, table = tagged_table
    for document in ({"value": value}, [value]):
        with engine.begin() as conn:
            conn.execute(table.delete())
            conn.execute(insert(table).values(id=1, doc=encode_text(document)))
            back = conn.execute(select(table.c.doc)).scalar_one()
        assert back == document and _types(_in_key_order(back)) == _types(_in_key_order(document))


def _in_key_order(value):
    """Mappings with their keys sorted, all the way down (jsonb orders an object's members)."""
    if isinstance(value, dict):
        return {k: _in_key_order(v) for k, v in sorted(value.items(), key=lambda item: repr(item[0]))}
    if isinstance(value, (list, tuple)):
        return type(value)(_in_key_order(item) for item in value)
    return value

def _types(value):
    """The types all the way down, with a datetime's zone."""
    if isinstance(value, dt.datetime):
        return (dt.datetime, value.tzinfo, value.isoformat())
    if isinstance(value, dict):
        return (dict, [(_types(k), _types(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value), [_types(item) for item in value])
    if isinstance(value, frozenset):
        return (frozenset, sorted(map(repr, map(_types, value))))
    return type(value)


def test_dst_arithmetic_is_the_same_after_a_round_trip():
    before_dst = dt.datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)
    back = decode(json.loads(json.dumps(encode(before_dst))))
    assert (back + dt.timedelta(days=1)).isoformat() == (before_dst + dt.timedelta(days=1)).isoformat()


def test_unknown_types_are_refused():
    with pytest.raises(TypeError, match="cannot store a object"):
        encode(object())


def _table(url: str):
    metadata = MetaData()
    table = Table("t", metadata, Column("points", Money), Column("at", Instant))
    engine = create_engine(url)
    metadata.create_all(engine)
    return engine, table


def test_sqlite_keeps_points_as_exact_text(tmp_path):
    engine, table = _table(f"sqlite:///{tmp_path / 't.db'}")
    with engine.begin() as conn:
        conn.execute(insert(table), [{"points": Decimal("0.1")}, {"points": Decimal("1.10")}])
        assert conn.execute(select(table.c.points)).scalars().all() == [Decimal("0.1"), Decimal("1.10")]
        assert conn.execute(text("SELECT typeof(points) FROM t")).scalars().all() == ["text", "text"]


@pytest.mark.parametrize("bad", [0.1, 1])
def test_points_must_be_decimal(tmp_path, bad):
    engine, table = _table(f"sqlite:///{tmp_path / 't.db'}")
    with pytest.raises(Exception, match="points must be Decimal"), engine.begin() as conn:
        conn.execute(insert(table), [{"points": bad}])


def test_instants_in_the_repeated_hour_keep_their_own_utc_text():
    from punchcard.plugins.sql.types import instant_text

    first = dt.datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)  # EDT
    second = first.replace(fold=1)  # the same wall time an hour later, EST: equal to first in Python
    assert first == second
    assert [instant_text(first), instant_text(second), instant_text(first)] == [
        "2026-11-01T05:30:00.000000+00:00", "2026-11-01T06:30:00.000000+00:00", "2026-11-01T05:30:00.000000+00:00"]
    assert instant_text(second.astimezone(dt.UTC)) == "2026-11-01T06:30:00.000000+00:00"


def test_naive_datetimes_are_refused(tmp_path):
    engine, table = _table(f"sqlite:///{tmp_path / 't.db'}")
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(table), [{"at": dt.datetime(2026, 1, 1)}])


def test_a_stored_decision_reads_back_identically(everything):
    from ledger_scenarios import mixed_events

    engine = Engine(everything)
    for event in mixed_events(seed=2, count=120):
        decision = engine.process(event)
        stored = json.loads(json.dumps(decision.to_dict()))
        back = decision_from_json(stored)
        assert back.to_dict() == decision.to_dict()
        assert (back.points, back.balance, back.time) == (decision.points, decision.balance, decision.time)


def _as_json(decision) -> str:
    return json.dumps(decision.to_dict(), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def test_a_decision_is_stored_as_exactly_the_text_of_its_json(everything):
    from ledger_scenarios import mixed_events

    engine = Engine(everything)
    for event in mixed_events(seed=5, count=200):
        decision = engine.process(event)
        assert decision_text(decision) == _as_json(decision)


def test_decision_text_writes_odd_values_as_to_dict_does():
    moment = dt.datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)
    decision = Decision(
        "é-1", "m", "r@1", "applied", Decimal("1.500"), (
            Effect("earn", Decimal("0E-2"), "l-1", {"at": moment, "day": dt.date(2026, 3, 8), "tags": {"b", "a"},
                                                   "nested": [(Decimal("2.0"), None, True)], "kind": "overridden"}),
            Effect("badge", None, None, {})),
        Decimal("-3"), Decimal(0), TierView("gold", Decimal("12.50"), None, Decimal("1"), None),
        (Step("caps", "cap:total/day", True, "ñote \"quoted\"", {"x": frozenset({3, 1})}, Decimal("5"), Decimal(0)),
         Step("input", "event", None, "", {}, None, None)),
        "why\nnot", "purchase", moment)
    assert decision_text(decision) == _as_json(decision)
    assert decision_from_json(json.loads(decision_text(decision))).to_dict() == decision.to_dict()


_DETAIL_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.datetimes(timezones=st.just(NEW_YORK)), st.dates(), st.times(),
    st.frozensets(st.integers(0, 9), max_size=3), st.sets(st.text(max_size=2), max_size=3))
_DETAILS = st.recursive(_DETAIL_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8)


@given(st.dictionaries(st.text(max_size=4), _DETAILS, max_size=4), _DETAILS)
def test_decision_text_is_the_json_of_to_dict_whatever_an_effect_or_step_holds(detail, value):
    """The stored text converts values as it writes them; ``to_dict`` converts them first."""
    decision = Decision("e-1", "m", "r@1", "applied", Decimal("2.50"), (Effect("earn", Decimal(1), "l", detail),),
                        trace=(Step("earning", "r", True, "", {"v": value}, Decimal(0), Decimal("2.5")),))
    assert decision_text(decision) == _as_json(decision)


def test_decision_text_refuses_what_to_dict_cannot_show():
    decision = Decision("e-1", "m", "r@1", "applied", effects=(Effect("earn", Decimal(1), "l", {"x": object()}),))
    with pytest.raises(TypeError):
        _as_json(decision)
    with pytest.raises(TypeError, match="object"):
        decision_text(decision)


def test_every_field_of_member_state_has_a_place_in_the_tables():
    """Lots and members keep unknown fields in their extra documents; streaks, tier
    state and history items have a column per field, so a new field must get one."""
    import dataclasses

    from punchcard.engine.runtime.state import HistoryItem, StreakState, TierState

    def names(cls):
        return {f.name for f in dataclasses.fields(cls)}

    assert names(StreakState) == {"length", "last_period", "freezes_left", "paid", "best"}
    assert names(TierState) == {"level", "metric", "reached", "closed"}
    assert names(HistoryItem) == {"time", "type", "values"}


def test_the_state_document_leaves_out_only_fields_at_their_default():
    """None and empty containers of the default's own type are left out and filled in again
    on loading; anything else is kept, so a zero written 0.00 stays 0.00."""
    from punchcard.engine.runtime.state import MemberState
    from punchcard.plugins.sql.rows import STATE_DOC, _extras, _state_document

    joined = dt.datetime(2026, 3, 2, tzinfo=NEW_YORK)
    state = MemberState("masha", joined=joined, clock=joined, badges=frozenset({"early"}),
                        totals={"issued": Decimal("0.00")}, due=joined, caps={})
    document = _state_document(state)
    assert document == {"badges": {"early"}, "totals": {"issued": Decimal("0.00")}, "due": joined}
    loaded = MemberState("masha", joined=joined, clock=joined,
                         **_extras(decode_text(encode_text(document)), set(STATE_DOC)))
    assert loaded == state and all(getattr(loaded, name) == getattr(state, name) for name in STATE_DOC)
    assert str(loaded.totals["issued"]) == "0.00"
    assert loaded.due.tzinfo == NEW_YORK
    assert _state_document(MemberState("masha")) == {}


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
@given(points=st.decimals(allow_nan=False, allow_infinity=False) | st.none(),
       moment=st.datetimes(timezones=st.sampled_from([NEW_YORK, dt.UTC])) | st.none())
def test_direct_binders_convert_as_the_column_types_do(dialect_name, points, moment):
    """The writes that skip SQLAlchemy's per-row machinery bind each value as its type would."""
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    from punchcard.plugins.sql.types import BINDS

    dialect = {"sqlite": SQLiteDialect_pysqlite(), "postgresql": PGDialect_psycopg()}[dialect_name]
    for column_type, value in ((Money(), points), (Instant(), moment)):
        direct, through_type = BINDS[dialect_name][type(column_type)], column_type.dialect_impl(dialect)
        expected = through_type.bind_processor(dialect)(value)
        assert direct(value) == expected and type(direct(value)) is type(expected)


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
@pytest.mark.parametrize(("column_type", "bad"), [(Money(), 0.1), (Money(), 3), (Instant(), dt.datetime(2026, 3, 8))])
def test_direct_binders_refuse_what_the_column_types_refuse(dialect_name, column_type, bad):
    from punchcard.plugins.sql.types import BINDS

    with pytest.raises((TypeError, ValueError)):
        BINDS[dialect_name][type(column_type)](bad)
