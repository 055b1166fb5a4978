"""``GET /healthz`` (the process answers), ``GET /readyz`` (the store answers and is at the
schema this punchcard needs: a load balancer sends nothing to a worker that is not) and
``GET /metrics`` (Prometheus text; a key with the ``metrics:read`` scope, as Prometheus's
``authorization`` setting sends it). Health needs no key: it says nothing about members.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from punchcard.engine.store import StoreError

from . import schemas
from .auth import require
from .bodies import problem_responses, service
from .problems import Problem

__all__ = ["router"]

router = APIRouter(tags=["health"])
_SCRAPE = Depends(require("metrics:read"))


@router.get("/healthz", response_model=schemas.Health, summary="The process is up")
def healthz() -> dict[str, Any]:
    return {"status": "ok"}


def _schema_ok(store: Any) -> bool:
    """Whether the store answers at the schema revision this punchcard needs (a store without
    schema revisions, in memory, always does)."""
    revision = getattr(store, "schema_revision", None)
    if revision is None:
        return True
    now, wanted = revision()
    return bool(now == wanted)


@router.get("/readyz", response_model=schemas.Ready, responses=problem_responses(),
            summary="The store is reachable and migrated")
async def readyz(request: Request) -> dict[str, Any]:
    state = service(request)
    try:
        ready = await run_in_threadpool(_schema_ok, state.store)
    except StoreError:
        ready = False
    if not ready:
        raise Problem("not-ready", "the store is unreachable or not at this punchcard's schema "
                      "(punchcard db upgrade)", headers={"Retry-After": str(state.settings.retry_after)})
    return {"status": "ready", "rulesets": state.registry.ids()}


_PROMETHEUS_TEXT = {"description": "The metrics, as Prometheus reads them", "content": {"text/plain": {
    "schema": {"type": "string", "description": "the Prometheus text format, version 0.0.4"}}}}


@router.get("/metrics", response_class=Response, responses={200: _PROMETHEUS_TEXT, **problem_responses(401, 403)},
            summary="Prometheus metrics")
async def metrics(request: Request, _key: Any = _SCRAPE) -> Response:
    state = service(request)
    body, media = await run_in_threadpool(state.metrics.render, state.store)
    return Response(body, media_type=media)
