"""The service's metrics: what is counted is what happened, read back from the Prometheus
text format with prometheus-client's own parser, rendered directly and scraped from a real
server."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter

import yaml
from hypothesis import given
from hypothesis import strategies as st
from live_server import COFFEE, live
from prometheus_client.parser import text_string_to_metric_families
from webhooks_support import SECRET, Receiver, run_year

from punchcard.engine.store import OUTBOX_STATUSES, MemoryStore
from punchcard.service.metrics import LATENCY_BUCKETS, MAX_EVENT_TYPES, Metrics, outbox_depth
from punchcard.service.webhooks import Endpoint, dispatch

OUTCOMES = ("applied", "duplicate", "review", "blocked", "rejected")


def samples(text: bytes, name: str) -> dict[tuple, float]:
    """The samples called ``name``, by their labels (sorted pairs)."""
    found: dict[tuple, float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


decisions = st.lists(st.tuples(st.sampled_from(["coffee@1.0.0", "coffee@1.1.0"]),
                               st.sampled_from(["purchase", "redeem", "tick"]), st.sampled_from(OUTCOMES),
                               st.floats(0, 2, allow_nan=False)), max_size=40)


@given(made=decisions, retries=st.lists(st.sampled_from(["race", "transient"]), max_size=6))
def test_counts_match_what_was_recorded(made, retries):
    metrics = Metrics()
    for ruleset, event_type, outcome, seconds in made:
        metrics.decision(ruleset, event_type, outcome, seconds)
    for reason in retries:
        metrics.store_retry(reason)
    text, content_type = metrics.render(MemoryStore())
    assert content_type.startswith("text/plain; version=0.0.4")
    counted = Counter(made_[:3] for made_ in made)
    assert samples(text, "punchcard_decisions_total") == {
        (("event_type", t), ("outcome", o), ("ruleset", r)): float(n) for (r, t, o), n in counted.items()}
    by_outcome = Counter(outcome for _, _, outcome, _ in made)
    assert samples(text, "punchcard_decision_seconds_count") == {
        (("outcome", o),): float(n) for o, n in by_outcome.items()}
    fast = Counter(outcome for _, _, outcome, seconds in made if seconds <= 0.001)
    buckets = samples(text, "punchcard_decision_seconds_bucket")
    for outcome, n in by_outcome.items():
        assert buckets[(("le", "0.001"), ("outcome", outcome))] == fast[outcome]
        assert buckets[(("le", "+Inf"), ("outcome", outcome))] == n
    assert samples(text, "punchcard_store_retries_total") == {
        (("reason", reason),): float(n) for reason, n in Counter(retries).items()}


def test_the_buckets_span_a_quarter_millisecond_to_a_second():
    assert LATENCY_BUCKETS[0] <= 0.00025 and LATENCY_BUCKETS[-1] == 1.0
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)


def test_two_apps_count_apart():
    first, second = Metrics(), Metrics()
    first.decision("coffee@1.0.0", "purchase", "applied", 0.001)
    assert samples(second.render(None)[0], "punchcard_decisions_total") == {}
    assert sum(samples(first.render(None)[0], "punchcard_decisions_total").values()) == 1


def test_event_types_past_the_cap_count_as_other():
    metrics = Metrics()
    for n in range(MAX_EVENT_TYPES + 5):
        metrics.decision("coffee@1.0.0", f"type-{n}", "rejected", 0.0001)
    metrics.decision("coffee@1.0.0", "type-0", "rejected", 0.0001)  # one seen before the cap keeps its name
    counted = samples(metrics.render(None)[0], "punchcard_decisions_total")
    types = {dict(labels)["event_type"]: value for labels, value in counted.items()}
    assert len(types) == MAX_EVENT_TYPES + 1 and types["other"] == 5 and types["type-0"] == 2


def _depth(text: bytes) -> dict[tuple[str, str], float]:
    return {(dict(labels)["status"], dict(labels)["channel"]): value
            for labels, value in samples(text, "punchcard_outbox_rows").items()}


def test_the_outbox_depth_is_the_stores(store_factory):
    store = store_factory()
    store.webhooks = True
    run_year(store)
    metrics = Metrics()
    assert _depth(metrics.render(store)[0]) == {(status, "webhook"): 5.0 if status == "pending" else 0.0
                                                for status in OUTBOX_STATUSES}
    with Receiver(script=(200,)) as receiver:  # two delivered: the gauge follows the store
        dispatch(store, [Endpoint(receiver.url, SECRET)], clock=lambda: dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    depth = _depth(metrics.render(store)[0])
    expected = Counter((row.status, row.channel) for row in store.outbox_list())
    assert depth == {(status, "webhook"): float(expected[(status, "webhook")]) for status in OUTBOX_STATUSES}
    assert (depth[("sent", "webhook")], depth[("pending", "webhook")]) == (3.0, 2.0)
    assert outbox_depth(store) == dict(expected)


class _Down(MemoryStore):
    def outbox_list(self, status=None, limit=None):
        raise ConnectionError("the database is gone")


def test_an_unreachable_store_leaves_the_outbox_out_and_the_rest_in():
    metrics = Metrics()
    metrics.decision("coffee@1.0.0", "purchase", "applied", 0.002)
    text, _ = metrics.render(_Down())
    assert _depth(text) == {} and sum(samples(text, "punchcard_decisions_total").values()) == 1


def test_a_live_server_counts_its_decisions(store_factory):
    store = store_factory()
    with live(store) as server, server.client() as client:
        events = [{"type": "purchase", "id": f"p-{n}", "member": f"m-{n % 3}", "time": "2026-03-02T09:00:00",
                   "amount": "4.50", "category": "coffee"} for n in range(7)]
        outcomes = Counter(client.post("/v1/events", json=event).json()["outcome"] for event in events)
        outcomes.update(client.post("/v1/events", json=events[0]).json()["outcome"] for _ in range(2))  # repeats
        scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    counted = samples(scraped.content, "punchcard_decisions_total")
    assert {dict(labels)["outcome"]: value for labels, value in counted.items()} == dict(outcomes)
    version = yaml.safe_load(COFFEE.read_text())["version"]
    assert {dict(labels)["ruleset"] for labels in counted} == {f"coffee-club@{version}"}
    assert sum(samples(scraped.content, "punchcard_decision_seconds_count").values()) == 9


WORKER = """
import sys
from punchcard.service.metrics import Metrics
metrics = Metrics()
for _ in range(int(sys.argv[1])):
    metrics.decision("coffee@1.0.0", "purchase", "applied", 0.003)
