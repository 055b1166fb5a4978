"""Assignment: a pure function of salt and member, dealt by the stated shares."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.dsl.variants import assign, position

MEMBERS = st.text(min_size=1, max_size=30)
HALVES = (("a", Decimal(50)), ("b", Decimal(50)))


@given(st.text(max_size=20), MEMBERS)
def test_the_same_member_always_lands_in_the_same_variant(salt, member):
    assert assign(salt, member, HALVES) == assign(salt, member, HALVES)
    assert 0 <= position(salt, member) < 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=0, max_size=3).map(lambda xs: [*xs, 100 * len(xs) - sum(xs)]))
def test_members_are_dealt_in_the_stated_shares(cuts):
    # shares that add to 100: the gaps between sorted cut points in [0, 100]
    points = sorted(min(max(c, 0), 100) for c in cuts[:-1])
    weights = [b - a for a, b in zip([0, *points], [*points, 100], strict=True)]
    split = tuple((f"v{i}", Decimal(w)) for i, w in enumerate(weights))
    n = 4000
    counts = Counter(assign("salt", f"m{i}", split) for i in range(n))
    for name, share in split:
        p = float(share) / 100
        if p == 0:
            assert counts[name] == 0  # a 0% variant receives nobody
        else:
            assert abs(counts[name] - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1


def test_a_new_salt_reshuffles_about_half_of_a_fifty_fifty_split():
    n = 4000
    moved = sum(assign("one", f"m{i}", HALVES) != assign("two", f"m{i}", HALVES) for i in range(n))
    assert abs(moved - n / 2) < 5 * math.sqrt(n / 4)


@given(MEMBERS)
def test_the_variant_is_the_one_whose_running_share_passes_the_position(member):
    split = (("a", Decimal("12.5")), ("b", Decimal("0")), ("c", Decimal("87.5")))
    at = position("s", member) * 100
    assert assign("s", member, split) == ("a" if at < Fraction(25, 2) else "c")
