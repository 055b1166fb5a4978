"""The service's endpoints on a real server: decisions exactly once by id, batches, dry
events that write nothing, the wallet, paginated history, problem documents for every
error, and a store outage answered 503 with Retry-After, its retry applied once."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

import pytest
from live_server import live

from punchcard.engine.store import MemoryStore, StoreError

PROBLEM = "application/problem+json"
AFTER_MARCH = "2026-04-01T00:00:00"  # a wallet seen after the purchases below, whatever the day the tests run


def purchase(event_id: str, member: str = "masha", amount: str = "150", day: int = 2) -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": f"2026-03-{day:02d}T08:15:00",
            "amount": amount, "category": "coffee"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"https://punchcard.dev/problems/{code}" and body["status"] == status
    assert body["instance"] == f"urn:uuid:{response.headers['x-request-id']}"
    assert body["title"] and body["detail"]
    return body


@pytest.fixture(params=["memory", "sqlite"])
def server(request, store_urls):
    store = MemoryStore() if request.param == "memory" else store_urls.new("sqlite")
    with live(store) as running:
        yield running


def test_an_event_is_applied_once_by_its_id(server):
    with server.client() as http:
        first = http.post("/v1/events", json=purchase("o-1"))
        again = http.post("/v1/events", json=purchase("o-1"), headers={"Idempotency-Key": "o-1"})
        other = http.post("/v1/events", json=purchase("o-1", amount="999"))
        wallet = http.get("/v1/members/masha", params={"at": AFTER_MARCH}).json()
    assert first.status_code == 200 and first.json()["outcome"] == "applied"
    assert first.json()["ruleset"] == "coffee-club@2.1.0" and first.json()["trace"] == []
    assert again.json()["outcome"] == "duplicate" and again.headers["idempotent-replayed"] == "true"
    assert again.json()["points"] == first.json()["points"]
    assert_problem(other, 409, "idempotency-conflict")
    assert wallet["balance"] == first.json()["balance"] == first.json()["points"]


def test_the_idempotency_key_must_be_the_event_id_and_a_mismatch_changes_nothing(server):
    with server.client() as http:
        refused = http.post("/v1/events", json=purchase("o-1"), headers={"Idempotency-Key": "o-2"})
        member = http.get("/v1/members/masha")
    assert_problem(refused, 422, "idempotency-key-mismatch")
    assert_problem(member, 404, "member-not-found")


def test_figures_are_exact_and_the_trace_comes_on_request(server):
    with server.client() as http:
        decided = http.post("/v1/events?trace=true", content=b'{"type": "purchase", "id": "o-1", "member": "m",'
                            b' "time": "2026-03-02T08:15:00", "amount": 0.1, "category": "coffee"}',
                            headers={"content-type": "application/json"}).json()
    assert decided["trace"] and all(isinstance(decided[k], str) for k in ("points", "balance", "pending"))
    assert Decimal(decided["points"]) == Decimal(decided["balance"])


@pytest.mark.parametrize("body, code", [
    (b"not json", "invalid-request"),
    (b'{"type": "purchase", "id": "o-1"}', "invalid-event"),
    (b'{"type": "teleport", "id": "o-1", "member": "m", "time": "2026-03-02T08:15:00"}', "invalid-event"),
    (b'[1, 2]', "invalid-event"),
    (b'{"type": "purchase", "id": "o-1", "member": "m", "time": "yesterday", "amount": "1"}', "invalid-event"),
    (b'{"a": NaN}', "invalid-request"),
])
def test_bad_input_is_a_problem_document_and_changes_nothing(server, body, code):
    with server.client() as http:
        answered = http.post("/v1/events", content=body, headers={"content-type": "application/json"})
        history = http.get("/v1/members/m/decisions").json()
    assert_problem(answered, 422, code)
    assert history["decisions"] == []


def test_errors_outside_the_api_are_problem_documents_too(server):
    with server.client() as http:
        assert_problem(http.get("/v2/nothing"), 404, "not-found")
        assert_problem(http.delete("/v1/events"), 405, "method-not-allowed")
        assert_problem(http.post("/v1/events", content=b"x" * 300_000, headers={"content-type": "application/json"}),
                       413, "payload-too-large")
        assert_problem(http.post("/v1/events", content=b"a=1", headers={"content-type": "text/plain"}),
                       415, "unsupported-media-type")
        body = assert_problem(http.get("/v1/members/m/decisions?limit=0"), 422, "invalid-request")
    assert body["errors"][0]["location"] == "query.limit" and "input" not in body["errors"][0]


def test_a_batch_decides_each_event_on_its_own(server):
    events = [purchase("o-1"), {"type": "purchase"}, purchase("o-1"), purchase("o-2", amount="50")]
    with server.client() as http:
        results = http.post("/v1/events/batch", json={"events": events}).json()["results"]
        too_many = http.post("/v1/events/batch", json={"events": [purchase(f"x-{i}") for i in range(101)]})
    assert [r["status"] for r in results] == [200, 422, 200, 200]
    assert [r["decision"]["outcome"] for r in results if r["decision"]] == ["applied", "duplicate", "applied"]
    assert results[1]["problem"]["type"].endswith("/invalid-event")
    assert_problem(too_many, 422, "invalid-request")


def test_a_dry_event_says_what_it_would_do_and_writes_nothing(server):
    with server.client() as http:
        http.post("/v1/events", json=purchase("o-1"))
        before = http.get("/v1/members/masha", params={"at": "2026-03-04T00:00:00"}).json()
        preview = http.post("/v1/events/dry", json=purchase("o-2", day=3)).json()
        redeem = http.post("/v1/events/dry", json={"type": "redeem", "id": "r-1", "member": "masha",
                                                   "time": "2026-03-03T09:00:00", "points": "100"}).json()
        after = http.get("/v1/members/masha", params={"at": "2026-03-04T00:00:00"}).json()
        history = http.get("/v1/members/masha/decisions").json()["decisions"]
        stranger = http.post("/v1/events/dry", json=purchase("o-9", member="nobody")).json()
        unseen = http.get("/v1/members/nobody")
    assert preview["decision"]["outcome"] == "applied" and Decimal(preview["decision"]["points"]) > 0
    assert preview["redeemable_now"] == before["balance"]
    assert Decimal(preview["redeemable_after"]) == Decimal(before["balance"]) + Decimal(preview["decision"]["points"])
    assert redeem["decision"]["outcome"] == "applied"
    assert Decimal(redeem["redeemable_after"]) == Decimal(before["balance"]) - 100
    assert after == before and [d["event_id"] for d in history] == ["o-1"]
    assert stranger["redeemable_now"] == "0" and unseen.status_code == 404


def test_a_dry_event_with_a_seen_id_answers_as_the_real_request(server):
    with server.client() as http:
        applied = http.post("/v1/events", json=purchase("o-1")).json()
        again = http.post("/v1/events/dry", json=purchase("o-1")).json()
        other = http.post("/v1/events/dry", json=purchase("o-1", amount="999"))
        history = http.get("/v1/members/masha/decisions").json()["decisions"]
    assert again["decision"]["outcome"] == "duplicate" and again["decision"]["points"] == applied["points"]
    assert again["redeemable_after"] == again["redeemable_now"] == applied["balance"]
    assert_problem(other, 409, "idempotency-conflict")
    assert [d["event_id"] for d in history] == ["o-1"]


def test_the_wallet_shows_lots_with_expiry_and_the_history_pages(server):
    with server.client() as http:
        for day in range(1, 8):
            http.post("/v1/events", json=purchase(f"o-{day}", day=day))
        wallet = http.get("/v1/members/masha", params={"at": AFTER_MARCH}).json()
        seen, cursor = [], None
        while True:
            page = http.get("/v1/members/masha/decisions", params={"limit": 3, **({"cursor": cursor} if cursor
                                                                                   else {})}).json()
            seen += [d["event_id"] for d in page["decisions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        by_offset = http.get("/v1/members/masha/decisions", params={"offset": 2, "limit": 2}).json()
        bad_cursor = http.get("/v1/members/masha/decisions", params={"cursor": "bm9wZQ"})
    assert len(wallet["lots"]) == 7 and all(lot["expires_at"] for lot in wallet["lots"])
    assert Decimal(wallet["balance"]) == sum(Decimal(lot["remaining"]) for lot in wallet["lots"])
    assert seen == [f"o-{day}" for day in range(7, 0, -1)]
    assert [d["event_id"] for d in by_offset["decisions"]] == ["o-5", "o-4"]
    assert_problem(bad_cursor, 422, "invalid-request")


def test_offers_are_the_engines_ranked_offers(server):
    with server.client() as http:
        http.post("/v1/events", json=purchase("o-1"))
        offers = http.get("/v1/members/masha/offers")
    assert offers.status_code == 200 and offers.json()["member"] == "masha"
    assert isinstance(offers.json()["offers"], list)


def test_health_needs_no_key_and_says_the_store_is_ready(server):
    with server.client(token=None) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"status": "ready", "rulesets": ["coffee-club"]}
        assert http.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_the_access_log_masks_member_ids_and_never_logs_bodies(server, caplog):
    caplog.set_level(logging.INFO, logger="punchcard.service.access")
    with server.client() as http:
        http.post("/v1/events", json=purchase("o-secret", member="masha-private"))
        http.get("/v1/members/masha-private/decisions?limit=5")
    deadline = time.monotonic() + 10  # each line is written once its response has gone, by the server's thread
    while len(lines := [r.getMessage() for r in caplog.records if r.name == "punchcard.service.access"]) < 2:
        assert time.monotonic() < deadline, lines
        time.sleep(0.01)
    assert len(lines) == 2 and "/v1/members/***/decisions" in lines[1]
    assert not any("masha-private" in line or "o-secret" in line or "limit" in line for line in lines)


class Outage:
    """A memory store whose units of work fail until ``up``: a store outage."""

    def __init__(self) -> None:
        self.inner, self.up = MemoryStore(), False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def unit_of_work(self, member_id, **options):
        if not self.up:
            raise StoreError("the database is unreachable")
        return self.inner.unit_of_work(member_id, **options)

    def preview(self, member_id, **options):
        if not self.up:
            raise StoreError("the database is unreachable")
        return self.inner.preview(member_id, **options)


def test_a_store_outage_is_503_with_retry_after_and_the_retry_applies_once():
    store = Outage()
    with live(store) as running, running.client() as http:
        down = http.post("/v1/events", json=purchase("o-1"))
        dry_down = http.post("/v1/events/dry", json=purchase("o-1"))
        store.up = True
        retried = http.post("/v1/events", json=purchase("o-1"))
        again = http.post("/v1/events", json=purchase("o-1"))
    body = assert_problem(down, 503, "store-unavailable")
    assert_problem(dry_down, 503, "store-unavailable")
    assert down.headers["retry-after"] == "1" and "unreachable" not in body["detail"]
    assert retried.json()["outcome"] == "applied" and again.json()["outcome"] == "duplicate"
    assert [d.event_id for d in store.inner.decisions("masha")] == ["o-1"]


class Blip(Outage):
    """A store that fails once, transiently (a deadlock, a dropped connection), then works."""

    def __init__(self) -> None:
        super().__init__()
        self.up, self.failed = True, 0

    def unit_of_work(self, member_id, **options):
        if not self.failed:
            self.failed += 1
            raise StoreError("deadlock detected", transient=True)
        return self.inner.unit_of_work(member_id, **options)


@pytest.mark.parametrize("level", [logging.INFO, logging.ERROR])
def test_a_transient_store_failure_is_retried_and_counted_as_a_store_retry(level):
    """Counted through the engine's hook, so a quieter log counts it the same."""
    store = Blip()
    logger = logging.getLogger("punchcard")
    was = logger.level
    logger.setLevel(level)
    try:
        with live(store) as running, running.client() as http:
            decided = http.post("/v1/events", json=purchase("o-1"))
            scraped = http.get("/metrics").text
    finally:
        logger.setLevel(was)
    assert decided.json()["outcome"] == "applied" and store.failed == 1
    assert 'punchcard_store_retries_total{reason="transient"} 1.0' in scraped