metrics.store_retry("transient")
if sys.argv[2] == "render":
    sys.stdout.buffer.write(metrics.render(None)[0])
"""


def test_workers_sharing_a_multiprocess_dir_are_summed(tmp_path):
    """Several uvicorn workers: each counts in its own files, and any of them reports the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (3, 4):
        subprocess.run([sys.executable, "-c", WORKER, str(n), "quiet"], env=env, check=True, timeout=120)
    text = subprocess.run([sys.executable, "-c", WORKER, "5", "render"], env=env, check=True, timeout=120,
                          capture_output=True).stdout
    assert sum(samples(text, "punchcard_decisions_total").values()) == 12
    assert samples(text, "punchcard_decision_seconds_count") == {(("outcome", "applied"),): 12.0}
    assert samples(text, "punchcard_store_retries_total") == {(("reason", "transient"),): 3.0}


def test_every_request_is_timed_by_its_route_template_never_by_a_member_id():
    purchase = {"type": "purchase", "id": "o-1", "member": "masha-secret", "time": "2026-03-02T08:15:00",
                "amount": "150", "category": "coffee"}
    with live(MemoryStore()) as running, running.client() as http:
        http.post("/v1/events", json=purchase)
        http.post("/v1/events/dry", json={**purchase, "id": "o-2"})
        for _ in range(3):
            http.get("/v1/members/masha-secret")
        http.get("/v1/members/nobody-at-all")
        http.get("/v1/no/such/route")
        scraped = http.get("/metrics").content
    counts = {dict(labels)["route"] + " " + dict(labels)["status"]: value
              for labels, value in samples(scraped, "punchcard_request_seconds_count").items()}
    assert counts["/v1/events 2xx"] == 1 and counts["/v1/events/dry 2xx"] == 1
    assert counts["/v1/members/{member_id} 2xx"] == 3 and counts["/v1/members/{member_id} 4xx"] == 1
    assert counts["unmatched 4xx"] == 1
    assert b"masha-secret" not in scraped and b"nobody-at-all" not in scraped
