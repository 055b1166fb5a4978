"""The member profile: folded the same whatever the order, bounded, read by offers, and kept by
the engine only for rulesets that read it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

import punchcard
from punchcard.engine.evaluate import evaluate
from punchcard.engine.policies import profile as P
from punchcard.engine.runtime.events import Event
from punchcard.engine.runtime.state import Profile

TZ = ZoneInfo("Asia/Tokyo")
START = dt.datetime(2026, 1, 1, tzinfo=TZ)

events_strategy = st.lists(
    st.tuples(st.integers(0, 60 * 24 * 900), st.sampled_from(["purchase", "check_in", "offer_presented", "offer_used"]),
              st.integers(0, 5000), st.sampled_from(["coffee", "food", "home", None])),
    max_size=40)


def _events(raw) -> list[Event]:
    out = []
    for i, (minutes, kind, amount, category) in enumerate(raw):
        fields = {"amount": Decimal(amount)} if kind == "purchase" else {}
        if category is not None:
            fields["category"] = category
        if kind.startswith("offer"):
            fields["offer_type"] = "double_points"
        out.append(Event(f"e{i}", kind, "m1", START + dt.timedelta(minutes=minutes), fields))
    return out


@given(events_strategy, st.randoms(use_true_random=False))
def test_the_fold_does_not_depend_on_the_order_of_events(raw, random):
    events = _events(raw)
    shuffled = list(events)
    random.shuffle(shuffled)
    assert P.fold_all(events) == P.fold_all(shuffled)


@given(events_strategy)
def test_the_profile_stays_bounded_and_counts_every_visit(raw):
    events = _events(raw)
    profile = P.fold_all(events)
    visits = sum(1 for e in events if not e.type.startswith("offer"))
    assert sum(profile.hours) == sum(profile.weekdays) == visits
    assert len(profile.days) <= P.HORIZON_DAYS + 1 and len(profile.categories) <= P.MAX_KEYS + 1
    if profile.days:
        assert profile.days[-1][0] - profile.days[0][0] <= P.HORIZON_DAYS
    assert profile.purchases == sum(1 for e in events if e.type == "purchase" and e.fields["amount"] > 0)


def test_favourite_category_and_usual_hours():
    profile = None
    for day, hour, amount, category in [(2, 8, 300, "coffee"), (3, 8, 350, "coffee"), (4, 9, 400, "coffee"),
                                        (5, 18, 900, "food"), (6, 8, 200, "coffee")]:
        profile = P.fold(profile, dt.datetime(2026, 3, day, hour, 5, tzinfo=TZ), Decimal(amount), category)
    assert P.favourite_category(profile) == "coffee"  # 1250 on coffee, 900 on food
    assert P.usual_hours(profile) == (8, 9)  # 3 of 5 visits at 8:xx: 60%
    assert P.usual_weekdays(profile) == (0, 3)  # Monday 2 March to Wednesday: 3 of 5
    assert P.favourite_category(Profile()) is None and P.usual_hours(Profile()) is None


def test_a_tie_for_favourite_goes_to_the_first_category_by_name():
    profile = P.fold(P.fold(None, START, Decimal(5), "tea"), START, Decimal(5), "coffee")
    assert P.favourite_category(profile) == "coffee"


def test_categories_past_the_bound_count_as_other():
    profile = None
    for i in range(P.MAX_KEYS + 5):
        profile = P.fold(profile, START, Decimal(1), f"c{i:03d}")
    assert len(profile.categories) == P.MAX_KEYS + 1 and dict(profile.categories)[P.OTHER] == 5


RULESET = """\
punchcard: 1
ruleset: profiled
version: 1.0.0
timezone: Asia/Tokyo
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string}
earning:
  base: {on: purchase, points: event.amount / 100}
"""


def test_a_ruleset_without_models_or_offers_keeps_no_profile():
    compiled = punchcard.compile(RULESET)
    assert "profile" not in compiled.plans["purchase"].phases
    decision, state = evaluate(compiled, None, {"type": "purchase", "id": "p1", "member": "m1",
                                                "time": "2026-03-02T08:00:00", "amount": "500", "category": "food"})
    assert state.activity is None and "models" not in decision.to_dict()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60 * 24 * 300), st.integers(1, 3000), st.sampled_from(["food", "home"])),
                min_size=1, max_size=12))
def test_the_engine_folds_what_training_folds(compiled_model, raw):
    """Same member, same events: the profile the engine keeps is the one training folds."""
    compiled = compiled_model  # a ruleset with a model: the engine keeps the profile
    raw = sorted(raw)
    state = None
    events = []
    for i, (minutes, amount, category) in enumerate(raw):
        time = START + dt.timedelta(minutes=minutes)
        _, state = evaluate(compiled, state, {"type": "purchase", "id": f"p{i}", "member": "m1",
                                              "time": time.isoformat(), "amount": str(amount), "category": category})
        events.append(Event(f"p{i}", "purchase", "m1", time, {"amount": Decimal(amount), "category": category}))
    assert state.activity == P.fold_all(events)
