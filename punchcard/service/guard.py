"""The middleware every request passes: a request id, the body size cap, the access log.

- Each request gets an id (``X-Request-Id`` on the response, ``instance`` of its problems);
  a caller's own ``X-Request-Id`` is kept when it is a plain token.
- A body over ``max_body_bytes`` is refused with a 413 problem before the application reads
  any of it: by its ``Content-Length``, or by counting as it arrives.
- The access log (logger ``punchcard.service.access``) has the method, the path with member
  ids masked, the status, the time taken and the key id. Never a body, a query string or a token.
- ``observe`` hears of every request: its route's template (``/v1/members/{member_id}``, never
  an id; ``unmatched`` for a path no route has), method, status and seconds (the metrics).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem_response

__all__ = ["Guard", "masked_path", "log_access"]

access = logging.getLogger("punchcard.service.access")
log = logging.getLogger("punchcard.service")

# everything after "members/", however the path is spelled (case, doubled slashes, an id holding
# a slash): an unmatched path is logged too, and must not show an id either
_MEMBER = re.compile(r"(/members/+).*$", re.IGNORECASE | re.DOTALL)
_ROUTES = ("decisions", "offers")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def log_access() -> None:
    """Send the access log to stderr (``punchcard serve``, in each worker process)."""
    access.setLevel(logging.INFO)
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s access %(message)s"))
        access.addHandler(handler)
        access.propagate = False


def masked_path(path: str) -> str:
    """The path as the access log shows it: a member id is personal data, so it is not shown."""
    return _MEMBER.sub(lambda m: m.group(1) + "***" + _tail(m.group(0)), path)


def _tail(rest: str) -> str:
    """A member route's own last step (decisions, offers), which is not personal: kept."""
    steps = [step for step in rest.split("/") if step]  # "members", the id..., maybe a route
    return f"/{steps[-1]}" if steps[-1] in _ROUTES and len(steps) > len(("members", "id")) else ""


class _TooLarge(Exception):
    pass


Observe = Callable[[str, str, int, float], None]  # (route, method, status, seconds)


class Guard:
    def __init__(self, app: ASGIApp, max_body_bytes: int, observe: Observe | None = None) -> None:
        self.app, self.max_body_bytes, self.observe = app, max_body_bytes, observe
        self.templates = Templates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started, seen = time.perf_counter(), {"status": 0}
        try:
            body = await self._body(scope, receive)
        except _TooLarge:
            response = problem_response("payload-too-large", f"bodies are capped at {self.max_body_bytes} bytes",
                                        request_id, headers={"X-Request-Id": request_id, "Connection": "close"})
            seen["status"] = 413
            await response(scope, receive, send)
        else:
            await self._run(scope, _replay(body, receive), _stamped(send, request_id, seen), seen)
        finally:
            _log(scope, seen["status"], started)
            self._observe(scope, seen["status"], started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        """Hand the request's figures to ``observe``; timing a request never fails it."""
        if self.observe is None:
            return
        try:
            self.observe(self.templates.of(scope), scope["method"], status, time.perf_counter() - started)
        except Exception as exc:
            log.error("timing request %s failed (%s)", scope["state"]["request_id"], type(exc).__name__)

    async def _run(self, scope: Scope, receive: Receive, send: Send, seen: dict[str, Any]) -> None:
        """The application; a failure nobody handled is a 500 problem, logged by the request id and
        the exception's type alone (its text or frames could quote the input), never re-raised."""
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            request_id = scope["state"]["request_id"]
            log.error("request %s failed unexpectedly (%s)", request_id, type(exc).__name__)
            if seen["status"]:
                return  # the response had begun: the client sees the connection end
            response = problem_response("internal", "an unexpected failure; it was logged under this request's id",
                                        request_id)
            await response(scope, receive, send)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, refused past the cap (declared or counted)."""
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            raise _TooLarge
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


class Templates:
    """The application's path templates, from its own OpenAPI document (and its docs pages),
    read on the first request: the one public list of them with their ``/v1`` prefix."""

    def __init__(self) -> None:
        self._table: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, scope: Scope) -> str:
        """The template a request's path fits (``unmatched`` for none): never the path itself."""
        if self._table is None:
            app = scope["app"]
            known = [*app.openapi()["paths"], app.openapi_url, app.docs_url]
            self._table = [(re.compile("[^/]+".join(map(re.escape, re.split(r"\{[^}/]+\}", path)))), path)
                           for path in known if path]
        path, mounted_at = scope["path"], scope.get("root_path", "")
        if mounted_at and path.startswith(mounted_at):  # mounted in a host's application: its own paths
            path = path[len(mounted_at):]
        return next((template for pattern, template in self._table if pattern.fullmatch(path)), "unmatched")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: a disconnect, when the client goes

    return replay


def _stamped(send: Send, request_id: str, seen: dict[str, Any]) -> Send:
    async def stamped(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
        await send(message)

    return stamped


def _log(scope: Scope, status: int, started: float) -> None:
    key = scope.get("state", {}).get("key_id", "-")
    access.info("%s %s %s %d %.1fms key=%s", scope["state"]["request_id"], scope["method"],
                masked_path(scope["path"]), status, (time.perf_counter() - started) * 1000, key)
