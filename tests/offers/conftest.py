"""Offers-test fixtures: the small ruleset of :mod:`offers_support` compiled both ways, and
rulesets/coffee-offers.yaml."""

from __future__ import annotations

import pytest
from offers_support import COFFEE_OFFERS, SMALL

import punchcard
from punchcard.engine import compile_ruleset


@pytest.fixture(scope="session")
def small():
    return punchcard.compile(SMALL)


@pytest.fixture(scope="session")
def small_general():
    """The same ruleset without generated walks: every event takes the general path."""
    return compile_ruleset(SMALL, specialise=False)


@pytest.fixture(scope="session")
def coffee_offers():
    return punchcard.compile(COFFEE_OFFERS)
