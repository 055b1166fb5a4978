"""``kill -9`` of a worker of ``punchcard serve --workers 2`` in the middle of requests: the
clients retry each unanswered event with the same id until it is answered, and the ledger
equals a clean run of the same events, with a clean ``punchcard audit``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from live_server import COFFEE, PUNCHCARD, make_key, serve_process

import punchcard
from punchcard.plugins.sql.store import SqlStore

MEMBERS, EACH = 8, 30


def _events(member: int) -> list[dict]:
    """A member's events, in order: purchases, and a redemption of 100 every fifth event."""
    out = []
    for n in range(EACH):
        time_ = f"2026-03-{1 + n // 3:02d}T{8 + n % 3:02d}:15:00"
        base = {"id": f"m{member}-e{n}", "member": f"m{member}", "time": time_}
        if n % 5 == 4:
            out.append({**base, "type": "redeem", "points": "100"})
        else:
            out.append({**base, "type": "purchase", "amount": str(50 + 7 * n), "category": "coffee"})
    return out


def _send(url: str, token: str, events: list[dict], answered: list) -> None:
    """Each event until it is answered: after a dropped connection or a 5xx, again with the same id."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for event in events:
            while True:
                try:
                    response = http.post("/v1/events", json=event, headers={"Idempotency-Key": event["id"]})
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if response.status_code < 500:
                    assert response.status_code == 200, response.text
                    answered.append(event["id"])
                    break
                time.sleep(0.05)


def _workers(process: subprocess.Popen) -> list[psutil.Process]:
    """uvicorn's worker processes (not multiprocessing's resource tracker)."""
    return [child for child in psutil.Process(process.pid).children()
            if child.is_running() and "spawn_main" in " ".join(child.cmdline())]


def _ledger(store) -> dict:
    out = {}
    for member in range(MEMBERS):
        state = store.member(f"m{member}")
        out[f"m{member}"] = (state.total(), sorted((lot.id, lot.remaining) for lot in state.lots),
                             sorted((d.event_id, d.outcome) for d in store.decisions(f"m{member}", 1000)))
    return out


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_killed_worker_loses_nothing_and_applies_nothing_twice(backend, store_urls):
    url = store_urls.new(backend)
    token = make_key(url, "events:write")
    answered: list[str] = []
    with serve_process(url, "--workers", "2") as (base, process):
        deadline = time.monotonic() + 60
        while len(_workers(process)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        with ThreadPoolExecutor(MEMBERS) as pool:
            sent = [pool.submit(_send, base, token, _events(m), answered) for m in range(MEMBERS)]
            while len(answered) < MEMBERS * EACH // 3:  # one member's client may finish first: not all
                failed = [future.exception() for future in sent if future.done() and future.exception()]
                assert not failed and not all(future.done() for future in sent), failed
                time.sleep(0.01)
            victim = _workers(process)[0]
            os.kill(victim.pid, signal.SIGKILL)  # mid-requests: the clients are still sending
            killed_at = len(answered)
            for future in sent:
                future.result(timeout=300)
    assert killed_at < MEMBERS * EACH and sorted(answered) == sorted(e["id"] for m in range(MEMBERS)
                                                                     for e in _events(m))
    clean = punchcard.Engine(punchcard.compile(COFFEE))
    for member in range(MEMBERS):
        for event in _events(member):
            clean.process(event)
    served = SqlStore(url)
    try:
        assert _ledger(served) == _ledger(clean.store)
    finally:
        served.close()
    audit = subprocess.run([str(PUNCHCARD), "audit", "--store", url], capture_output=True, text=True, timeout=120,
                           check=False)
    assert audit.returncode == 0 and "no differences" in audit.stdout, audit.stdout + audit.stderr
