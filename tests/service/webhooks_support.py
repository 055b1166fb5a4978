"""Shared by the webhook tests: a real HTTP receiver that fails before it succeeds, and a
member's year on the retail-tiers ruleset that makes every notable effect once."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import punchcard

ROOT = Path(__file__).resolve().parents[2]
RETAIL = ROOT / "rulesets" / "retail-tiers.yaml"
SECRET = "whsec_test_4f1c0ffee"
# After the last event (its expiry notice is dated 2028-03-20): every row is due.
AFTER = dt.datetime(2028, 3, 21, tzinfo=dt.UTC)

# One member's history: a tier up, a redemption over two lots, a review hold, the tier
# dropping when its window ends, and a notice of points about to expire.
EVENTS = [
    {"type": "purchase", "id": "p-1", "member": "m", "time": "2026-03-01T10:00:00", "amount": 5000,
     "category": "food"},
    {"type": "purchase", "id": "p-2", "member": "m", "time": "2026-03-02T10:00:00", "amount": 1000,
     "category": "food"},
    {"type": "redeem", "id": "r-1", "member": "m", "time": "2026-03-20T10:00:00", "points": 60},
    {"type": "purchase", "id": "big-1", "member": "m", "time": "2026-04-01T10:00:00", "amount": 12000,
     "category": "watches"},
    {"type": "tick", "id": "t-1", "member": "m", "time": "2028-01-01T00:00:01"},
    {"type": "tick", "id": "t-2", "member": "m", "time": "2028-03-20T00:00:01"},
]
# What the host must receive: (delivery id, type).
EXPECTED = {("p-1/webhook/1", "tier.changed"), ("r-1/webhook/1", "points.redeemed"),
            ("big-1/webhook/1", "review.held"), ("t-1/webhook/1", "tier.changed"),
            ("t-2/webhook/1", "points.expiring")}


def run_year(store) -> list:
    """Process EVENTS on ``store`` with the retail-tiers ruleset; the decisions."""
    engine = punchcard.Engine(punchcard.compile(str(RETAIL)), store)
    return [engine.process(event) for event in EVENTS]


@dataclass
class Received:
    """One POST: its headers keyed in lower case, its raw body, and the status answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A webhook endpoint on a free local port. Each delivery id is answered with the
    statuses in ``script`` in turn (default: 500, then 200 for ever)."""

    script: tuple[int, ...] = (500, 200)
    received: list[Received] = field(default_factory=list)
    tries: Counter[str] = field(default_factory=Counter)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        delivery = headers.get("punchcard-delivery", "")
        with self.lock:
            n = self.tries[delivery]
            self.tries[delivery] += 1
            status = self.script[min(n, len(self.script) - 1)]
            self.received.append(Received(path, headers, body, status))
        return status

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
