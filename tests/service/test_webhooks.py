"""Webhooks end to end, on every store: a decision's notable effects are queued in its own
transaction, and the dispatcher delivers each to a real HTTP receiver that fails first,
at least once, signed, with a delivery id that is the same on every try."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner
from webhooks_support import AFTER, EVENTS, EXPECTED, RETAIL, SECRET, Receiver, run_year

import punchcard
from punchcard.cli import app as cli_app
from punchcard.engine.messaging.send import drain
from punchcard.engine.runtime.decision import Decision, Effect, Outcome
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.message import MessageRequest
from punchcard.engine.runtime.webhooks import webhook_requests
from punchcard.engine.store import MemoryStore, StoreError
from punchcard.plugins.sql.store import SqlStore
from punchcard.service.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Dispatching,
    Endpoint,
    SignatureError,
    dispatch,
    verify,
)

PUNCHCARD = Path(sys.executable).with_name("punchcard")
FAST = Dispatching(backoff_base=dt.timedelta(seconds=10), backoff_cap=dt.timedelta(minutes=5), timeout=5.0)


def _clock(start: dt.datetime):
    """A clock the test moves: ``clock.now`` is what it says."""
    def clock() -> dt.datetime:
        return clock.now  # type: ignore[attr-defined, no-any-return]
    clock.now = start  # type: ignore[attr-defined]
    return clock


def _webhook_rows(store) -> list:
    return [row for row in store.outbox_list() if row.channel == "webhook"]


def test_every_notable_effect_is_delivered_signed_after_failures(store_factory):
    store = store_factory()
    store.webhooks = True
    run_year(store)
    assert {(row.id, row.request["type"]) for row in _webhook_rows(store)} == EXPECTED
    clock = _clock(AFTER)
    with Receiver(script=(500, 200)) as receiver:
        endpoint = Endpoint(receiver.url, SECRET)
        first = dispatch(store, [endpoint], clock=clock, dispatching=FAST)
        assert (first.delivered, first.retrying, first.errors["HTTP 500"]) == (0, len(EXPECTED), len(EXPECTED))
        assert dispatch(store, [endpoint], clock=clock, dispatching=FAST).delivered == 0  # backing off: not due
        clock.now = AFTER + dt.timedelta(minutes=1)
        second = dispatch(store, [endpoint], clock=clock, dispatching=FAST)
    assert (second.delivered, second.retrying, second.pending) == (len(EXPECTED), 0, 0)
    delivered = {(r.headers["punchcard-delivery"], json.loads(r.body)["type"]) for r in receiver.accepted()}
    assert delivered == EXPECTED
    for delivery in {d for d, _ in EXPECTED}:  # each tried twice: the same id, the same bytes
        tries = [r for r in receiver.received if r.headers["punchcard-delivery"] == delivery]
        assert len(tries) == 2 and tries[0].body == tries[1].body
    for r in receiver.received:
        stamp = int(r.headers["punchcard-signature"].split(",")[0].removeprefix("t="))
        payload = verify(r.body, r.headers["punchcard-signature"], SECRET, now=stamp)
        assert payload["id"] == r.headers["punchcard-delivery"] and payload["member_id"] == "m"
        assert payload["ruleset"] == "retail-tiers@1.0.0" and r.headers["punchcard-event"] == payload["type"]
    assert {row.status for row in _webhook_rows(store)} == {"sent"}


def test_payloads_carry_the_effects(store_factory):
    store = store_factory()
    store.webhooks = True
    run_year(store)
    payloads = {row.id: row.request for row in _webhook_rows(store)}
    assert payloads["p-1/webhook/1"]["data"] == {"from": "standard", "to": "gold", "direction": "up",
                                                 "why": "threshold reached"}
    assert payloads["t-1/webhook/1"]["data"]["direction"] == "down"
    assert payloads["r-1/webhook/1"]["data"] == {"redemption": "r-1", "points": "60", "balance": "5"}
    held = payloads["big-1/webhook/1"]["data"]
    assert held["event_type"] == "purchase" and held["reason"] == "held for review" and Decimal(held["points"]) > 0
    expiring = payloads["t-2/webhook/1"]
    assert expiring["data"]["points"] == "5" and expiring["data"]["expires_at"].startswith("2028-04-01")
    assert expiring["created"] == "2028-03-20T00:00:01+09:00" and expiring["event_id"] == "t-2"


def test_a_batch_queues_the_same_rows(store_factory):
    store = store_factory()
    store.webhooks = True
    punchcard.Engine(punchcard.compile(str(RETAIL)), store).process_many(EVENTS)
    assert {(row.id, row.request["type"]) for row in _webhook_rows(store)} == EXPECTED


def test_a_store_with_webhooks_off_queues_none(store_factory):
    store = store_factory()
    decisions = run_year(store)
    assert any(effect.kind == "tier_change" for d in decisions for effect in d.effects)
    assert _webhook_rows(store) == []


def _tier_decision(event_id: str) -> tuple[Event, Decision]:
    when = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    effect = Effect("tier_change", None, None, {"from": "standard", "to": "gold", "direction": "up", "why": "x"})
    return (Event(event_id, "purchase", "m", when, {"amount": Decimal(5)}),
            Decision(event_id, "m", "plain@1.0.0", Outcome.APPLIED, effects=(effect,), time=when))


def _save(store, event: Event, decision: Decision, commit: bool) -> None:
    with store.unit_of_work(event.member) as unit:
        unit.load_member(event.member)
        unit.save(event, decision, None, {})
        if commit:
            unit.commit()


def test_webhook_rows_are_written_in_the_decisions_transaction(store_factory):
    store = store_factory()
    store.webhooks = True
    _save(store, *_tier_decision("e-1"), commit=False)  # the unit ends without committing: rolled back
    assert store.outbox_list() == [] and store.decisions("m") == []
    _save(store, *_tier_decision("e-2"), commit=True)
    assert [row.id for row in store.outbox_list()] == ["e-2/webhook/1"] and len(store.decisions("m")) == 1


@pytest.mark.parametrize("outcome", [Outcome.REJECTED, Outcome.BLOCKED])
def test_refused_events_notify_nothing(outcome):
    store = MemoryStore()
    store.webhooks = True
    event, decision = _tier_decision("e-1")
    decision.outcome = outcome
    _save(store, event, decision, commit=True)
    assert store.outbox_list() == []


def test_a_second_endpoint_that_fails_is_retried_alone(store_factory):
    store = store_factory()
    store.webhooks = True
    _save(store, *_tier_decision("e-1"), commit=True)
    clock = _clock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    with Receiver(script=(200,)) as good, Receiver(script=(503, 200)) as flaky:
        endpoints = [Endpoint(good.url, SECRET), Endpoint(flaky.url, "another-secret")]
        assert dispatch(store, endpoints, clock=clock, dispatching=FAST).retrying == 1
        clock.now += dt.timedelta(minutes=1)
        assert dispatch(store, endpoints, clock=clock, dispatching=FAST).delivered == 1
    assert (len(good.received), len(flaky.received)) == (1, 2)  # the one that took it is not sent it again
    stamp = int(flaky.received[1].headers["punchcard-signature"].split(",")[0][2:])
    verify(flaky.received[1].body, flaky.received[1].headers["punchcard-signature"], "another-secret", now=stamp)
    with pytest.raises(SignatureError):
        verify(flaky.received[1].body, flaky.received[1].headers["punchcard-signature"], SECRET, now=stamp)
    assert _webhook_rows(store)[0].status == "sent"


def test_retries_are_bounded_and_back_off(store_factory):
    store = store_factory()
    store.webhooks = True
    _save(store, *_tier_decision("e-1"), commit=True)
    clock = _clock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    bounded = Dispatching(max_attempts=3, backoff_base=dt.timedelta(seconds=10), backoff_cap=dt.timedelta(seconds=15))
    waits = []
    with Receiver(script=(500,)) as receiver:
        for _ in range(3):
            report = dispatch(store, [Endpoint(receiver.url, SECRET)], clock=clock, dispatching=bounded)
            row = _webhook_rows(store)[0]
            waits.append(row.lease_until - clock.now if row.lease_until else None)
            clock.now += dt.timedelta(hours=1)
    assert waits == [dt.timedelta(seconds=10), dt.timedelta(seconds=15), None]  # doubling, capped; then no more
    assert (report.failed, row.status, row.attempts, row.last_error) == (1, "failed", 3, "HTTP 500")
    assert row.failed_at == clock.now - dt.timedelta(hours=1)  # the last try's moment
    assert len(receiver.received) == 3


def test_an_unreachable_endpoint_is_retried_and_its_url_never_kept(store_factory):
    store = store_factory()
    store.webhooks = True
    _save(store, *_tier_decision("e-1"), commit=True)
    with Receiver() as receiver:
        url = receiver.url.replace("/hooks", "/hooks?token=s3cret")
    # the receiver is gone: nothing listens on its port now
    report = dispatch(store, [Endpoint(url, SECRET)], clock=_clock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC)),
                      dispatching=FAST)
    row = _webhook_rows(store)[0]
    assert report.retrying == 1 and row.status == "pending" and row.last_error == "ConnectError"
    assert "s3cret" not in json.dumps(row.to_json()) and SECRET not in json.dumps(row.to_json())


class _Recording:
    """A delivery plugin that keeps what it is handed."""

    def __init__(self) -> None:
        self.delivered: list[dict] = []

    def deliver(self, message) -> str:
        self.delivered.append(dict(message))
        return "ok"


def _message(event_id: str) -> Effect:
    request = MessageRequest(f"{event_id}:points", "m", event_id, "plain@1.0.0", "points", "offer_selected", "push",
                             "en", dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), {"points": Decimal(5)},
                             "{points} points are yours.", writer="template")
    return Effect("message", None, None, request.to_detail())


def test_the_dispatcher_leaves_messages_and_the_sender_leaves_webhooks(store_factory):
    store = store_factory()
    store.webhooks = True
    event, decision = _tier_decision("e-1")
    decision.effects = (*decision.effects, _message("e-1"))
    _save(store, event, decision, commit=True)
    assert sorted(row.channel for row in store.outbox_list()) == ["push", "webhook"]
    now = _clock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    delivery = _Recording()  # offered the webhook channel too: the sender must still leave those rows
    report = drain(store, {"push": delivery, "webhook": delivery}, {}, clock=now)
    assert report.sent == 1 and report.pending == {} and report.undeliverable == []
    assert [m["id"] for m in delivery.delivered] == ["e-1:points"]
    with Receiver(script=(200,)) as receiver:
        assert dispatch(store, [Endpoint(receiver.url, SECRET)], clock=now).delivered == 1
    assert [r.headers["punchcard-delivery"] for r in receiver.received] == ["e-1/webhook/1"]
    assert {row.channel: row.status for row in store.outbox_list()} == {"push": "sent", "webhook": "sent"}


def test_dispatch_needs_an_endpoint():
    with pytest.raises(ValueError, match="endpoint"):
        dispatch(MemoryStore(), [])


def test_headers_name_the_delivery_and_the_signature_scheme():
    assert (SIGNATURE_HEADER, DELIVERY_HEADER) == ("Punchcard-Signature", "Punchcard-Delivery")
    assert SECRET not in repr(Endpoint("http://x", SECRET))


ENV = "PUNCHCARD_TEST_WEBHOOK_SECRET"


def _cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli_app, ["webhooks", "dispatch", *args], env=env)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_command_dispatches_once(store_urls, backend):
    url = store_urls.new(backend)
    store = SqlStore(url)
    store.webhooks = True
    _save(store, *_tier_decision("e-1"), commit=True)
    store.close()
    with Receiver(script=(500, 200)) as receiver:
        args = ["--store", url, "--url", receiver.url, "--secret-env", ENV, "--once", "--format", "json"]
        first = _cli(*args, env={ENV: SECRET})
        assert first.exit_code == 1, first.output
        assert json.loads(first.stdout)["retrying"] == 1
        again = _cli(*args, env={ENV: SECRET})  # backing off: nothing due yet, nothing failed
        assert again.exit_code == 0 and json.loads(again.stdout)["delivered"] == 0
    assert SECRET not in first.output + again.output
    sent = receiver.received[0]
    verify(sent.body, sent.headers["punchcard-signature"], SECRET)  # signed at the real time, within tolerance


def test_the_command_names_a_missing_secret_and_needs_a_url(store_urls):
    url = store_urls.new("sqlite")
    missing = _cli("--store", url, "--url", "http://127.0.0.1:9/h", "--secret-env", ENV, "--once", env={ENV: ""})
    assert missing.exit_code == 2 and ENV in missing.output
    no_url = _cli("--store", url, "--secret-env", ENV, "--once", env={ENV: SECRET})
    assert no_url.exit_code == 2 and "--url" in no_url.output
    mismatched = _cli("--store", url, "--url", "http://a", "--url", "http://b", "--url", "http://c",
                      "--secret-env", ENV, "--secret-env", ENV, "--once", env={ENV: SECRET})
    assert mismatched.exit_code == 2 and "--secret-env" in mismatched.output
    not_http = _cli("--store", url, "--url", "ftp://host/h?token=s3cret", "--secret-env", ENV, "--once",
                    env={ENV: SECRET})
    assert not_http.exit_code == 2 and "ftp://host/h" in not_http.output and "s3cret" not in not_http.output


class _DiesBeforeMarking:
    """The store as a dispatcher killed after its POST and before marking the row sent sees it."""

    def __init__(self, store) -> None:
        self.store = store

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def outbox_sent(self, *args, **kwargs) -> bool:
        raise StoreError("the dispatcher died here")


def test_a_dispatcher_killed_after_posting_is_followed_by_a_repeat_with_the_same_id(store_factory):
    store = store_factory()
    store.webhooks = True
    _save(store, *_tier_decision("e-1"), commit=True)
    clock = _clock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    with Receiver(script=(200,)) as receiver:
        with pytest.raises(StoreError):
            dispatch(_DiesBeforeMarking(store), [Endpoint(receiver.url, SECRET)], clock=clock, dispatching=FAST)
        assert dispatch(store, [Endpoint(receiver.url, SECRET)], clock=clock).delivered == 0  # its lease holds
        clock.now += FAST.lease + dt.timedelta(seconds=1)
        assert dispatch(store, [Endpoint(receiver.url, SECRET)], clock=clock).delivered == 1
    first, second = receiver.received
    assert first.headers["punchcard-delivery"] == second.headers["punchcard-delivery"] == "e-1/webhook/1"
    assert first.body == second.body and _webhook_rows(store)[0].status == "sent"


def test_dispatchers_racing_deliver_each_once(store_factory):
    store = store_factory()
    store.webhooks = True
    for n in range(12):
        event, decision = _tier_decision(f"e-{n}")
        event = Event(event.id, event.type, f"m-{n}", event.time, event.body)
        decision.member_id = f"m-{n}"
        _save(store, event, decision, commit=True)
    clock = _clock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    with Receiver(script=(200,)) as receiver, ThreadPoolExecutor(4) as pool:
        endpoint = Endpoint(receiver.url, SECRET)
        reports = list(pool.map(lambda _: dispatch(store, [endpoint], clock=clock), range(4)))
    assert sum(report.delivered for report in reports) == 12
    assert sorted(receiver.tries.values()) == [1] * 12


effects = st.lists(st.one_of(
    st.builds(lambda to: Effect("tier_change", None, None, {"from": "a", "to": to, "direction": "up", "why": "w"}),
              st.sampled_from(["silver", "gold"])),
    st.builds(lambda p: Effect("expiry_notice", Decimal(p), None, {"expires_at": dt.datetime(2027, 1, 1)}),
              st.integers(1, 500)),
    st.builds(lambda p, r: Effect("redeem", -Decimal(p), "lot", {"redemption": r}), st.integers(1, 500),
              st.sampled_from(["r-1", "r-2"])),
    st.builds(lambda v: Effect("voucher_issued", None, None, {
        "voucher": f"m:{v}", "value": Decimal(v), "currency": "EUR", "points": Decimal(v * 100), "blocks": v,
        "kept": Decimal(0), "at": dt.datetime(2026, 1, 1), "expires_at": dt.datetime(2027, 1, 1), "why": "w"}),
              st.integers(1, 9)),
    st.builds(lambda v: Effect("voucher_redeemed", None, None, {"voucher": f"m:{v}", "value": Decimal(v),
                                                                "currency": "EUR"}), st.integers(1, 9)),
    st.builds(lambda: Effect("earn", Decimal(5), "lot", {}))), max_size=12)


@given(chosen=effects, outcome=st.sampled_from([Outcome.APPLIED, Outcome.REVIEW]))
def test_one_payload_per_notable_effect_and_per_redemption(chosen, outcome):
    decision = Decision("e-1", "m", "x@1", outcome, effects=tuple(chosen), time=dt.datetime(2026, 1, 1))
    payloads = webhook_requests(decision)
    kinds = Counter(p["type"] for p in payloads)
    redemptions = {e.detail["redemption"] for e in chosen if e.kind == "redeem"}
    expected = Counter({"tier.changed": sum(e.kind == "tier_change" for e in chosen),
                        "points.expiring": sum(e.kind == "expiry_notice" for e in chosen),
                        "points.redeemed": len(redemptions), "review.held": int(outcome == Outcome.REVIEW),
                        "voucher.issued": sum(e.kind == "voucher_issued" for e in chosen),
                        "voucher.redeemed": sum(e.kind == "voucher_redeemed" for e in chosen)})
    assert kinds == +expected  # zero counts dropped
    assert [p["id"] for p in payloads] == [f"e-1/webhook/{n}" for n in range(1, len(payloads) + 1)]
    for p in payloads:
        if p["type"] == "points.redeemed":
            lots = [e for e in chosen if e.kind == "redeem" and e.detail["redemption"] == p["data"]["redemption"]]
            spent = -sum(e.points for e in lots)
            assert Decimal(p["data"]["points"]) == spent
        if p["type"].startswith("voucher."):  # the voucher, its value and currency, as the effect said
            (effect,) = {e.detail["voucher"]: e for e in chosen if e.kind == p["type"].replace(".", "_")
                         and e.detail["voucher"] == p["data"]["voucher"]}.values()
            assert Decimal(p["data"]["value"]) == effect.detail["value"] and p["data"]["currency"] == "EUR"
    assert json.loads(json.dumps(payloads)) == payloads  # JSON-ready: no Decimal, no datetime


def test_the_command_keeps_dispatching_until_sigterm(store_urls):
    url = store_urls.new("sqlite")
    store = SqlStore(url)
    store.webhooks = True
    _save(store, *_tier_decision("e-1"), commit=True)
    with Receiver(script=(200,)) as receiver:
        args = [str(PUNCHCARD), "webhooks", "dispatch", "--store", url, "--url", receiver.url, "--secret-env", ENV,
                "--interval", "0.1"]
        process = subprocess.Popen(args, env={**os.environ, ENV: SECRET}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not receiver.received and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            _save(store, *_tier_decision("e-2"), commit=True)  # decided while it runs: sent on a later poll
            while len(receiver.received) < 2 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
    store.close()
    assert process.returncode == 0, err
    assert [r.headers["punchcard-delivery"] for r in receiver.received] == ["e-1/webhook/1", "e-2/webhook/1"]
    assert SECRET not in err

