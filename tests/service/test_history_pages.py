"""A member's history pages by position, not by offset (as Stripe's ``starting_after``): every
store gives the decisions before an event; paging while new decisions arrive neither repeats
nor skips one (hypothesis, on the memory store, walking to the end), and the service's cursor
holds its place (SQLite) and refuses a cursor it did not give (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_server import live
from test_api import purchase

from punchcard.engine import Engine, compile_ruleset
from punchcard.engine.store import MemoryStore
from punchcard.plugins.sql.store import SqlStore

RULESET = "rulesets/coffee-club.yaml"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, store_urls):
    made = MemoryStore() if request.param == "memory" else SqlStore(store_urls.new(request.param))
    yield made
    made.close()


def _ids(decisions) -> list[str]:
    return [decision.event_id for decision in decisions]


def test_decisions_before_an_event_are_the_older_ones_newest_first(store):
    engine = Engine(compile_ruleset(RULESET), store)
    for day in range(1, 6):
        engine.process(purchase(f"o-{day}", day=day))
    engine.process(purchase("x-1", member="other"))
    assert _ids(store.decisions("masha", 2)) == ["o-5", "o-4"]
    assert _ids(store.decisions("masha", 2, before="o-4")) == ["o-3", "o-2"]
    assert _ids(store.decisions("masha", 10, before="o-2")) == ["o-1"]
    assert store.decisions("masha", 10, before="o-1") == []
    assert store.decisions("masha", 10, before="x-1") == []  # another member's event is no position here
    assert store.decisions("masha", 10, before="never-sent") == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pages=st.lists(st.tuples(st.integers(1, 4), st.integers(0, 3)), min_size=1, max_size=8))
def test_paging_while_decisions_arrive_never_repeats_or_skips(pages):
    """Each step reads a page of ``size``, then ``arrive`` new purchases come in: the pages
    read together are exactly the decisions that existed before paging began, in order."""
    store = MemoryStore()
    engine = Engine(compile_ruleset(RULESET), store)
    for n in range(12):
        engine.process(purchase(f"o-{n}", day=1 + n % 28))
    expected, seen, before, arrived = _ids(store.decisions("masha", 100)), [], None, 0
    for size, arrive in pages:
        page = store.decisions("masha", size, before=before)
        seen += _ids(page)
        before = page[-1].event_id if page else before
        for _ in range(arrive):
            engine.process(purchase(f"new-{arrived}", day=28))
            arrived += 1
    assert seen == expected[:len(seen)]
    while True:  # walk on to the end: every decision that was there before paging, once
        page = store.decisions("masha", 5, before=before)
        if not page:
            break
        seen += _ids(page)
        before = page[-1].event_id
    assert seen == expected


def test_the_service_cursor_holds_its_place_while_decisions_arrive(store_urls):
    with live(store_urls.new("sqlite")) as running, running.client() as http:
        for day in range(1, 6):
            http.post("/v1/events", json=purchase(f"o-{day}", day=day))
        first = http.get("/v1/members/masha/decisions", params={"limit": 2}).json()
        http.post("/v1/events", json=purchase("o-6", day=6))
        http.post("/v1/events", json=purchase("o-7", day=7))
        second = http.get("/v1/members/masha/decisions", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        third = http.get("/v1/members/masha/decisions", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    pages = [[d["event_id"] for d in page["decisions"]] for page in (first, second, third)]
    assert pages == [["o-5", "o-4"], ["o-3", "o-2"], ["o-1"]]
    assert third["next_cursor"] is None


def test_a_cursor_holds_the_longest_id_in_any_script(store_urls):
    longest = "ж" * 199 + "1"  # 200 characters, two bytes each
    with live(store_urls.new("sqlite")) as running, running.client() as http:
        http.post("/v1/events", json=purchase("o-0", day=1))
        http.post("/v1/events", json=purchase(longest, day=2))
        first = http.get("/v1/members/masha/decisions", params={"limit": 1}).json()
        rest = http.get("/v1/members/masha/decisions", params={"limit": 1, "cursor": first["next_cursor"]})
    assert [d["event_id"] for d in first["decisions"]] == [longest]
    assert rest.status_code == 200 and [d["event_id"] for d in rest.json()["decisions"]] == ["o-0"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_cursor_this_service_did_not_give_is_a_problem(store_urls, backend):
    def cursor(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    with live(store_urls.new(backend)) as running, running.client() as http:
        http.post("/v1/events", json=purchase("o-1", day=1))
        answers = {name: http.get("/v1/members/masha/decisions", params={"cursor": value}) for name, value in {
            "empty position": cursor("e:"), "unknown kind": cursor("x:o-1"), "not base64": "***",
            "negative offset": cursor("o:-1"), "too long": "A" * 2000, "a NUL in the id": cursor("e:a\x00b"),
            "an id longer than any event's": cursor("e:" + "x" * 201)}.items()}
        elsewhere = http.get("/v1/members/masha/decisions", params={"cursor": cursor("e:never-sent")})
    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 422)
    assert elsewhere.status_code == 200 and elsewhere.json()["decisions"] == []
