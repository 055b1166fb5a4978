"""docs/service.md's "Metrics" section names what is exported: every metric in its table is
rendered with the labels it lists, every one rendered is in the table, and its scrape
configuration is valid YAML that sends a bearer token."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families
from webhooks_support import run_year

from punchcard.engine.store import MemoryStore
from punchcard.service.metrics import LATENCY_BUCKETS, Metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.find("\n## Metrics\n")
    assert start >= 0, "docs/service.md has no '## Metrics' section"
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def _rendered() -> dict[str, set[str]]:
    """The punchcard metric families a scrape shows, with their label names."""
    store = MemoryStore()
    store.webhooks = True
    run_year(store)  # webhook rows in the outbox
    metrics = Metrics()
    metrics.decision("coffee@1.0.0", "purchase", "applied", 0.001)
    metrics.store_retry("race")
    metrics.request("/v1/events", "POST", 200, 0.002)
    text = metrics.render(store)[0].decode()
    return {family.name: {label for sample in family.samples for label in sample.labels if label != "le"}
            for family in text_string_to_metric_families(text)
            if family.name.startswith("punchcard_") and not family.name.endswith("_created")}  # the client's own


def test_the_table_is_what_a_scrape_shows():
    rows = re.findall(r"^\| `(punchcard_\w+)` \| (\w+) \| ([^|]*) \|", _section(), re.M)
    documented = {name.removesuffix("_total"): set(re.findall(r"`(\w+)`", labels)) for name, _, labels in rows}
    assert documented == _rendered()


def test_the_buckets_are_the_documented_ones():
    listed = re.search(r"The buckets run from [^:]*: ([\d., ]+)\.", _section())
    assert listed is not None
    assert tuple(float(b) for b in listed[1].split(", ")) == LATENCY_BUCKETS


def test_the_scrape_configuration_sends_a_bearer_token():
    (block,) = re.findall(r"^```yaml\n(.*?)^```", _section(), re.M | re.S)
    (job,) = yaml.safe_load(block)["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    assert "metrics:read" in block
