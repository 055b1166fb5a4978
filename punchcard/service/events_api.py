"""``POST /v1/events``, ``/v1/events/batch`` and ``/v1/events/dry``.

An event is applied exactly once by its id: sending it again (a retry after a timeout or a
503) returns its original decision, with outcome ``duplicate`` and ``Idempotent-Replayed:
true``; the same id with another body is a 409 problem. The decision is stamped with the
``ruleset@version`` that made it. A dry event is decided in a unit of work that rolls
back: the member and the budgets are read as for a real event, and nothing is written.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from punchcard.engine import Compiled, Decision, Event
from punchcard.engine.runtime.decision import to_jsonable

from . import schemas
from .auth import require
from .bodies import body_doc, live, parse_event, problem_responses, read_json, service
from .problems import PROBLEM_TYPES, Problem, type_uri
from .state import ServiceState

__all__ = ["router", "decision_json"]

router = APIRouter(tags=["events"])

_TRACE = Query(False, description="include the decision's explanation (trace)")
_WRITE = Depends(require("events:write"))
_RULESET = Query(None, max_length=schemas.ID_MAX, description="the ruleset id, when several are live")


def decision_json(decision: Decision, trace: bool) -> dict[str, Any]:
    out = decision.to_dict()
    if not trace:
        out["trace"] = []
    return out


def _conflict(decision: Decision) -> bool:
    """A rejection because the id came before with another body (engine.conflict_with's step)."""
    return decision.outcome == "rejected" and any(step.rule == "idempotency" for step in decision.trace)


def _decide(state: ServiceState, event: Event, compiled: Compiled, trace: bool) -> Decision:
    """Process one event, parsed by ``compiled`` (the version the request started with: a
    deployment meanwhile never decides an event another version read), and count it."""
    started = time.perf_counter()
    decision = state.engine(compiled, trace).process(event)
    outcome = "conflict" if _conflict(decision) else decision.outcome  # a 409, not a rejection the ruleset made
    state.metrics.decision(decision.ruleset, event.type, outcome, time.perf_counter() - started)
    return decision


@router.post("/events", response_model=schemas.Decision, openapi_extra=body_doc("Event"),
             responses=problem_responses(401, 403, 404, 409, 413, 415),
             summary="Process one event, exactly once by its id")
async def post_event(request: Request, response: Response, trace: bool = _TRACE, ruleset: str | None = _RULESET,
                     idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=schemas.ID_MAX),
                     _key: Any = _WRITE) -> dict[str, Any]:
    state = service(request)
    raw = await read_json(request)
    compiled = live(state, ruleset)
    event = parse_event(compiled, raw)
    if idempotency_key is not None and idempotency_key != event.id:
        raise Problem("idempotency-key-mismatch", "the Idempotency-Key header must equal the event's id")
    decision = await run_in_threadpool(_decide, state, event, compiled, trace)
    if _conflict(decision):
        raise Problem("idempotency-conflict", decision.reason or "the id was used with another body")
    if decision.outcome == "duplicate":
        response.headers["Idempotent-Replayed"] = "true"
    return decision_json(decision, trace)


def _batch_item(state: ServiceState, raw: Any, compiled: Compiled, trace: bool) -> dict[str, Any]:
    event_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    try:
        event = parse_event(compiled, raw)
        decision = _decide(state, event, compiled, trace)
    except Problem as problem:
        return {"id": event_id, "status": 422, "problem": _problem_doc(problem)}
    if _conflict(decision):
        return {"id": event_id, "status": 409, "problem": _problem_doc(Problem("idempotency-conflict",
                                                                                decision.reason or ""))}
    return {"id": event_id, "status": 200, "decision": decision_json(decision, trace)}


def _problem_doc(problem: Problem) -> dict[str, Any]:
    status, title = PROBLEM_TYPES[problem.code]
    return {"type": type_uri(problem.code), "title": title, "status": status, "detail": problem.detail,
            "instance": "urn:punchcard:batch-item", **problem.extra}


@router.post("/events/batch", response_model=schemas.BatchResult,
             openapi_extra=body_doc("EventBatch"), responses=problem_responses(401, 403, 404, 413, 415),
             summary="Process up to batch_max events, each with its own decision")
async def post_batch(request: Request, trace: bool = _TRACE, ruleset: str | None = _RULESET,
                     idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=schemas.ID_MAX),
                     _key: Any = _WRITE) -> dict[str, Any]:
    state = service(request)
    if idempotency_key is not None:  # each event is exactly once by its own id; one key cannot name them all
        raise Problem("idempotency-key-mismatch", "a batch takes no Idempotency-Key: each event's id is its key")
    body = await read_json(request)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events or len(events) > state.settings.batch_max:
        raise Problem("invalid-request", f"send {{\"events\": [...]}} with 1 to {state.settings.batch_max} events")
    compiled = live(state, ruleset)  # one version for the whole batch (several live and none named: one problem)

    def run() -> list[dict[str, Any]]:
        return [_batch_item(state, raw, compiled, trace) for raw in events]

    return {"results": await run_in_threadpool(run)}


def _dry(state: ServiceState, event: Event, compiled: Compiled, trace: bool) -> dict[str, Any]:
    """The decision ``POST /v1/events`` would give now, from the store's preview (never committed):
    the budgets as a real event reads them, and an id seen before as its duplicate (which
    changes nothing) or a 409."""
    preview = state.engine(compiled, trace).preview(event)  # the member as the event will find it, read once
    decision = preview.decision
    if _conflict(decision):
        raise Problem("idempotency-conflict", decision.reason or "the id was used with another body")
    after = preview.available if decision.outcome == "duplicate" else decision.balance
    return {"decision": decision_json(decision, trace), "redeemable_now": to_jsonable(preview.available),
            "redeemable_after": to_jsonable(after)}


@router.post("/events/dry", response_model=schemas.DryRun, openapi_extra=body_doc("Event"),
             responses=problem_responses(401, 403, 404, 409, 413, 415),
             summary="What an event would do now; nothing is written")
async def post_dry(request: Request, trace: bool = _TRACE, ruleset: str | None = _RULESET,
                   _key: Any = _WRITE) -> dict[str, Any]:
    state = service(request)
    raw = await read_json(request)
    compiled = live(state, ruleset)
    event = parse_event(compiled, raw)
    return await run_in_threadpool(_dry, state, event, compiled, trace)
