"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every error the service answers is a problem document with a stable ``type``
(``https://punchcard.dev/problems/<code>``, listed in docs/service.md), a ``title`` that
never changes for its type, the ``status``, a ``detail`` for this occurrence and an
``instance`` naming the request (``urn:uuid:<request id>``, the ``X-Request-Id`` header).
Validation errors add ``errors``: where and what, never the value sent. Nothing that came
in a request body is echoed, and an unexpected failure is logged by the request id alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from punchcard.engine.store import StoreError

__all__ = ["PROBLEM_TYPES", "PROBLEM_MEDIA", "Problem", "problem_response", "install_handlers", "request_id",
           "type_uri"]

log = logging.getLogger("punchcard.service")

PROBLEM_MEDIA = "application/problem+json"
BASE = "https://punchcard.dev/problems/"

# code -> (status, title): the titles are part of the contract and never change for a code.
PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "invalid-request": (422, "The request is not valid"),
    "invalid-event": (422, "The event does not fit the ruleset's event schema"),
    "idempotency-key-mismatch": (422, "The Idempotency-Key header is not the event's id"),
    "idempotency-conflict": (409, "The event id was already used with a different body"),
    "unauthorized": (401, "A valid API key is needed"),
    "forbidden": (403, "The API key lacks the scope this needs"),
    "not-found": (404, "Not found"),
    "member-not-found": (404, "The store has never seen this member"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "payload-too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "The request body must be JSON"),
    "ruleset-required": (422, "Name the ruleset: several are live"),
    "unknown-ruleset": (404, "No such live ruleset"),
    "store-unavailable": (503, "The store is unavailable; retry with the same event ids"),
    "not-ready": (503, "The service is not ready"),
    "internal": (500, "An unexpected failure"),
}
_SERVER = 500
_BY_STATUS = {404: "not-found", 405: "method-not-allowed", 406: "not-acceptable", 413: "payload-too-large",
              415: "unsupported-media-type", 401: "unauthorized", 403: "forbidden"}


def type_uri(code: str) -> str:
    return BASE + code


class Problem(Exception):
    """Raised anywhere in a request: answered as the problem document of ``code``."""

    def __init__(self, code: str, detail: str, *, headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def request_id(request: Request) -> str:
    """The id the request-id middleware gave the request (or one it will give)."""
    return str(getattr(request.state, "request_id", "") or "")


def problem_response(code: str, detail: str, request_id_: str, *, headers: Mapping[str, str] | None = None,
                     extra: Mapping[str, Any] | None = None) -> JSONResponse:
    status, title = PROBLEM_TYPES[code]
    body: dict[str, Any] = {"type": type_uri(code), "title": title, "status": status, "detail": detail,
                            "instance": f"urn:uuid:{request_id_}" if request_id_ else "urn:uuid:unknown"}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA, headers=dict(headers or {}))


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    # where and what only: pydantic's "input" and "ctx" may quote the body
    return [{"location": ".".join(str(part) for part in error.get("loc", ())), "message": str(error.get("msg", ""))}
            for error in exc.errors()]


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.code, exc.detail, request_id(request), headers=exc.headers, extra=exc.extra)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response("invalid-request", "the request does not match its schema", request_id(request),
                            extra={"errors": _validation_errors(exc)})


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _BY_STATUS.get(exc.status_code, "internal" if exc.status_code >= _SERVER else "invalid-request")
    detail = "no such resource" if code == "not-found" else str(exc.detail)
    return problem_response(code, detail, request_id(request), headers=exc.headers)


async def _on_store_error(request: Request, exc: Exception) -> JSONResponse:
    # the store's message names no parameters or bodies (engine/store.py), but it may name the host: not sent
    log.warning("request %s: the store failed: %s", request_id(request), exc)
    retry = str(request.app.state.service.settings.retry_after)
    return problem_response("store-unavailable", "the store failed; nothing of this request was stored, or its "
                            "outcome is unknown: send it again with the same event ids", request_id(request),
                            headers={"Retry-After": retry})


async def _on_anything(request: Request, exc: Exception) -> JSONResponse:
    # the request id and the exception's type only: its text could quote the input
    log.error("request %s failed unexpectedly (%s)", request_id(request), type(exc).__name__)
    return problem_response("internal", "an unexpected failure; it was logged under this request's id",
                            request_id(request))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(StoreError, _on_store_error)
    app.add_exception_handler(Exception, _on_anything)
