"""Training from a file of events folds each member's profile by the engine's rule: the same
events, the file's fold and the engine's (through a ruleset that accepts them all) give the
same profile, built-in lifecycle events, retries and reused ids mixed in; and a churn label's
purchase is one the profile counts."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_helpers import ROOT, copy_model

import punchcard
from punchcard.engine import Engine
from punchcard.engine.evaluate import BUILT_IN
from punchcard.engine.policies import profile as P
from punchcard.engine.runtime.decision import Outcome
from punchcard.plugins.sklearn.data import churn_rows, profiles_at, read_events, read_raw

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))  # the ruleset's zone
HELD_ABOVE = 5000  # the fraud rule holds a bigger purchase for review: held, it still counts

# offer_used is declared as an analyst event, so the engine folds it as the file does (a response,
# no visit); offer_presented is not: the engine decides it as a built-in of its offers.
RULESET = f"""\
punchcard: 1
ruleset: fold-agrees
version: 1.0.0
timezone: Asia/Tokyo
currency: JPY
point_value: 1
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  events:
    purchase: {{amount: money, category: optional string}}
    check_in: {{}}
    offer_used: {{offer: string, offer_type: optional string, category: optional string, value: optional number}}
models:
  churn: models/churn.skops
points:
  refunds: {{clawback: proportional, negative_balance: allow}}
fraud:
  - id: big-ticket
    on: purchase
    when: event.amount > {HELD_ABOVE}
    action: review
earning:
  base: {{on: purchase, points: event.amount / 100}}
"""

KINDS = ("purchase", "purchase", "check_in", "offer_used", "refund", "redeem", "redeem_reversal", "adjust", "tick",
         "review_decision", "profile", "conflict")
CATEGORIES = ("food", "home", "beauty", None)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fold-agrees")
    copy_model(ROOT / "rulesets" / "models" / "churn.skops", folder / "models")
    (folder / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
    return punchcard.compile(folder / "ruleset.yaml")


class _History:
    """Events as a host sends them, each built-in one of a kind the ruleset accepts (a refund of
    an order earned on, a review of a held purchase, ...): a member's open orders and redemptions."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.conflicts: set[int] = set()  # indexes of events reusing an earlier id with another body
        self.orders: dict[str, list[tuple[str, int]]] = {}
        self.held: dict[str, list[str]] = {}
        self.redeemed: dict[str, list[str]] = {}

    def add(self, kind: str, member: str, at: dt.datetime, number: int, category: str | None) -> None:
        event_id = f"e{len(self.events)}"
        body = self._body(kind, member, event_id, number, category)
        if body is None:
            return
        if kind == "conflict":
            self.conflicts.add(len(self.events))
        self.events.append({"type": body.pop("type", kind), "id": body.pop("id", event_id), "member": member,
                            "time": at.isoformat(), **body})

    def _body(self, kind: str, member: str, event_id: str, number: int, category: str | None) -> dict | None:
        if kind == "purchase":
            self._order(member, event_id, number)
            return {"amount": str(number), **({"category": category} if category else {})}
        if kind == "offer_used":
            return {"offer": f"o{number % 7}", "offer_type": "category_bonus", "category": category or "food",
                    "value": "20"}
        if kind == "refund":
            orders = self.orders.get(member)
            if not orders:
                return None
            order, amount = orders.pop(number % len(orders))
            return {"order": order, "amount": str(1 + number % amount)}
        return self._lifecycle(kind, member, event_id, number)

    def _lifecycle(self, kind: str, member: str, event_id: str, number: int) -> dict | None:
        if kind == "redeem":
            self.redeemed.setdefault(member, []).append(event_id)
            return {"points": str(1 + number % 20)}
        if kind == "redeem_reversal":
            return {"redemption": self.redeemed[member].pop()} if self.redeemed.get(member) else None
        if kind == "adjust":
            return {"points": str(number % 300 - 100 or 1), "reason": "goodwill"}
        if kind == "review_decision":
            held = self.held.get(member)
            return {"target": held.pop(), "verdict": ("release", "void")[number % 2]} if held else None
        if kind == "conflict":  # an id seen before, with another body: the engine refuses it
            return {"type": "check_in", "id": self.events[number % len(self.events)]["id"]} if self.events else None
        return {}  # tick, profile

    def _order(self, member: str, event_id: str, amount: int) -> None:
        if amount > HELD_ABOVE:
            self.held.setdefault(member, []).append(event_id)
        elif amount >= 100:  # earns a point at least, so a refund finds the order
            self.orders.setdefault(member, []).append((event_id, amount))


