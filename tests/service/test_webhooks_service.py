"""Webhooks through the service itself: ``punchcard serve --webhooks`` queues a decision's
notable effects with it, on SQLite and PostgreSQL, and ``punchcard webhooks dispatch`` (a
process of its own, as in production) posts each, signed, to a receiver that fails, leaving
it to be tried again; and vouchers, issued and spent, are notified from any store."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from live_server import live
from webhooks_support import EVENTS, EXPECTED, RETAIL, SECRET, Receiver

import punchcard
from punchcard.plugins.sql.store import SqlStore
from punchcard.service.state import Settings
from punchcard.service.webhooks import verify

ENV = "PUNCHCARD_TEST_WEBHOOK_SECRET"


def _dispatch(url: str, receiver: Receiver) -> dict:
    command = [sys.executable, "-c", "from punchcard.cli import app; app()", "webhooks", "dispatch", "--store", url,
               "--url", receiver.url, "--secret-env", ENV, "--once", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, ENV: SECRET},
                          check=False)
    assert SECRET not in done.stdout + done.stderr
    return json.loads(done.stdout)


# The dispatcher runs on the real clock: the member's events that are already past (a day's
# margin for any zone), and what they notify.
_SINCE = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
PAST = [event for event in EVENTS if dt.datetime.fromisoformat(event["time"]) < _SINCE]
NOTIFIED = {(delivery, kind) for delivery, kind in EXPECTED if delivery.split("/")[0] in {e["id"] for e in PAST}}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_service_queues_what_the_dispatcher_delivers(store_urls, backend):
    url = store_urls.new(backend)
    with live(url, rulesets=(RETAIL,), settings=Settings(webhooks=True)) as running, running.client() as http:
        answers = [http.post("/v1/events", json=event) for event in PAST]
    assert [answer.status_code for answer in answers] == [200] * len(PAST) and len(NOTIFIED) >= 3
    with Receiver(script=(500, 200)) as receiver:
        first = _dispatch(url, receiver)
    assert first["retrying"] == len(NOTIFIED) and first["delivered"] == 0
    tried = {(r.headers["punchcard-delivery"], json.loads(r.body)["type"]) for r in receiver.received}
    assert tried == NOTIFIED and all(tries == 1 for tries in receiver.tries.values())
    store = SqlStore(url)
    try:
        rows = [row for row in store.outbox_list() if row.channel == "webhook"]
    finally:
        store.close()
    assert {row.id for row in rows} == {delivery for delivery, _ in NOTIFIED}
    for row in rows:  # backing off: pending again later, with when and why it failed
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
        assert row.failed_at is not None and row.lease_until > row.failed_at
    for sent in receiver.received:
        payload = verify(sent.body, sent.headers["punchcard-signature"], SECRET)
        assert payload["id"] == sent.headers["punchcard-delivery"] and payload["ruleset"] == "retail-tiers@1.0.0"


def test_a_voucher_issued_and_spent_is_notified_from_the_store(store_factory):
    """clubcard: points converted at a statement's end become a voucher.issued webhook, and
    spending the voucher a voucher.redeemed one, each written with its decision."""
    store = store_factory()
    store.webhooks = True
    engine = punchcard.Engine(punchcard.compile(str(RETAIL.with_name("clubcard.yaml"))), store)
    engine.process({"type": "purchase", "id": "b-1", "member": "bea", "time": "2026-01-10T10:00:00", "amount": 265,
                    "category": "food"})
    tick = engine.process({"type": "tick", "id": "b-t1", "member": "bea", "time": "2026-03-01T00:00:00"})
    (issued,) = [effect for effect in tick.effects if effect.kind == "voucher_issued"]
    spent = engine.process({"type": "redeem_voucher", "id": "b-r1", "member": "bea", "time": "2026-03-04T12:00:00",
                            "voucher": issued.detail["voucher"]})
    assert spent.outcome == "applied"
    sent = {row.id: row.request for row in [row for row in store.outbox_list() if row.channel == "webhook"]}
    assert sent["b-t1/webhook/1"]["type"] == "voucher.issued" and sent["b-r1/webhook/1"]["type"] == "voucher.redeemed"
    assert sent["b-t1/webhook/1"]["data"]["voucher"] == sent["b-r1/webhook/1"]["data"]["voucher"] == \
        issued.detail["voucher"]
    assert Decimal(sent["b-t1/webhook/1"]["data"]["value"]) == issued.detail["value"] > 0
