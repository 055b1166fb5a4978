"""The punchcard service: an HTTP API for host services (docs/service.md).

``punchcard serve`` runs it under uvicorn; a host that prefers to embed it mounts the ASGI
application :func:`app` returns.
"""

from .app import app

__all__ = ["app"]