class Unmigrated(Outage):
    """A store that answers, at a schema revision this punchcard does not need."""

    def __init__(self) -> None:
        super().__init__()
        self.up = True

    def schema_revision(self):
        return "0001_ledger", "0003_api_keys"


def test_readyz_is_503_while_the_store_is_not_at_the_schema_this_punchcard_needs():
    with live(Unmigrated()) as running, running.client(token=None) as http:
        body = assert_problem(http.get("/readyz"), 503, "not-ready")
        assert http.get("/healthz").status_code == 200
    assert "db upgrade" in body["detail"]


def test_the_wallet_is_seen_as_housekeeping_leaves_it_now_or_at_a_moment(server):
    with server.client() as http:
        decided = http.post("/v1/events", json=purchase("o-1", day=2)).json()
        now = http.get("/v1/members/masha").json()
        then = http.get("/v1/members/masha", params={"at": decided["time"]}).json()
        expired = http.get("/v1/members/masha", params={"at": decided["effects"][0]["expires_at"]}).json()
        before = http.get("/v1/members/masha", params={"at": "2026-03-01T00:00:00"})
        stored = http.get("/v1/members/masha/decisions").json()["decisions"]
    earned = Decimal(decided["points"])
    assert earned > 0 and Decimal(then["balance"]) == earned
    assert now["as_of"] > then["as_of"] == decided["time"]  # as_of: the moment asked about
    assert Decimal(expired["balance"]) == 0 and expired["lots"] == []  # expired by then: gone from the wallet
    assert_problem(before, 422, "invalid-request")
    assert [d["event_id"] for d in stored] == ["o-1"]  # seeing it later stored nothing


