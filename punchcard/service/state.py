"""What one application holds: the store, the plugins, the live rulesets, the metrics, the
keys and the settings, kept at ``app.state.service``. Nothing in it is the truth about a
member: that is in the store, so any number of processes can serve one store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from punchcard.dsl.functions import FunctionSpec
from punchcard.engine import Compiled, Decision, Engine, Store
from punchcard.plugins.manager import Plugins

from .keys import KeyRing
from .metrics import Metrics
from .registry import Registry

__all__ = ["Settings", "ServiceState", "MeteredHooks"]

_ENGINES_MOST = 64


@dataclass(frozen=True)
class Settings:
    """The service's limits. ``max_body_bytes``: a larger request body is refused (413);
    ``batch_max``: events in one ``POST /v1/events/batch``; ``page_max``: decisions in one
    page of a member's history, ``offset_max`` how deep an offset may go; ``retry_after``:
    seconds a client is told to wait after a store failure; ``key_cache_seconds``: how long
    a checked key is remembered (a revoked key stops working within it); ``webhooks``: decisions
    queue their notable effects for the webhook dispatcher (docs/service.md, Webhooks);
    ``freeze_gc``: at startup, move everything alive into the generation the collector never
    scans (``gc.freeze()``), as ``punchcard serve`` does; a host embedding the application
    leaves its own process's collector alone (docs/service.md, Running it)."""

    max_body_bytes: int = 256 * 1024
    batch_max: int = 100
    page_max: int = 100
    offset_max: int = 10_000
    retry_after: int = 1
    key_cache_seconds: float = 2.0
    webhooks: bool = False
    freeze_gc: bool = False


class ServiceState:
    """The application's state; engines are made once per compiled ruleset (and trace choice)."""

    def __init__(self, store: Store, plugins: Plugins, registry: Registry, metrics: Metrics, keys: KeyRing,
                 settings: Settings) -> None:
        self.store, self.plugins, self.registry = store, plugins, registry
        self.metrics, self.keys, self.settings = metrics, keys, settings
        self.hooks = MeteredHooks(plugins, metrics)  # what the engines hear through: retries counted
        self._engines: dict[tuple[int, bool], tuple[Compiled, Engine]] = {}
        self._lock = threading.Lock()

    def engine(self, compiled: Compiled, trace: bool = False) -> Engine:
        """The engine of ``compiled`` (kept with it, so its id is never reused while cached)."""
        key = (id(compiled), trace)
        found = self._engines.get(key)
        if found is not None:
            return found[1]
        with self._lock:
            if len(self._engines) > _ENGINES_MOST:  # old versions after many deployments: let them go
                self._engines.clear()
            engine = Engine(compiled, self.store, plugins=self.hooks, trace=trace)
            self._engines[key] = (compiled, engine)
            return engine


class MeteredHooks:
    """The plugins as the service's engines are handed them: every store retry is also
    counted in the metrics (``punchcard_store_retries_total``), whatever the log level."""

    def __init__(self, plugins: Plugins, metrics: Any) -> None:
        self.plugins, self.metrics = plugins, metrics

    def functions(self) -> list[FunctionSpec]:
        return self.plugins.functions()

    def decision_committed(self, decision: Decision) -> None:
        self.plugins.decision_committed(decision)

    def store_retried(self, reason: str, attempt: int) -> None:
        self.metrics.store_retry(reason)
        self.plugins.store_retried(reason, attempt)
