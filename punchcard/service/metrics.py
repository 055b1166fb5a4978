"""The service's Prometheus metrics (owned by the metrics work).

Contract (keep these names and signatures):

- ``Metrics()``: its own ``prometheus_client.CollectorRegistry``, one per app.
- ``metrics.decision(ruleset: str, event_type: str, outcome: str, seconds: float) -> None``
- ``metrics.store_retry(reason: str) -> None``
- ``metrics.request(route: str, method: str, status: int, seconds: float) -> None``
- ``metrics.render(store) -> tuple[bytes, str]``: the text format and its content type.

The metrics (docs/service.md, "Metrics"):

- ``punchcard_decisions_total{ruleset,event_type,outcome}``: decisions made, ``ruleset`` being
  ``id@version``;
- ``punchcard_decision_seconds{outcome}``: how long deciding and storing one event took,
  in buckets from a quarter of a millisecond to a second;
- ``punchcard_request_seconds{route,method,status}``: every request's time in the service,
  by its route's template (never an id), method and status class (``2xx``, ``4xx``, ...);
- ``punchcard_outbox_rows{status,channel}``: the store's outbox, counted when scraped (the
  store is the one truth all workers share, so every worker reports the same depth);
- ``punchcard_store_retries_total{reason}``: store work the engine ran again, ``reason``
  ``race`` (lost to another writer) or ``transient`` (a failure worth trying again), counted
  through the ``punchcard_store_retried`` hook whatever the log level;
- the process's own (CPU, memory, open files), as ``process_*``.

An app's registry is its own, so two apps in one process (tests, a host mounting two) never
count into each other. Under ``PROMETHEUS_MULTIPROC_DIR`` (several uvicorn workers in one
service) the counters and histograms are gathered from every worker's files instead.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from punchcard.engine.store import OUTBOX_STATUSES, Outbox

__all__ = ["Metrics", "outbox_depth", "LATENCY_BUCKETS", "MAX_EVENT_TYPES", "CONTENT_TYPE"]

log = logging.getLogger(__name__)

# A decision takes well under a millisecond in memory and a few on PostgreSQL; a second is an outage.
LATENCY_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Event types come from requests: past this many distinct ones, new ones count as "other",
# so a client sending random types cannot grow the series without bound.
MAX_EVENT_TYPES = 200
OTHER = "other"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
RETRY_REASONS = frozenset({"race", "transient"})  # what Engine.retrying reports; anything else counts as other
# The classic text format, which every Prometheus reads and generate_latest writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_COUNT_SQL = "SELECT status, channel, COUNT(*) FROM outbox GROUP BY status, channel"


def outbox_depth(store: Any) -> dict[tuple[str, str], int]:
    """Rows in the store's outbox per (status, channel): one grouped count on a SQL store, a
    count of the rows on another outbox; empty for a store without one."""
    read = getattr(store, "read", None)
    if callable(read) and hasattr(store, "dialect"):  # the SQL store: a connection to read with
        with read() as conn, conn.begin():
            counted = conn.exec_driver_sql(_COUNT_SQL)
            return {(str(status), str(channel)): int(count) for status, channel, count in counted}
    if isinstance(store, Outbox):
        return dict(Counter((row.status, row.channel) for row in store.outbox_list()))
    return {}


class _OutboxCollector(Collector):
    """The outbox's depth, read from the store when scraped."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Any:
        family = GaugeMetricFamily("punchcard_outbox_rows", "Rows in the store's outbox, per status and channel.",
                                   labels=["status", "channel"])
        try:
            depth = outbox_depth(self.store)
        except Exception as exc:  # an unreachable store must not fail the scrape: readyz says it is down
            log.warning("metrics: the outbox could not be counted (%s)", type(exc).__name__)
            return
        for status in OUTBOX_STATUSES:  # every status shown, so an empty one reads 0 rather than absent
            for channel in sorted({channel for _, channel in depth}):
                family.add_metric([status, channel], depth.get((status, channel), 0))
        yield family


class Metrics:
    """One app's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self._decisions = PromCounter("punchcard_decisions", "Decisions made, per ruleset version, event type and "
                                      "outcome.", ["ruleset", "event_type", "outcome"], registry=self.registry)
        self._seconds = Histogram("punchcard_decision_seconds", "Time to decide and store one event, in seconds.",
                                  ["outcome"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._requests = Histogram("punchcard_request_seconds", "Time to answer a request, in seconds, by route "
                                   "template, method and status class.", ["route", "method", "status"],
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self._retries = PromCounter("punchcard_store_retries", "Store work run again, by reason: race (lost to "
                                    "another writer) or transient (a failure worth trying again).", ["reason"],
                                    registry=self.registry)
        if not self._multiprocess:  # the per-process figures mean nothing summed over workers
            ProcessCollector(registry=self.registry)
        self._types: set[str] = set()
        self._lock = threading.Lock()

    def _event_type(self, event_type: str) -> str:
        if event_type in self._types:
            return event_type
        with self._lock:
            if len(self._types) >= MAX_EVENT_TYPES:
                return OTHER
            self._types.add(event_type)
        return event_type

    def decision(self, ruleset: str, event_type: str, outcome: str, seconds: float) -> None:
        """Count one decision and how long it took."""
        self._decisions.labels(ruleset, self._event_type(event_type), outcome).inc()
        self._seconds.labels(outcome).observe(seconds)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Time one request: routes are the application's templates, so the series stay few."""
        answered = f"{status // 100}xx" if status else "none"  # none: the client left before an answer began
        self._requests.labels(route, method if method in METHODS else OTHER, answered).observe(seconds)

    def store_retry(self, reason: str) -> None:
        self._retries.labels(reason if reason in RETRY_REASONS else OTHER).inc()

    def render(self, store: Any) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, with the outbox counted now, and its content type."""
        if self._multiprocess:
            gathered = CollectorRegistry()
            MultiProcessCollector(gathered)
            text = generate_latest(gathered)
        else:
            text = generate_latest(self.registry)
        outbox = CollectorRegistry(auto_describe=False)
        outbox.register(_OutboxCollector(store))
        return text + generate_latest(outbox), CONTENT_TYPE
