"""The ruleset document as pydantic v2 models (docs/ruleset-format.md describes it).

Expressions are kept here as text (``Expr``); the checker parses them with their
YAML positions. Numbers are Decimal: YAML floats never exist in a punchcard document.
The language's fixed words and limits are in :mod:`.vocabulary`, durations in :mod:`.duration`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import JsonDict

from punchcard.grammar import reserved_words

from .challenges import Challenge, join_events
from .conversion import VOUCHER_EVENTS, Conversion
from .duration import Duration, DurationField
from .fields import EventTypes, Expr, Id
from .fields import Strict as _Strict
from .messages import Messages
from .offers import OFFER_EVENTS, Offers
from .referrals import REFERRAL_EVENTS, Referrals
from .rewards import REDEEM_FIELDS, RedemptionTerms, Reward
from .split import Variants
from .tiers import Downgrade, MetricName, MetricSum, Requirement, TierLevel, TierMetric, Tiers
from .types import FIELD_TYPES, LINE_ITEMS, RETURNED_ITEMS
from .vocabulary import (
    BUILTIN_EVENTS,
    EXPECT_KEYS,
    FACT_KEYWORDS,
    MAX_STEP_PLACES,
    MINOR_UNITS,
    OPTIONAL,
    STATED_KEYS,
    TIER_EVENTS,
    field_base_type,
)

__all__ = [
    "Expr",
    "Rounding",
    "Schema",
    "BaseEarning",
    "EarningRule",
    "Stacking",
    "Cap",
    "Budget",
    "Earning",
    "TierLevel",
    "TierMetric",
    "MetricSum",
    "MetricName",
    "Requirement",
    "Downgrade",
    "Tiers",
    "Expiry",
    "Refunds",
    "Points",
    "StreakReward",
    "Streak",
    "Achievement",
    "FraudRule",
    "ComplianceRequire",
    "ForbidRule",
    "Compliance",
    "RulesetTest",
    "Ruleset",
]


class Effective(_Strict):
    from_: dt.date | None = Field(default=None, alias="from")
    until: dt.date | None = None


class Rounding(_Strict):
    mode: Literal["floor", "ceil", "half_up", "half_even"] = "floor"
    scope: Literal["rule", "event"] = "event"
    step: Decimal = Decimal(1)

    @field_validator("step")
    @classmethod
    def _positive(cls, step: Decimal) -> Decimal:
        # at most 6 decimals: a balance of up to 10**18 such steps is exact in any 28-digit sum
        exponent = step.normalize().as_tuple().exponent  # "n", "N" or "F" for a NaN or an infinity
        if step <= 0 or not isinstance(exponent, int) or exponent < -MAX_STEP_PLACES:
            raise ValueError(f"step must be a positive number with at most {MAX_STEP_PLACES} decimals, "
                             "such as 1, 0.1 or 0.01")
        return step


def _field_type(value: str) -> str:
    if not isinstance(value, str) or field_base_type(value) not in FIELD_TYPES:
        raise ValueError(f"unknown field type {value!r}; use one of {', '.join(FIELD_TYPES)} "
                         "(write 'optional date' for a field the host may leave out)")
    return value


FieldType = Annotated[str, BeforeValidator(_field_type)]
def _not_reserved(name: str) -> str:
    if name in reserved_words():
        raise ValueError(f"{name!r} is a reserved word of the expression language; choose another name")
    return name


FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$",
                                 json_schema_extra={"not": {"enum": [*reserved_words()]}}),
                      AfterValidator(_not_reserved)]


class Schema(_Strict):
    naive_times: Literal["local", "reject"] = "local"  # a time without a UTC offset: local, or an error
    member: dict[FieldName, FieldType] = Field(default_factory=dict)
    events: dict[FieldName, dict[FieldName, FieldType] | None] = Field(default_factory=dict)

    @field_validator("events")
    @classmethod
    def _none_is_empty(cls, events):
        return {name: fields or {} for name, fields in events.items()}

    @field_validator("member")
    @classmethod
    def _no_basket(cls, member):
        for name, kind in member.items():
            if field_base_type(kind) in (LINE_ITEMS, RETURNED_ITEMS):
                raise ValueError(f"member.{name}: a member has no basket; {field_base_type(kind)} is an event's")
        return member


class BaseEarning(_Strict):
    on: EventTypes
    points: Expr
    when: Expr | None = None
    unless: Expr | None = None
    # points:, when: and unless: asked of each line of event.items (docs/baskets.md); unset: false
    # (left unset rather than false, so a rule diff names it only where a ruleset writes it)
    per_item: bool | None = None


MAX_PRIORITY = 1_000_000  # priority: from -MAX_PRIORITY to MAX_PRIORITY


class EarningRule(_Strict):
    id: Id
    on: EventTypes
    when: Expr | None = None
    unless: Expr | None = None
    multiply: Expr | None = None
    bonus: Expr | None = None
    group: str | None = None
    description: str | None = None
    # docs/baskets.md, each unset (false, 0) unless written: a bonus: per line of event.items, read as
    # item.<field>; the higher priority runs first; when an exclusive rule pays, the rules after it in
    # its group do not
    per_item: bool | None = None
    priority: Annotated[int, Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY, strict=True)] | None = None
    exclusive: bool | None = None

    @model_validator(mode="after")
    def _one_effect(self):
        if (self.multiply is None) == (self.bonus is None):
            raise ValueError("a rule gives exactly one of multiply: or bonus:")
        if self.per_item and self.multiply is not None:
            raise ValueError("a per_item rule gives bonus: per line; for a multiplier on a line's points write "
                             "bonus: item.amount * (M - 1) at the base's rate")
        if self.exclusive and self.group is None:
            raise ValueError("exclusive: stops the later rules of the rule's group; give it a group:")
        return self


class Stacking(_Strict):
    multipliers: Literal["add", "multiply"] = "add"
    groups: Literal["best", "add"] = "best"


Period = Literal["event", "day", "week", "month", "year", "lifetime"]


class Cap(_Strict):
    rule: str | None = None
    per: Literal["member", "event"] = "member"
    period: Period = "lifetime"
    max_points: Decimal | None = None
    max_times: int | None = None

    @model_validator(mode="after")
    def _one_limit(self):
        if self.max_points is None and self.max_times is None:
            raise ValueError("a cap needs max_points: or max_times:")
        return self


class Budget(_Strict):
    rule: str
    max_points: Decimal


# In a JSON Schema: two or more rules with multiply: need stacking:, as check says. (Two rules
# sharing a group need it too; JSON Schema cannot compare two items' values, so only check tells.)
_STACKING_STATED: JsonDict = {"if": {"required": ["rules"], "properties": {"rules": {
    "contains": {"type": "object", "required": ["multiply"]}, "minContains": 2}}},
    "then": {"required": ["stacking"]}}


class Earning(_Strict):
    model_config = ConfigDict(json_schema_extra=_STACKING_STATED)

    base: BaseEarning | list[BaseEarning] | None = None
    rules: list[EarningRule] = Field(default_factory=list)
    stacking: Stacking = Stacking()
    caps: list[Cap] = Field(default_factory=list)
    budgets: list[Budget] = Field(default_factory=list)

    @property
    def bases(self) -> list[BaseEarning]:
        if self.base is None:
            return []
        return self.base if isinstance(self.base, list) else [self.base]


class Expiry(_Strict):
    after: DurationField | None = None
    round_to: Literal["none", "month_end", "year_end"] = "none"
    inactivity: DurationField | None = None
    activity: EventTypes = Field(default_factory=lambda: ["purchase", "redeem"])

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.after is None) == (self.inactivity is None):
            raise ValueError("expiry takes either after: (fixed) or inactivity: (rolling)")
        return self


class Refunds(_Strict):
    clawback: Literal["proportional", "none"] = "proportional"
    negative_balance: Literal["allow", "refuse"] = "allow"
    window: DurationField = Duration(amount=12, unit="month")  # orders older than this cannot be refunded


class Points(_Strict):
    pending: DurationField | None = None
    expiry: Expiry | Literal["never"] = "never"
    expiry_notice: DurationField | None = None
    refunds: Refunds = Refunds()


class StreakReward(_Strict):
    at: int | None = Field(default=None, ge=1)
    every: int | None = Field(default=None, ge=1)
    each: Literal["period"] | None = None
    bonus: Expr

    @model_validator(mode="after")
    def _one_trigger(self):
        if sum(x is not None for x in (self.at, self.every, self.each)) != 1:
            raise ValueError("a streak reward takes exactly one of at:, every: or each: period")
        return self


class Streak(_Strict):
    id: Id
    on: EventTypes
    period: Literal["day", "week", "month"]
    when: Expr | None = None
    freezes: int = Field(0, ge=0)
    rewards: list[StreakReward] = Field(default_factory=list)


class Achievement(_Strict):
    id: Id
    on: EventTypes
    when: Expr
    bonus: Expr | None = None
    badge: str | None = None


class FraudRule(_Strict):
    id: Id
    on: EventTypes
    when: Expr
    action: Literal["block", "review", "allow"] = "block"
    reason: str | None = None


class ComplianceRequire(_Strict):
    min_expiry: DurationField | None = None
    min_expiry_notice: DurationField | None = None
    refunds_claw_back: bool | None = None
    max_messages_per_day: int | None = Field(default=None, ge=0)


class ForbidRule(_Strict):
    id: Id
    on: EventTypes | None = None
    when: Expr
    action: Literal["no_points", "no_offer", "no_message", "block"] = "no_points"


class Compliance(_Strict):
    require: ComplianceRequire = ComplianceRequire()
    forbid: list[ForbidRule] = Field(default_factory=list)


# A test's expect: may use only the keys the test runner knows.
_EXPECT_SCHEMA: JsonDict = {"type": "object", "propertyNames": {"enum": list(EXPECT_KEYS)}}


class RulesetTest(_Strict):
    name: str
    variant: Id | None = None  # run the case in this variant, whatever the member's hash says
    member: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(min_length=1, json_schema_extra={
        "items": {"type": "object", "properties": {"expect": _EXPECT_SCHEMA}}})
    expect: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_EXPECT_SCHEMA)


def _let_name(name: str) -> str:
    if name in FACT_KEYWORDS:
        raise ValueError(f"{name!r} is a word of the expression language; choose another name for the fact")
    return name


LetName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$", json_schema_extra={"not": {"enum": [*FACT_KEYWORDS]}}),
                    AfterValidator(_let_name)]


def _require_stated(schema: dict) -> None:
    schema["required"] = [*schema.get("required", []), *STATED_KEYS]


class Ruleset(_Strict):
    model_config = ConfigDict(json_schema_extra=_require_stated)

    punchcard: Literal[1]
    ruleset: Id
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")]
    description: str | None = None
    include: list[str] = Field(default_factory=list)
    effective: Effective = Effective()
    timezone: str = "UTC"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    minor_unit: Annotated[int, Field(ge=0, le=4)] | None = None  # decimals of an amount; None: the ISO 4217 one
    point_value: Decimal = Decimal("0.01")
    rounding: Rounding = Rounding()
    schema_: Schema = Field(Schema(), alias="schema")
    let: dict[LetName, Expr] = Field(default_factory=dict)
    earning: Earning = Earning()
    tiers: Tiers | None = None
    points: Points = Points()
    streaks: list[Streak] = Field(default_factory=list)
    achievements: list[Achievement] = Field(default_factory=list)
    fraud: list[FraudRule] = Field(default_factory=list)
    compliance: Compliance = Compliance()
    # model name -> its file, relative to the ruleset's folder (docs/models.md); score("NAME") reads it
    models: dict[Id, Annotated[str, Field(min_length=1, max_length=500)]] = Field(default_factory=dict)
    offers: Offers | None = None  # dsl/offers.py
    messages: Messages | None = None  # dsl/messages.py
    variants: Variants | None = None
    conversion: Conversion | None = None  # dsl/conversion.py: points into vouchers on a schedule
    rewards: list[Reward] = Field(default_factory=list)  # dsl/rewards.py: the catalogue
    redemption: RedemptionTerms | None = None  # dsl/rewards.py: paying part of an order in points
    challenges: list[Challenge] = Field(default_factory=list)  # dsl/challenges.py: goals with progress
    referrals: Referrals | None = None  # dsl/referrals.py: a friend's first qualifying event rewards both sides
    tests: list[RulesetTest] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA timezone such as Europe/Moscow or Asia/Tokyo") from None
        return name

    @property
    def label(self) -> str:
        return f"{self.ruleset}@{self.version}"

    @property
    def money_places(self) -> int:
        """Decimal places an amount in ``currency`` may have: ``minor_unit`` when given,
        else the currency's ISO 4217 minor unit (2 unless the table says otherwise)."""
        return self.minor_unit if self.minor_unit is not None else MINOR_UNITS.get(self.currency, 2)

    def event_fields(self) -> dict[str, dict[str, str]]:
        """Every event type the ruleset accepts, with its declared fields. The built-in ``profile``
        event updates member fields, so it carries the member schema; other built-ins come with their section."""
        profile = {name: kind if kind.startswith(OPTIONAL) else OPTIONAL + kind
                   for name, kind in self.schema_.member.items()}
        declared = {name: fields or {} for name, fields in self.schema_.events.items()}  # None only before validation
        offers = {**(OFFER_EVENTS if self.offers else {}), **(VOUCHER_EVENTS if self.conversion else {}),
                  **(TIER_EVENTS if self.tiers else {}), **(REFERRAL_EVENTS if self.referrals else {})}
        redeem = {"redeem": REDEEM_FIELDS} if self.rewards or self.redemption is not None else {}  # by reward or order
        return {**BUILTIN_EVENTS, "profile": profile, **redeem, **offers, **join_events(self.challenges), **declared}
