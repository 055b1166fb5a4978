"""The wallet's tier with several metrics (hotel-elite: nights, and nights with spend for the
top level): each metric's figure, what each way up still lacks, computed from the stays sent,
whatever their number."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_server import live

from punchcard.engine.store import MemoryStore

HOTEL = Path(__file__).resolve().parents[2] / "rulesets/hotel-elite.yaml"
RETAIL = HOTEL.with_name("retail-tiers.yaml")
LEVELS = [("silver", 10), ("gold", 25), ("platinum", 50), ("titanium", 75)]  # the ruleset's nights


def _stay(n: int, nights: int) -> dict:
    return {"type": "stay", "id": f"s-{n}", "member": "ana", "time": f"2026-03-{n + 1:02d}T11:00:00",
            "amount": "100", "nights": nights}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stays=st.lists(st.integers(1, 12), min_size=1, max_size=6))
def test_the_wallet_shows_each_metric_and_what_each_way_up_lacks(stays):
    with live(MemoryStore(), rulesets=(HOTEL,)) as running, running.client() as http:
        for n, nights in enumerate(stays):
            assert http.post("/v1/events", json=_stay(n, nights)).status_code == 200
        tier = http.get("/v1/members/ana", params={"at": "2026-03-28T12:00:00"}).json()["tier"]
    total = sum(stays)
    reached = [name for name, needed in LEVELS if total >= needed]
    ahead = next((level for level in LEVELS if total < level[1]), None)
    metrics = tier["by_metric"]
    assert tier["current"] == (reached[-1] if reached else "member")
    assert Decimal(metrics["have"]["nights"]) == total and Decimal(metrics["have"]["spend"]) == 100 * len(stays)
    assert ahead is not None and metrics["next"] == ahead[0]  # 6 stays of at most 12 nights stay below 75
    assert [{name: Decimal(v) for name, v in way.items()} for way in metrics["to_next"]] == [
        {"nights": Decimal(ahead[1] - total)}]


def test_a_ruleset_of_one_metric_gives_its_figures_without_by_metric():
    with live(MemoryStore(), rulesets=(RETAIL,)) as running, running.client() as http:
        http.post("/v1/events", json={"type": "purchase", "id": "o-1", "member": "m", "time": "2026-03-02T08:15:00",
                                      "amount": "150", "category": "food"})
        tier = http.get("/v1/members/m", params={"at": "2026-03-03T00:00:00"}).json()["tier"]
    assert tier["current"] and Decimal(tier["metric"]) == 150 and Decimal(tier["to_next"]) > 0
    assert tier.get("by_metric") is None
