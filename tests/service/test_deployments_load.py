"""A deployment during load: ``punchcard serve`` with two worker processes on PostgreSQL takes a
stream of events from several client threads while a new version is deployed to one worker.
No request fails; every decision is stamped with the version whose rule made its points;
events answered before the deployment began were made by the old version, and events sent
once the other worker has had time to look at the store (its refresh, a second, and as much
again for compiling under load) by the new one. The store's decisions say the same."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from deployments_support import RULESET, points_per_unit, ruleset_text, write_ruleset
from live_server import PUNCHCARD, free_port

from punchcard.plugins.sql.store import SqlStore
from punchcard.service.keys import KeyRing

CLIENTS = 6
REFRESH = 1.0  # a worker looks at the store's deployments at most this often (Registry's default)
SETTLED = REFRESH + 1.0  # ... and has compiled the new version by then, even on a busy machine
OLD, NEW = "shop@1.0.0", "shop@2.0.0"


@dataclass(frozen=True)
class Answer:
    event_id: str
    member: str
    sent: float  # time.monotonic() when the request was sent ...
    done: float  # ... and when its answer came
    status: int
    ruleset: str | None
    points: Decimal | None


@contextlib.contextmanager
def _serve(ruleset: Path, url: str, log: Path) -> Iterator[str]:
    port = free_port()
    command = [str(PUNCHCARD), "serve", str(ruleset), "--store", url,
               "--port", str(port), "--workers", "2", "--no-access-log"]
    with log.open("wb") as err:
        server = subprocess.Popen(command, stdout=err, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base):
            assert server.poll() is None, f"punchcard serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"punchcard serve did not come up: {log.read_text()}"
            time.sleep(0.1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _client(base: str, token: str, number: int, stop: threading.Event, answers: list[Answer],
            errors: list[BaseException]) -> None:
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            sent = 0
            while not stop.is_set():
                event_id, member = f"c{number}-{sent}", f"m{number}-{sent % 5}"
                event = {"type": "purchase", "id": event_id, "member": member, "time": "2026-03-02T08:15:00",
                         "amount": 10}
                started = time.monotonic()
                response = http.post("/v1/events", json=event)
                body = response.json() if response.status_code == 200 else {}
                answers.append(Answer(event_id, member, started, time.monotonic(), response.status_code,
                                      body.get("ruleset"), Decimal(body["points"]) if "points" in body else None))
                sent += 1
    except BaseException as exc:  # a failed request fails the test, with what it was
        errors.append(exc)


def _wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the load did not get going"
        time.sleep(0.05)


@dataclass
class Load:
    answers: list[Answer]
    deployed: httpx.Response
    deploy_started: float
    deploy_done: float


def _keys(url: str) -> tuple[str, str, str]:
    """(the admin key's id, its token, a token that may only write events), made in the store."""
    ring = KeyRing(SqlStore(url))
    try:
        admin_key, admin = ring.create(["rulesets:admin"], name="ops")
        return admin_key.id, admin, ring.create(["events:write"], name="till")[1]
    finally:
        ring.store.close()


def _load_while_deploying(base: str, writer: str, admin: str) -> Load:
    """Events from CLIENTS threads; version 2.0.0 deployed once 100 are answered; stopped once
    100 more were sent after it had settled on every worker."""
    answers: list[Answer] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_client, args=(base, writer, n, stop, answers, errors))
               for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        _wait_for(lambda: len(answers) >= 100, 60)
        started = time.monotonic()
        deployed = httpx.post(f"{base}/v1/rulesets", json={"text": ruleset_text("2.0.0", 3)},
                              headers={"Authorization": f"Bearer {admin}"}, timeout=60)
        done = time.monotonic()
        _wait_for(lambda: sum(a.sent > done + SETTLED for a in answers) >= 100, 60)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    assert not errors, errors
    return Load(answers, deployed, started, done)


def test_a_deployment_during_load_switches_versions_without_a_failed_request(store_urls, tmp_path):
    url = store_urls.new("postgresql")
    admin_id, admin, writer = _keys(url)
    with _serve(write_ruleset(tmp_path), url, tmp_path / "serve.log") as base:
        load = _load_while_deploying(base, writer, admin)
        listed = httpx.get(f"{base}/v1/rulesets", headers={"Authorization": f"Bearer {admin}"}).json()
    assert load.deployed.status_code == 201, load.deployed.text
    answers = load.answers
    assert [a for a in answers if a.status != 200] == []  # no request failed
    for answer in answers:  # each stamped with the version whose rule made its points
        assert answer.ruleset in (OLD, NEW) and answer.points == 10 * points_per_unit(answer.ruleset), answer
    before = [a.ruleset for a in answers if a.done < load.deploy_started]
    after = [a.ruleset for a in answers if a.sent > load.deploy_done + SETTLED]
    assert before and set(before) == {OLD}
    assert after and set(after) == {NEW}
    assert {a.event_id: a.ruleset for a in answers} == _stored_labels(url, {a.member for a in answers})

    [live] = listed["live"]  # the deployment as recorded: who, from which version
    assert (live["ruleset"], live["label"], live["previous"], live["action"]) == (RULESET, NEW, "1.0.0", "deploy")
    assert live["deployed_by"] == f"ops ({admin_id})"
    assert [(d["label"], d["action"]) for d in listed["history"]] == [(NEW, "deploy"), (OLD, "start")]


def _stored_labels(url: str, members: set[str]) -> dict[str, str]:
    store = SqlStore(url)
    try:
        return {d.event_id: d.ruleset for member in members for d in store.decisions(member, limit=100_000)}
    finally:
        store.close()
