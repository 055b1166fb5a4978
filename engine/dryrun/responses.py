"""How a simulated member answers an offer: the one definition the sample data and the
engagement model's simulated history share.

An offer is drawn at random (a type, a category, a value from 2 to 5), and a member uses it with
a probability that grows with the member's share of spend in the offer's category (their
profile, as the engine folds it) and with how much the type pulls: so a model reading the
member's profile can do better than the offer's popularity alone. ``punchcard model
simulate-offers`` (plugins/sklearn/simulate.py) shows members offers every few weeks;
``punchcard sample-events --offers`` (:mod:`.samples`) shows them the offers that bring their
extra purchases. Both draw and decide here, from the caller's random generator.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from punchcard.engine.policies.features import OFFER_TYPES
from punchcard.engine.policies.profile import category_shares
from punchcard.engine.runtime.state import Profile

__all__ = ["TYPE_PULL", "draw_offer", "use_probability", "take_one"]

# How much each offer type adds to the chance of use, beyond the member's share in its category.
TYPE_PULL = {"double_points": 0.10, "category_bonus": 0.05, "basket_bonus": 0.0, "streak_reward": -0.03}
_BASE, _PER_SHARE, _FLOOR, _CEILING = 0.08, 0.6, 0.02, 0.95  # the chance of use, and its bounds


def use_probability(profile: Profile, kind: str, category: str) -> float:
    """The chance that a member with ``profile`` uses an offer of ``kind`` in ``category``."""
    share = float(category_shares(profile).get(category, Decimal(0)))
    return min(_CEILING, max(_FLOOR, _BASE + _PER_SHARE * share + TYPE_PULL.get(kind, 0.0)))


def draw_offer(rng: random.Random, offer: str, categories: list[str]) -> dict[str, Any]:
    """An offer's fields, as offer events carry them: ``offer`` (its id), ``offer_type``,
    ``category`` and ``value``."""
    kind, category = rng.choice(OFFER_TYPES), rng.choice(categories)
    return {"offer": offer, "offer_type": kind, "category": category, "value": Decimal(rng.randint(2, 5))}


def take_one(rng: random.Random, profile: Profile, offers: list[dict[str, Any]]) -> int:
    """Which of ``offers``, shown together, the member takes when they take one: each in
    proportion to its :func:`use_probability`."""
    weights = [use_probability(profile, str(o["offer_type"]), str(o["category"])) for o in offers]
    draw, acc = rng.random() * sum(weights), 0.0
    for index, weight in enumerate(weights):
        acc += weight
        if draw < acc:
            return index
    return len(offers) - 1