@st.composite
def histories(draw) -> _History:
    members = draw(st.lists(st.sampled_from(["ann", "bob", "cy"]), min_size=1, max_size=3, unique=True))
    history = _History()
    for member in members:  # enough points for every redemption and negative adjustment the history makes
        history.events.append({"type": "adjust", "id": f"e{len(history.events)}", "member": member,
                               "time": START.isoformat(), "points": "100000", "reason": "opening balance"})
    at = START
    steps = st.tuples(st.sampled_from(KINDS), st.sampled_from(members), st.integers(1, 60 * 24 * 9),
                      st.integers(0, 9000), st.sampled_from(CATEGORIES), st.integers(0, 5))
    for kind, member, minutes, number, category, retry in draw(st.lists(steps, max_size=40)):
        at += dt.timedelta(minutes=minutes)
        history.add(kind, member, at, number, category)
        if retry == 0 and history.events:  # the host sent the last event twice
            if len(history.events) - 1 in history.conflicts:
                history.conflicts.add(len(history.events))
            history.events.append(dict(history.events[-1]))
    return history


def _engine_profiles(compiled, path: Path) -> tuple[dict[str, P.Profile | None], list[tuple[str, str | None]]]:
    engine = Engine(compiled)
    outcomes = [(d.outcome, d.reason) for d in (engine.process(raw) for _, raw in read_raw(path))]
    members = {event.member for event, _ in read_raw(path)}
    return {m: (state.activity if (state := engine.member(m)) is not None else None) for m in members}, outcomes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_file_fold_keeps_the_profile_the_engine_keeps(compiled, history):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in history.events), encoding="utf-8")
        events = read_events(path)
        kept, outcomes = _engine_profiles(compiled, path)
    # the ruleset accepts every event but the reused ids (the file is in the order it was sent)
    refused = {i: reason for i, (outcome, reason) in enumerate(outcomes)
               if outcome not in (Outcome.APPLIED, Outcome.REVIEW, Outcome.DUPLICATE)}
    assert set(refused) == history.conflicts, refused
    end = events[-1].time if events else START
    folded = profiles_at(events, end)
    assert {m: folded.get(m) for m in kept} == kept
    # a churn label's purchase is one the profile counts: with a horizon past the end, a member
    # bought after the cut when the latest purchase the engine kept is after it
    for cut in sorted({event.time for event in events}):
        rows = churn_rows(events, cut, dt.timedelta(days=3650), ["purchases"])
        assert rows.labels == [0 if (p := kept[m]) is not None and p.last is not None and p.last > cut else 1
                               for m in rows.members]


def test_a_refund_is_no_visit_and_no_purchase_and_a_retry_counts_once(tmp_path):
    lines = [{"type": "purchase", "id": "p1", "member": "ann", "time": "2026-03-02T09:00:00+09:00", "amount": "800"},
             {"type": "purchase", "id": "p1", "member": "ann", "time": "2026-03-02T09:00:00+09:00", "amount": "800"},
             {"type": "refund", "id": "r1", "member": "ann", "time": "2026-03-20T09:00:00+09:00", "order": "p1",
              "amount": "800"},
             {"type": "review_decision", "id": "v1", "member": "ann", "time": "2026-03-21T09:00:00+09:00",
              "target": "p1", "verdict": "release"}]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    events = read_events(path)
    [(member, profile)] = profiles_at(events, events[-1].time).items()
    assert member == "ann" and profile.purchases == 1 and sum(profile.hours) == 1 and profile.spend == 800
    assert profile.last == events[0].time
    # the refund after the cut is no purchase: the member churned
    rows = churn_rows(events, dt.datetime.fromisoformat("2026-03-10T00:00:00+09:00"), dt.timedelta(days=60),
                      ["purchases"])
    assert rows.members == ["ann"] and rows.labels == [1]


def test_the_built_in_types_the_profile_skips_are_the_engines():
    assert frozenset(BUILT_IN) == P.BUILT_IN_TYPES
    assert not any(P.counts(kind) for kind in BUILT_IN if kind not in P.OFFER_EVENTS)
    assert all(P.counts(kind) for kind in ("purchase", "check_in", "offer_presented", "offer_used"))
