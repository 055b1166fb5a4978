"""Twenty concurrent HTTP redemptions of one member's whole balance: exactly one is applied,
the others are refused for want of points, and the ledger agrees (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from live_server import live

from punchcard.plugins.sql.store import SqlStore

CLIENTS = 20


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_twenty_concurrent_redemptions_of_the_whole_balance_apply_once(backend, store_urls):
    url = store_urls.new(backend)
    with live(url) as running:
        with running.client() as http:
            earned = http.post("/v1/events", json={"type": "purchase", "id": "o-1", "member": "masha",
                                                   "time": "2026-03-02T08:15:00", "amount": "150",
                                                   "category": "coffee"}).json()
        balance = earned["balance"]

        def redeem(n: int) -> dict:
            with running.client() as http:
                answered = http.post("/v1/events", json={"type": "redeem", "id": f"r-{n}", "member": "masha",
                                                         "time": "2026-03-02T09:00:00", "points": balance})
                assert answered.status_code == 200, answered.text
                return answered.json()

        with ThreadPoolExecutor(CLIENTS) as pool:
            decisions = list(pool.map(redeem, range(CLIENTS)))
        with running.client() as http:
            wallet = http.get("/v1/members/masha", params={"at": "2026-03-03T00:00:00"}).json()
    outcomes = sorted(d["outcome"] for d in decisions)
    assert Decimal(balance) > 0 and outcomes == ["applied"] + ["rejected"] * (CLIENTS - 1)
    assert wallet["balance"] == "0"
    store = SqlStore(url)
    try:
        assert store.audit().ok
        assert len([d for d in store.decisions("masha", 100) if d.outcome == "applied"]) == 2
    finally:
        store.close()
