"""The ``offers:`` section of a ruleset: a catalogue of offer templates and how they are chosen
(docs/offers.md).

The pydantic models live here rather than in :mod:`.model`, which holds the rest of the
document and imports them; :mod:`.offer_checks` checks what the models alone cannot see.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from .duration import Duration, DurationField
from .fields import EventTypes, Expr, Id
from .fields import Strict as _Strict
from .types import MONEY, NUMBER, STRING, Type

__all__ = ["OFFER_CHOOSE", "OFFER_EVENTS", "OFFER_FIELDS", "OFFER_TYPES", "WEEKDAYS", "Hours", "OfferCap",
           "Grant", "OfferTemplate", "NewOffers", "Choose", "Offers"]

# The built-in events a host sends about offers, only in rulesets with an ``offers:`` section:
# choose offers now (the decision selects them), an offer was presented, an offer was activated.
# ``offer_type`` and ``category`` on a presentation are for event files the models train on.
OFFER_CHOOSE = "offer_choose"
OFFER_EVENTS: dict[str, dict[str, str]] = {
    OFFER_CHOOSE: {},
    "offer_presented": {"offer": "string", "offer_type": "optional string", "category": "optional string"},
    "offer_activated": {"offer": "string"},
}
# What ``offer.<field>`` reads in the expressions that choose offers and in a granted rule.
OFFER_FIELDS: dict[str, Type] = {"id": STRING, "type": STRING, "category": STRING, "value": NUMBER,
                                 "lift": NUMBER, "min_purchase": MONEY}
OFFER_TYPES = ("double_points", "category_bonus", "basket_bonus", "streak_reward", "custom")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DEFAULT_VALUE = {"double_points": Decimal(2)}  # double points: a multiplier of 2 unless stated


class Hours(_Strict):
    """Local hours an offer pays in: from ``from`` up to, not including, ``to``."""

    from_: int = Field(alias="from", ge=0, le=23)
    to: int = Field(ge=1, le=24)

    @model_validator(mode="after")
    def _ordered(self):
        if self.to <= self.from_:
            raise ValueError("hours run from an earlier hour to a later one, e.g. {from: 7, to: 10}")
        return self


class OfferCap(_Strict):
    """The offer's own cap, counted from the moment it was selected."""

    period: Literal["day", "week", "month", "lifetime"] = "lifetime"
    max_points: Decimal | None = Field(default=None, gt=0)
    max_times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_limit(self):
        if self.max_points is None and self.max_times is None:
            raise ValueError("an offer's cap needs max_points: or max_times:")
        return self


class Grant(_Strict):
    """The earning rule an offer grants while it is active: a multiplier or a bonus with its own when."""

    on: EventTypes = Field(default_factory=lambda: ["purchase"])
    when: Expr | None = None
    multiply: Expr | None = None
    bonus: Expr | None = None
    group: str | None = None

    @model_validator(mode="after")
    def _at_most_one(self):
        if self.multiply is not None and self.bonus is not None:
            raise ValueError("a granted rule gives one of multiply: or bonus:, not both")
        return self


class OfferTemplate(_Strict):
    id: Id
    type: Literal["double_points", "category_bonus", "basket_bonus", "streak_reward", "custom"]
    description: str | None = None
    category: str | None = None  # a category, or "favourite": the member's, from history
    hours: Hours | Literal["usual"] | None = None  # "usual": the member's usual hours, from history
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(default_factory=list)
    min_purchase: Decimal | None = Field(default=None, ge=0)
    value: Decimal | None = Field(default=None, gt=0)  # the multiplier, or the bonus points
    lift: Decimal = Field(default=Decimal(0), ge=-1, le=100)  # expected lift in spend, as a fraction
    visits: int | None = Field(default=None, ge=1)  # streak_reward: qualifying purchases to earn it
    eligible: Expr | None = None
    valid_for: DurationField = Duration(amount=14, unit="day")
    activation: Literal["automatic", "host"] = "automatic"
    grant: Grant = Grant()
    cap: OfferCap | None = None
    budget: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self):
        need = {"double_points": ("category",), "category_bonus": ("category", "value"),
                "basket_bonus": ("min_purchase", "value"), "streak_reward": ("visits", "value")}.get(self.type, ())
        missing = [key for key in need if getattr(self, key) is None]
        if missing:
            raise ValueError(f"a {self.type} offer needs {' and '.join(k + ':' for k in missing)}")
        if self.type == "custom" and self.grant.multiply is None and self.grant.bonus is None:
            raise ValueError("a custom offer grants a rule: give grant: with multiply: or bonus:")
        if self.type != "custom" and (self.grant.multiply is not None or self.grant.bonus is not None):
            raise ValueError(f"a {self.type} offer's value is value:; grant: may add on: and when: only")
        return self

    @property
    def kind(self) -> str:
        """multiply or bonus: what the granted rule gives."""
        if self.type == "custom":
            return "multiply" if self.grant.multiply is not None else "bonus"
        return "multiply" if self.type == "double_points" else "bonus"

    @property
    def amount(self) -> Decimal:
        """The offer's value as written (a custom offer's is computed by its rule: 0 here)."""
        return self.value if self.value is not None else _DEFAULT_VALUE.get(self.type, Decimal(0))


class NewOffers(_Strict):
    """At most ``count`` offers selected for a member ``within`` a rolling window."""

    count: int = Field(ge=0)
    within: DurationField = Duration(amount=7, unit="day")


class Choose(_Strict):
    on: EventTypes = Field(default_factory=list)  # event types whose decision may choose offers
    rank: Expr = "offer.value"
    top: int = Field(default=1, ge=1, le=20)
    max_new: NewOffers | None = None
    max_active: int = Field(default=3, ge=1, le=50)


class Offers(_Strict):
    choose: Choose = Choose()
    templates: list[OfferTemplate] = Field(min_length=1, max_length=200)
    keep_ended: DurationField = Duration(amount=12, unit="month")  # how long ended offers are remembered