def test_a_dry_event_counts_only_the_points_its_member_still_has_at_its_time(server):
    """Three years on, the points earned have expired: what the member can redeem before the
    event is what housekeeping would leave then, not what was last stored."""
    with server.client() as http:
        earned = http.post("/v1/events", json=purchase("o-1")).json()
        expiry = earned["effects"][0]["expires_at"]
        later = {**purchase("o-2"), "time": expiry.replace("T00:00:00", "T12:00:00")[:19]}
        preview = http.post("/v1/events/dry", json=later).json()
    assert Decimal(earned["points"]) > 0 and Decimal(preview["redeemable_now"]) == 0
    assert Decimal(preview["redeemable_after"]) == Decimal(preview["decision"]["points"]) > 0


def test_a_member_whose_events_are_dated_after_now_is_seen_as_of_the_last(server):
    """A host whose clock runs behind the events it sends still reads the wallet: as of the
    member's last event, not refused as a moment before it."""
    with server.client() as http:
        ahead = {**purchase("o-1"), "time": "2099-03-02T08:15:00"}
        decided = http.post("/v1/events", json=ahead).json()
        wallet = http.get("/v1/members/masha")
    assert wallet.status_code == 200 and wallet.json()["as_of"] == decided["time"]
    assert Decimal(wallet.json()["balance"]) == Decimal(decided["points"]) > 0


@pytest.mark.parametrize("at", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "1899-12-31T23:59:59",
                                "9000-01-01T00:00:00", "yesterday", "2026-13-01T00:00:00"])
def test_a_wallet_moment_out_of_range_or_not_a_time_is_a_problem_never_a_500(server, at):
    with server.client() as http:
        http.post("/v1/events", json=purchase("o-1"))
        answer = http.get("/v1/members/masha", params={"at": at})
    assert_problem(answer, 422, "invalid-request")
