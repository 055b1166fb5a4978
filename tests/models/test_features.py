"""The one feature definition: every feature within its bound, offers' too, and segments from
RFM quintiles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from punchcard.engine.policies import features as F
from punchcard.engine.policies import profile as P

TZ = ZoneInfo("Asia/Tokyo")
START = dt.datetime(2025, 1, 1, tzinfo=TZ)

visits = st.lists(st.tuples(st.integers(0, 60 * 24 * 1200), st.integers(0, 10**9), st.sampled_from(["a", "b", None]),
                            st.sampled_from([None, 0, 1])), max_size=30)


def _profile(raw):
    profile = None
    for minutes, amount, category, offer in raw:
        time = START + dt.timedelta(minutes=minutes)
        if offer is None:
            profile = P.fold(profile, time, Decimal(amount), category)
        else:
            profile = P.fold(profile, time, offer=(P.offer_key("double_points", category), offer))
    return profile or P.Profile()


@given(visits, st.integers(0, 60 * 24 * 1500), st.integers(0, 9), st.integers(0, 10**6))
def test_every_feature_is_a_decimal_within_its_bound(raw, minutes, tier, streak):
    values = F.features(_profile(raw), tier, streak, START + dt.timedelta(minutes=minutes))
    assert list(values) == list(F.MEMBER_FEATURES)
    for name, value in values.items():
        low, high = F.BOUNDS[name]
        assert isinstance(value, Decimal) and low <= value <= high, (name, value)


@given(visits, st.sampled_from(F.OFFER_TYPES), st.sampled_from(["a", "b", "c", None]), st.integers(0, 10**12))
def test_every_offer_feature_is_within_its_bound(raw, kind, category, value):
    values = F.offer_features(_profile(raw), kind, category, Decimal(value))
    assert list(values) == list(F.OFFER_FEATURES)
    assert all(F.BOUNDS[name][0] <= v <= F.BOUNDS[name][1] for name, v in values.items())
    assert sum(values[f"offer_{k}"] for k in F.OFFER_TYPES) == 1


def test_features_read_the_profile():
    profile = None
    for day, amount in [(1, 1000), (20, 500), (25, 500)]:
        profile = P.fold(profile, dt.datetime(2026, 3, day, 8, tzinfo=TZ), Decimal(amount), "coffee")
    values = F.features(profile, 2, 5, dt.datetime(2026, 3, 31, 12, tzinfo=TZ))
    assert values["recency_days"] == 6 and values["tenure_days"] == 30
    assert values["visits_30d"] == 2 and values["spend_30d"] == 1000 and values["spend_90d"] == 2000
    assert values["hours_morning"] == 1 and values["top_category_share"] == 1
    assert (values["tier"], values["streak"]) == (2, 5)
    offer = F.offer_features(profile, "category_bonus", "coffee", Decimal(3))
    assert offer["offer_favourite"] == 1 and offer["offer_category_share"] == 1 and offer["offer_use_rate"] == Decimal(
        "0.5")


@given(st.lists(st.tuples(st.integers(0, 800), st.integers(0, 400), st.integers(0, 10**7)), min_size=1, max_size=60))
def test_rfm_scores_run_from_one_to_five_and_every_member_has_a_segment(rows):
    values = [tuple(Decimal(v) for v in row) for row in rows]
    cuts = F.fit_segments(values)
    names = {name for name, *_ in F.SEGMENTS} | {"others"}
    for row in values:
        scores = F.rfm_scores(row, cuts)
        assert all(1 <= s <= 5 for s in scores)
        assert F.segment_name(scores) in names


def test_the_most_recent_frequent_member_is_a_champion():
    rows = [(Decimal(r), Decimal(f), Decimal(m)) for r, f, m in [(1, 50, 9000), (200, 1, 10), (90, 5, 300),
                                                                    (30, 10, 1000), (400, 2, 50)]]
    cuts = F.fit_segments(rows)
    assert F.segment_name(F.rfm_scores(rows[0], cuts)) == "champions"
    assert F.segment_name(F.rfm_scores(rows[4], cuts)) == "hibernating"
