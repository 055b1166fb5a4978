"""Message caps under concurrent processing, with real processes on SQLite and PostgreSQL:
however the events of a member are spread over workers and orders, no member is sent more
than the cap in a day, and what is suppressed is exactly what the cap leaves out."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from ledger_workers import replay, start_all

import punchcard
from punchcard.plugins.sql.store import SqlStore

pytestmark = pytest.mark.slow

CAPPED = """
punchcard: 1
ruleset: capped-messages
version: 1.0.0
timezone: Europe/Sofia
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
messages:
  caps: {per_day: 2, channels: {sms: {per_day: 1}}}
  send:
    - id: thanks
      on: earned
      channel: push
      facts: [earned_points]
      template: {en: "{earned_points} points are yours."}
    - id: receipt
      on: earned
      channel: sms
      facts: [balance]
      template: {en: "Your balance is {balance}."}
"""
SOFIA = ZoneInfo("Europe/Sofia")
MEMBERS, DAYS, PER_DAY = 6, 3, 7


@pytest.fixture(scope="module")
def capped():
    return punchcard.compile(CAPPED)


def _events() -> list[dict]:
    out = []
    for m in range(MEMBERS):
        for day in range(DAYS):
            for n in range(PER_DAY):
                out.append({"type": "purchase", "id": f"m{m}-d{day}-{n}", "member": f"m{m}", "amount": "5",
                            "time": f"2026-03-{2 + day:02d}T{9 + n:02d}:00:00"})
    return out


def test_no_member_gets_more_than_the_cap_a_day_however_the_events_race(sql_url, capped, fork, tmp_path):
    url, events = sql_url(), _events()
    orders = [random.Random(i).sample(events, len(events)) for i in range(4)]
    barrier, outs = fork.Barrier(4), [tmp_path / f"out-{i}.json" for i in range(4)]
    args = [(url, capped, orders[i], [1, 25, 1, 7][i], barrier, str(outs[i])) for i in range(4)]
    assert start_all(fork, replay, args) == [0] * 4
    store = SqlStore(url)
    try:
        sent: Counter = Counter()
        suppressed: Counter = Counter()
        for m in range(MEMBERS):
            for decision in store.decisions(f"m{m}", limit=10_000):
                assert decision.outcome == "applied", decision.outcome
                for effect in decision.effects:
                    day = dt.datetime.fromisoformat(str(effect.detail.get("send_at") or decision.time.isoformat()))
                    key = (f"m{m}", day.astimezone(SOFIA).date(), effect.detail.get("channel"))
                    if effect.kind == "message":
                        sent[key] += 1
                    elif effect.kind == "message_suppressed":
                        suppressed[key] += 1
    finally:
        store.close()
    for m in range(MEMBERS):
        for day in range(DAYS):
            date = dt.date(2026, 3, 2 + day)
            push, sms = sent[(f"m{m}", date, "push")], sent[(f"m{m}", date, "sms")]
            assert sms == 1 and push == 1, (m, date, push, sms)  # two a day, at most one of them by SMS
            assert suppressed[(f"m{m}", date, "push")] + suppressed[(f"m{m}", date, "sms")] == 2 * PER_DAY - 2
    assert sum(json.loads(o.read_text()).__len__() for o in outs) == 4 * len(events)
