"""Offers are kept exactly once in every store (memory, SQLite, PostgreSQL): the state field is
persisted with the member, a retried event changes nothing, and a reopened store reads back
the same offers."""

from __future__ import annotations

import json
from decimal import Decimal

from offers_support import purchase

from punchcard.engine import Engine, evaluate
from punchcard.plugins.sql.codec import decode, encode, encode_text

OFFER = "basket:o-1"
EVENTS = [
    purchase("o-1", "2026-03-02T12:00:00", "100", "tea"),  # selects basket (host) and tea-double
    {"type": "offer_presented", "id": "p-1", "member": "ann", "time": "2026-03-02T12:05:00", "offer": OFFER},
    {"type": "offer_activated", "id": "a-1", "member": "ann", "time": "2026-03-02T12:06:00", "offer": OFFER},
    purchase("o-2", "2026-03-02T13:00:00", "600", "tea"),  # basket pays 40
    {"type": "tick", "id": "t-1", "member": "ann", "time": "2026-03-06T00:00:00"},  # both expire
]


def _alone(small, events=EVENTS):
    state = None
    for event in events:
        _, state = evaluate(small, state, event)
    return state


def test_every_store_keeps_the_offers_once_and_retries_change_nothing(small, store_factory):
    store = store_factory()
    engine = Engine(small, store=store)
    first = [engine.process(event) for event in EVENTS]
    assert [d.outcome for d in first] == ["applied"] * len(EVENTS)
    assert first[3].points == Decimal(640)
    again = [engine.process(dict(event)) for event in EVENTS]  # a replay: every one a duplicate
    assert [d.outcome for d in again] == ["duplicate"] * len(EVENTS)
    stored = store.member("ann")
    expected = _alone(small)
    assert stored.offers == expected.offers
    record = stored.offers[OFFER]
    assert (record.status, record.uses, record.paid) == ("expired", 1, Decimal(40))
    assert record.presented_at == expected.offers[OFFER].presented_at
    assert record.presented_at.tzinfo is not None
    assert len(store.decisions("ann", limit=50)) == len(EVENTS)


def test_a_reopened_sql_store_reads_back_the_same_offers(small, store_urls):
    from punchcard.plugins.sql.store import SqlStore

    for backend in ("sqlite", "postgresql"):
        url = store_urls.new(backend)
        with_store = SqlStore(url)
        Engine(small, store=with_store).process(EVENTS[0])
        with_store.close()
        reopened = SqlStore(url)
        try:
            offers = reopened.member("ann").offers
            assert sorted(offers) == ["basket:o-1", "tea-double:o-1"]
            assert offers == _alone(small, EVENTS[:1]).offers
            assert Engine(small, store=reopened).process(EVENTS[0]).outcome == "duplicate"
            assert reopened.member("ann").offers == offers
        finally:
            reopened.close()


def test_an_offer_record_round_trips_through_the_codec_exactly(small):
    state = _alone(small)
    for record in state.offers.values():
        assert decode(encode(record)) == record
        assert decode(json.loads(encode_text(record))) == record
