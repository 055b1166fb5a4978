"""The hot path's pipeline of prepared statements (plugins/sql/wire.py) on a real
PostgreSQL: placeholders numbered, values as a psycopg cursor gives them, a failing
statement raised as psycopg's own error with the connection left usable, and prepared
statements that outlive rollbacks, or are prepared again when something drops them."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import resource
import weakref
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import make_url, text

from punchcard.engine import Engine
from punchcard.plugins.sql.connect import create_sql_engine
from punchcard.plugins.sql.store import SqlStore
from punchcard.plugins.sql.wire import Pipeline, numbered

_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@given(st.lists(_NAMES, min_size=1, max_size=6))
def test_each_name_has_one_number_in_order_of_first_use(names):
    sql, order = numbered(" + ".join(f"%({name})s" for name in names) + " %% 2")
    assert order == list(dict.fromkeys(names))
    expected = " + ".join(f"${order.index(name) + 1}" for name in names) + " % 2"
    assert sql == expected.encode()


def test_positional_placeholders_are_numbered_by_position():
    assert numbered("a = %s AND b = %s") == (b"a = $1 AND b = $2", [0, 1])


@pytest.fixture
def raw(store_urls):
    engine = create_sql_engine(store_urls.empty("postgresql"))
    with engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        driver.autocommit = True
        driver.execute("CREATE TEMPORARY TABLE t (id text PRIMARY KEY, n numeric, at timestamptz, doc jsonb)")
        yield driver
    engine.dispose()


@pytest.fixture
def info():
    """What the pool keeps for one connection: its session of prepared statements."""
    return {}


def test_values_come_back_as_a_psycopg_cursor_gives_them(raw, info):
    at = dt.datetime(2026, 3, 2, 8, 15, 0, 123456, tzinfo=dt.UTC)
    with Pipeline(raw, info) as pipe:
        pipe.send(b"INSERT INTO t VALUES ($1, $2, $3, $4)", ("a", Decimal("12.50"), at, '{"x": [1, "2"]}'))
        read = pipe.send(b"SELECT id, n, at, doc FROM t WHERE id = $1", ("a",))
    assert read.fetchall() == raw.execute("SELECT id, n, at, doc FROM t WHERE id = 'a'").fetchall()
    assert [column.name for column in read.description] == ["id", "n", "at", "doc"]


_TEXTS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
_INSTANTS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(8999, 12, 31),
                         timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5)),
                                                    dt.timezone(dt.timedelta(hours=5, minutes=30))]))
_DOCS = st.dictionaries(_TEXTS, st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), _TEXTS), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=_TEXTS.filter(str.strip), amount=st.decimals(allow_nan=False, allow_infinity=False, places=None,
                                                         min_value=-10**15, max_value=10**15),
       at=_INSTANTS, doc=_DOCS)
def test_any_value_makes_the_round_trip_a_cursor_makes(raw, info, key, amount, at, doc):
    raw.execute("DELETE FROM t")
    row = (key, amount, at, json.dumps(doc))
    with Pipeline(raw, info) as pipe:
        pipe.send(b"INSERT INTO t VALUES ($1, $2, $3, $4)", row)
        read = pipe.send(b"SELECT id, n, at, doc FROM t WHERE id = $1 AND n = $2", (key, amount))
    (got,) = read.fetchall()
    assert [got] == raw.execute("SELECT id, n, at, doc FROM t").fetchall()
    assert got == (key, amount, at, doc)


def test_a_failing_statement_raises_its_own_error_and_the_rest_is_not_run(raw, info):
    with pytest.raises(psycopg.errors.UniqueViolation), Pipeline(raw, info) as pipe:
        pipe.send(b"BEGIN", ())
        pipe.send(b"INSERT INTO t (id) VALUES ($1)", ("a",))
        pipe.send(b"INSERT INTO t (id) VALUES ($1)", ("a",))
        pipe.send(b"INSERT INTO t (id) VALUES ($1)", ("b",))
    raw.rollback()
    assert raw.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with Pipeline(raw, info) as pipe:  # the connection, and its prepared statements, still serve
        pipe.send(b"INSERT INTO t (id) VALUES ($1)", ("c",))
        counted = pipe.send(b"SELECT count(*) FROM t", ())
    assert counted.fetchone() == (1,)


def test_an_error_while_sending_leaves_the_connection_usable(raw, info):
    with pytest.raises(psycopg.ProgrammingError), Pipeline(raw, info) as pipe:  # a value psycopg cannot send
        pipe.send(b"INSERT INTO t (id) VALUES ($1)", ("a",))
        pipe.send(b"INSERT INTO t (id) VALUES ($1)", (object(),))
    assert not raw.closed
    assert raw.execute("SELECT id FROM t").fetchall() == [("a",)]


def test_an_interrupt_while_draining_is_not_lost_behind_the_error_that_began_it(raw, info, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), Pipeline(raw, info) as pipe:
        pipe.send(b"SELECT 1", ())
        monkeypatch.setattr(Pipeline, "_finish", interrupted)
        raise ValueError("a row could not be made")
    assert raw.closed  # a pipeline that was not drained is not used again


def _purchase(event_id: str) -> dict:
    return {"type": "purchase", "id": event_id, "member": "ann", "time": "2026-03-02T08:00:00", "amount": "10"}


def test_prepared_statements_outlive_a_rollback_and_come_back_when_dropped(store_urls, plain):
    store = SqlStore(store_urls.new("postgresql"))
    engine = Engine(plain, store=store)
    try:
        assert engine.process(_purchase("p-1")).outcome == "applied"
        with store.engine.connect() as conn:  # a read that ends in a rollback, on the same pooled connection
            conn.execute(text("SELECT 1"))
        assert engine.process(_purchase("p-2")).outcome == "applied"
        with store.engine.connect() as conn:  # a pooler's reset, say
            conn.exec_driver_sql("DEALLOCATE ALL")
            conn.commit()
        assert engine.process(_purchase("p-3")).outcome == "applied"
        assert store.member("ann").total() == Decimal(30)
        assert store.audit().ok
    finally:
        store.close()


def test_a_session_does_not_keep_its_connection_alive(store_urls):
    url = make_url(store_urls.empty("postgresql"))
    raw = psycopg.connect(host=url.query["host"], port=url.port or url.query.get("port"), user=url.username,
                          dbname=url.database, autocommit=True)
    info: dict = {}
    with Pipeline(raw, info) as pipe:
        pipe.send(b"SELECT 1", ())
    gone = weakref.ref(raw)
    del raw, pipe
    gc.collect()
    assert gone() is not None  # the pool's dictionary for it still holds it, as the pool does
    info.clear()
    gc.collect()
    assert gone() is None


def test_a_socket_past_descriptor_1024_is_waited_on(store_urls):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(max(0, 1100 - len(os.listdir("/proc/self/fd"))))]
    try:
        engine = create_sql_engine(store_urls.empty("postgresql"))
        with engine.connect() as conn:
            driver = conn.connection.dbapi_connection
            driver.autocommit = True
            assert driver.pgconn.socket >= 1024 or hard <= 1024  # past select()'s limit, where one can be
            with Pipeline(driver, {}) as pipe:
                answered = pipe.send(b"SELECT 1", ())
            assert answered.fetchone() == (1,)
        engine.dispose()
    finally:
        for fd in spare:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_statements_a_migration_has_outdated_are_prepared_again(store_urls, plain):
    store = SqlStore(store_urls.new("postgresql"))
    engine = Engine(plain, store=store)
    try:
        assert engine.process(_purchase("p-1")).outcome == "applied"
        with store.engine.begin() as conn:  # the member row's columns as the prepared read knew them change
            conn.execute(text("ALTER TABLE members ALTER COLUMN tier TYPE varchar(300)"))
        assert [engine.process(_purchase(f"p-{n}")).outcome for n in (2, 3)] == ["applied", "applied"]
        assert store.audit().ok
    finally:
        store.close()
