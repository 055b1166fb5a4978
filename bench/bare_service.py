"""The floor under ``bench_service.py``: a FastAPI application under the same uvicorn, with the
same route, that reads the event's JSON and answers at once. No engine, no store, no key.

Under the same locust load on the same machine, its latency is what the web stack, the load
generator and the machine cost before punchcard does anything.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request

__all__ = ["api"]

api = FastAPI(title="floor")


@api.post("/v1/events")
async def post_event(request: Request) -> dict[str, Any]:
    event = json.loads(await request.body(), parse_float=Decimal)
    return {"id": event["id"], "outcome": "applied", "points": "0"}


@api.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}
