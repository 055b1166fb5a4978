"""Access: ``Authorization: Bearer <token>`` with the scope each endpoint names.

No token, or one that is not a live key: 401 with ``WWW-Authenticate: Bearer``. A live key
without the scope: 403. Either way the request is refused before it reads or changes
anything. A key seen in the last ``key_cache_seconds`` is checked on the event loop; only
one the cache cannot answer for is read from the store, in a thread. A dictionary lookup
does not need a thread's turn (about 70 µs of CPU, and a wait for the interpreter lock
while the request threads run).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .keys import UNREAD, ApiKey
from .problems import Problem

__all__ = ["require", "bearer"]

bearer = HTTPBearer(auto_error=False, description="An API key made with `punchcard keys create`.")
_BEARER = Depends(bearer)


def require(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the request's key, which must hold ``scope``."""

    async def check(request: Request, credentials: HTTPAuthorizationCredentials | None = _BEARER) -> ApiKey:
        if credentials is None:
            raise Problem("unauthorized", "send an API key: Authorization: Bearer <token>",
                          headers={"WWW-Authenticate": 'Bearer realm="punchcard"'})
        ring = request.app.state.service.keys
        key = ring.check_cached(credentials.credentials)  # on the event loop: no thread, no store
        if key is UNREAD:  # a key not seen lately: read from the store, off the event loop
            key = await run_in_threadpool(ring.check, credentials.credentials)
        if key is None:
            raise Problem("unauthorized", "the API key is not valid (unknown, mistyped or revoked)",
                          headers={"WWW-Authenticate": 'Bearer realm="punchcard", error="invalid_token"'})
        if scope not in key.scopes:
            raise Problem("forbidden", f"this needs a key with the {scope} scope",
                          headers={"WWW-Authenticate": f'Bearer realm="punchcard", error="insufficient_scope", '
                                                       f'scope="{scope}"'})
        request.state.key_id = key.id
        return key

    return check
