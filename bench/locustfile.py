"""The load ``bench_service.py`` drives with locust: ``POST /v1/events`` of purchases, each with a
new id, at a steady rate per user (``PUNCHCARD_BENCH_RATE`` requests a second each).

Settings come from the environment, as locust runs this file itself: ``PUNCHCARD_BENCH_TOKEN``
(an ``events:write`` key), ``PUNCHCARD_BENCH_MEMBERS`` and ``PUNCHCARD_BENCH_RATE``.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid

import gevent
from locust import FastHttpUser, constant_throughput, task

__all__ = ["Till"]

_MEMBERS = int(os.environ.get("PUNCHCARD_BENCH_MEMBERS", "500"))
_RATE = float(os.environ.get("PUNCHCARD_BENCH_RATE", "10"))
_COUNTER = itertools.count()


class Till(FastHttpUser):
    """A till sending purchases one after another. FastHttpUser (geventhttpclient) costs the
    client a fraction of HttpUser's (requests) CPU, which on a small machine is CPU the server
    under test would otherwise lose."""

    wait_time = constant_throughput(_RATE)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {os.environ['PUNCHCARD_BENCH_TOKEN']}"}
        self.run = uuid.uuid4().hex[:8]
        gevent.sleep(random.uniform(0, 1 / _RATE))  # tills out of step, as real ones are: no synchronised bursts

    @task
    def purchase(self) -> None:
        n = next(_COUNTER)
        day, minute = divmod(n, 24 * 60)
        event = {"type": "purchase", "id": f"{self.run}-{n}", "member": f"m{random.randrange(_MEMBERS)}",
                 "time": f"2026-03-{1 + day % 28:02d}T{minute // 60:02d}:{minute % 60:02d}:00",
                 "amount": str(random.randrange(100, 2000)), "category": "coffee"}
        self.client.post("/v1/events", json=event, headers=self.auth, name="POST /v1/events")
