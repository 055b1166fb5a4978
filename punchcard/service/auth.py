"""Access: ``Authorization: Bearer <token>`` with the scope each endpoint names.

No token, or one that is not a live key: 401 with ``WWW-Authenticate: Bearer``. A live key
without the scope: 403. Either way the request is refused before it reads or changes
anything.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .keys import ApiKey
from .problems import Problem

__all__ = ["require", "bearer"]

bearer = HTTPBearer(auto_error=False, description="An API key made with `punchcard keys create`.")
_BEARER = Depends(bearer)


def require(scope: str) -> Callable[..., ApiKey]:
    """A dependency: the request's key, which must hold ``scope``."""

    def check(request: Request, credentials: HTTPAuthorizationCredentials | None = _BEARER) -> ApiKey:
        if credentials is None:
            raise Problem("unauthorized", "send an API key: Authorization: Bearer <token>",
                          headers={"WWW-Authenticate": 'Bearer realm="punchcard"'})
        key = request.app.state.service.keys.check(credentials.credentials)
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
