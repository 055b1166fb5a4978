"""What one application holds: the store, the plugins, the live rulesets, the metrics, the
keys and the settings, kept at ``app.state.service``. Nothing in it is the truth about a
member: that is in the store, so any number of processes can serve one store.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from punchcard.api import Engine
from punchcard.engine import Compiled, Store
from punchcard.plugins.manager import Plugins

from .keys import KeyRing
from .metrics import Metrics
from .registry import Registry

__all__ = ["Settings", "ServiceState", "RetryCounter"]

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
            engine = Engine(compiled, self.store, plugins=self.plugins, trace=trace)
            self._engines[key] = (compiled, engine)
            return engine


class RetryCounter(logging.Filter):
    """Counts the store retries the engine and the SQL store log ("... trying again (n of m)"):
    neither reports them any other way. Passes every record on unchanged."""

    LOGGERS = ("punchcard.engine", "punchcard.store.sql")

    def __init__(self, metrics: Any) -> None:
        super().__init__()
        self.metrics = metrics

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if "trying again" in message or "running it again" in message:
            self.metrics.store_retry()
        return True
