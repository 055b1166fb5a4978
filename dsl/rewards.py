"""The ``rewards:`` catalogue and the ``redemption:`` terms of a ruleset (docs/rewards.md).

A reward has a points price, and may have a stock, a validity window and the tiers allowed
to redeem it; ``redemption:`` lets a member pay part of an order in points at a rate, up to
a share of the order, in whole multiples of a step. The models live here rather than in
:mod:`.model`, which imports them; :mod:`.reward_checks` checks what they alone cannot see.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import Field, field_validator, model_validator

from .fields import Id
from .fields import Strict as _Strict
from .vocabulary import MAX_STEP_PLACES

__all__ = ["MAX_STOCK", "REDEEM_FIELDS", "Reward", "RedemptionTerms"]

MAX_STOCK = 10**12  # units of one reward: past this a stock is not a stock
# ``redeem`` in a ruleset with a catalogue or redemption terms: ``points`` may be left out
# (the reward's price, or the most the order allows), and an order may travel with it.
REDEEM_FIELDS: dict[str, str] = {"points": "optional number", "reward": "optional string",
                                 "order": "optional string", "amount": "optional money"}


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class Reward(_Strict):
    id: Id
    name: str = Field(min_length=1, max_length=200)
    points: Decimal = Field(gt=0)  # its price
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)  # None: unlimited
    from_: dt.date | None = Field(default=None, alias="from")  # first local day it may be redeemed
    until: dt.date | None = None  # last local day it may be redeemed
    tiers: list[Id] | None = None  # None: every member, whatever their tier

    @field_validator("points")
    @classmethod
    def _exact(cls, points: Decimal) -> Decimal:
        if _places(points) > MAX_STEP_PLACES:
            raise ValueError(f"a price has at most {MAX_STEP_PLACES} decimals")
        return points

    @model_validator(mode="after")
    def _window(self):
        if self.from_ is not None and self.until is not None and self.until < self.from_:
            raise ValueError("until: is before from:; a reward is redeemable from one day until a later one")
        return self


class RedemptionTerms(_Strict):
    """Paying part of an order in points."""

    rate: Decimal = Field(gt=0)  # points for one unit of the ruleset's currency (JD: 100 beans = 1 CNY)
    step: Decimal = Field(default=Decimal(1), gt=0)  # points are paid in whole multiples of this
    max_share: Decimal = Field(default=Decimal(1), gt=0, le=1)  # of the order amount, at most
    min_points: Decimal | None = Field(default=None, gt=0)  # fewer is not worth paying
    max_points: Decimal | None = Field(default=None, gt=0)  # per order
    # a level's own rate (tiers:): fewer points per unit of money make each point worth more at checkout
    tier_rates: dict[Id, Decimal] = Field(default_factory=dict)

    @field_validator("rate", "step")
    @classmethod
    def _exact(cls, value: Decimal) -> Decimal:
        if _places(value) > MAX_STEP_PLACES:
            raise ValueError(f"at most {MAX_STEP_PLACES} decimals")
        return value

    @field_validator("tier_rates")
    @classmethod
    def _exact_rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for level, rate in rates.items():
            if rate <= 0 or _places(rate) > MAX_STEP_PLACES:
                raise ValueError(f"{level}'s rate must be more than 0, with at most {MAX_STEP_PLACES} decimals")
        return rates

    def rate_for(self, tier: str | None) -> Decimal:
        """Points for one unit of money for a member at ``tier`` (None: no tier)."""
        return self.tier_rates.get(tier, self.rate) if tier is not None else self.rate
