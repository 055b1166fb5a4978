"""The ASGI application: ``app(rulesets, store)`` (docs/service.md).

::

    from punchcard.service import app
    api = app(["rulesets/coffee-club.yaml"], "postgresql+psycopg://points@db/points")
    # uvicorn.run(api), or mount it in a host's own ASGI application

The routes are versioned under ``/v1``; ``/healthz``, ``/readyz`` and ``/metrics`` are not.
The OpenAPI 3.1 document is served at ``/openapi.json`` and browsed at ``/docs``. The
application keeps no member state: any number of processes may serve one store.
``from_environment`` is the factory ``punchcard serve --workers N`` gives uvicorn, each
worker process building its own application from ``PUNCHCARD_SERVE``.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from punchcard import __version__
from punchcard.engine import Store
from punchcard.plugins.manager import Plugins, get_plugin_manager

from . import events_api, health, members_api, rulesets_api, schemas
from .guard import Guard, log_access
from .keys import KeyRing
from .metrics import Metrics
from .problems import install_handlers
from .registry import Registry
from .state import ServiceState, Settings

__all__ = ["app", "from_environment", "ENVIRONMENT", "DESCRIPTION"]

ENVIRONMENT = "PUNCHCARD_SERVE"  # JSON: {"rulesets": [...], "store": URL, "settings": {...}, "access_log": bool}
DESCRIPTION = ("Loyalty decisions over HTTP. Every endpoint but health needs an API key "
               "(`Authorization: Bearer <token>`, made with `punchcard keys create`). Errors are RFC 9457 "
               "problem documents. Figures are exact decimal text.")


def app(rulesets: Sequence[str | Path], store: Store | str, *, plugins: Plugins | None = None,
        settings: Settings | None = None) -> FastAPI:
    """The service for ``rulesets`` (paths of the rulesets first deployed) on ``store`` (a store,
    or its URL, opened here and closed when the application shuts down)."""
    plugins = plugins if plugins is not None else get_plugin_manager()
    settings = settings if settings is not None else Settings()
    opened: Any = plugins.open_store(store) if isinstance(store, str) else store
    if settings.webhooks:
        opened.webhooks = True  # the store queues webhook rows with each decision it writes
    state = ServiceState(opened, plugins, Registry(opened, plugins, list(rulesets)), Metrics(),
                         KeyRing.of(opened, settings.key_cache_seconds), settings)
    api = FastAPI(title="punchcard", version=__version__, description=DESCRIPTION, openapi_url="/openapi.json",
                  docs_url="/docs", redoc_url=None, lifespan=_lifespan(owns_store=isinstance(store, str)))
    api.state.service = state
    install_handlers(api)
    api.add_middleware(Guard, max_body_bytes=settings.max_body_bytes, observe=state.metrics.request)
    v1 = APIRouter(prefix="/v1")
    for router in (events_api.router, members_api.router, rulesets_api.router):
        v1.include_router(router)
    api.include_router(v1)
    api.include_router(health.router)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api


def _lifespan(owns_store: bool) -> Any:
    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        state: ServiceState = api.state.service
        if state.settings.freeze_gc:
            _freeze_startup_objects()
        try:
            yield
        finally:
            if owns_store:
                state.store.close()

    return lifespan


def _freeze_startup_objects() -> None:
    """What startup made (modules, compiled rulesets, the store's engine) lives as long as the
    process: frozen, the collector stops scanning it. A full collection of a warmed-up worker
    took about 100 ms, a pause every request in flight waited out (docs/service.md)."""
    gc.collect()
    gc.freeze()


def _openapi(api: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the problem document's schema every error response refers to."""
    if api.openapi_schema is None:
        document = get_openapi(title=api.title, version=api.version, description=api.description,
                               routes=api.routes)
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = schemas.Problem.model_json_schema()
        components.update(schemas.body_schemas(api.state.service.settings.batch_max))
        api.openapi_schema = document
    return api.openapi_schema


def from_environment() -> FastAPI:
    """The application ``PUNCHCARD_SERVE`` describes (the worker processes' factory)."""
    config = json.loads(os.environ[ENVIRONMENT])
    if config.get("access_log"):
        log_access()
    return app(config["rulesets"], config["store"], settings=Settings(**config.get("settings", {})))
