"""The dry-run of referrals replays the referrers' derived events: its totals are exactly the
engine's, when the engine settles each friend's derived event after the friend's event (as
``punchcard process`` does), with one worker or several, for generated friends and referrers."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import punchcard
from punchcard.engine import Engine, MemoryStore
from punchcard.engine.dryrun import Options, dry_run
from punchcard.engine.dryrun.report import build_report
from punchcard.engine.messaging.referrals import settle
from punchcard.engine.runtime.referral import referral_code

RULESET = Path(__file__).parent / "rulesets" / "referral-caps.yaml"
COMPILED = punchcard.compile(RULESET)
START = dt.datetime(2026, 3, 1, 9)

people = st.lists(st.tuples(st.sampled_from(["ana", "ana", "ben", "f0"]), st.integers(0, 24 * 70),
                            st.lists(st.tuples(st.integers(-12, 24 * 35), st.sampled_from([5, 20, 45])), max_size=3)),
                  min_size=1, max_size=12)


def _events(friends: list[tuple]) -> list[dict]:
    own = (START + dt.timedelta(days=20)).isoformat()
    events = [{"type": "purchase", "id": f"{who}-own", "member": who, "time": own, "amount": "30"}
              for who in ("ana", "ben")]
    for n, (code, signed, purchases) in enumerate(friends):
        friend, at = f"f{n}", START + dt.timedelta(hours=signed)
        events.append({"type": "referred", "id": f"{friend}-r", "member": friend, "time": at.isoformat(),
                       "code": referral_code(code)})
        events += [{"type": "purchase", "id": f"{friend}-{i}", "member": friend,
                    "time": (at + dt.timedelta(hours=later)).isoformat(), "amount": str(amount)}
                   for i, (later, amount) in enumerate(purchases)]
    return sorted(events, key=lambda e: (e["time"], e["id"]))


def _engine_totals(events: list[dict]) -> tuple[Decimal, Counter]:
    store = MemoryStore()
    engine = Engine(COMPILED, store)
    outcomes: Counter = Counter()
    for event in events:
        outcomes[str(engine.process(event).outcome)] += 1
        for decision in settle(store, engine).decisions:
            outcomes[str(decision.outcome)] += 1
    members = {e["member"] for e in events} | {"ana", "ben"}
    return sum((store.member(m).total() for m in members if store.member(m) is not None), Decimal(0)), outcomes


@settings(max_examples=25, deadline=None)
@given(people, st.sampled_from([1, 2]))
def test_the_dry_run_agrees_with_the_engine_derived_events_included(tmp_path_factory, friends, workers):
    events = _events(friends)
    path = tmp_path_factory.mktemp("referrals") / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    totals = build_report(dry_run(Options(RULESET, path, workers=workers)))["totals"]
    issued, outcomes = _engine_totals(events)
    assert Decimal(totals["points_issued"]) == Decimal(totals["liability_points"]) == issued
    assert (totals["events"], totals["applied"], totals["rejected"]) == (
        sum(outcomes.values()), outcomes["applied"], outcomes["rejected"])
