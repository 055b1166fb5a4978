"""The ruleset document as pydantic v2 models (docs/ruleset-format.md describes it).

Expressions are kept here as text (``Expr``); the checker parses them with their
YAML positions. Numbers are Decimal: YAML floats never exist in a punchcard document.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema,
                      field_validator, model_validator)

from .types import FIELD_TYPES

__all__ = [
    "Duration",
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
    "FORMAT_VERSION",
    "OPTIONAL",
    "field_base_type",
    "BUILTIN_EVENTS",
]

FORMAT_VERSION = 1
_UNITS = ("minute", "hour", "day", "week", "month", "year")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week|month|year)s?\s*$")
_ID_RE = r"^[a-z0-9][a-z0-9-]*$"


class Duration(BaseModel):
    """A whole number of calendar units. Months and years are calendar months, not 30 days."""

    model_config = ConfigDict(frozen=True)
    amount: int
    unit: Literal["minute", "hour", "day", "week", "month", "year"]

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}{'' if self.amount == 1 else 's'}"

    def approx_days(self) -> Decimal:
        per = {"minute": Decimal(1) / 1440, "hour": Decimal(1) / 24, "day": 1, "week": 7, "month": 30, "year": 365}
        return Decimal(self.amount) * Decimal(per[self.unit])

    def timedelta(self) -> dt.timedelta | None:
        """Exact length for fixed units; None for months and years (calendar arithmetic)."""
        fixed = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
        return dt.timedelta(seconds=self.amount * fixed[self.unit]) if self.unit in fixed else None


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. '14 days', '3 months' ({', '.join(_UNITS)})")
        return {"amount": int(match.group(1)), "unit": match.group(2)}
    if value == 0 and not isinstance(value, bool):
        return {"amount": 0, "unit": "day"}
    return value


# Editors see the forms analysts write (strings like "14 days"), not the parsed model.
_DURATION_SCHEMA = {"type": "string", "pattern": r"^\s*\d+\s*(minute|hour|day|week|month|year)s?\s*$"}
DurationField = Annotated[Duration, BeforeValidator(_parse_duration, json_schema_input_type=str),
                          PlainSerializer(str, return_type=str), WithJsonSchema(_DURATION_SCHEMA, mode="validation")]


def _expr_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return value


Expr = Annotated[str, BeforeValidator(_expr_text, json_schema_input_type=Union[str, int, float, bool])]
EventTypes = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v,
                                                  json_schema_input_type=Union[str, list[str]])]
Id = Annotated[str, Field(pattern=_ID_RE, max_length=64)]

BUILTIN_EVENTS: dict[str, dict[str, str]] = {
    "refund": {"order": "string", "amount": "money"},
    "redeem": {"points": "number", "reward": "optional string"},
    "redeem_reversal": {"redemption": "string"},
    "tick": {},
    "adjust": {"points": "signed", "reason": "string"},
    "review_decision": {"target": "string", "verdict": "string"},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Effective(_Strict):
    from_: dt.date | None = Field(None, alias="from")
    until: dt.date | None = None


class Rounding(_Strict):
    mode: Literal["floor", "ceil", "half_up", "half_even"] = "floor"
    scope: Literal["rule", "event"] = "event"
    step: Decimal = Decimal(1)

    @field_validator("step")
    @classmethod
    def _positive(cls, step: Decimal) -> Decimal:
        if step <= 0 or step != step.normalize() and step.as_tuple().exponent < -6:
            raise ValueError("step must be a positive number such as 1, 0.1 or 0.01")
        return step


OPTIONAL = "optional "


def field_base_type(value: str) -> str:
    """``optional date`` -> ``date``."""
    return value.removeprefix(OPTIONAL).strip()


def _field_type(value: str) -> str:
    if not isinstance(value, str) or field_base_type(value) not in FIELD_TYPES:
        raise ValueError(f"unknown field type {value!r}; use one of {', '.join(FIELD_TYPES)} "
                         "(write 'optional date' for a field the host may leave out)")
    return value


FieldType = Annotated[str, BeforeValidator(_field_type)]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Schema(_Strict):
    naive_times: Literal["local", "reject"] = "local"  # a time without a UTC offset: local, or an error
    member: dict[FieldName, FieldType] = Field(default_factory=dict)
    events: dict[FieldName, dict[FieldName, FieldType] | None] = Field(default_factory=dict)

    @field_validator("events")
    @classmethod
    def _none_is_empty(cls, events):
        return {name: fields or {} for name, fields in events.items()}


class BaseEarning(_Strict):
    on: EventTypes
    points: Expr
    when: Expr | None = None
    unless: Expr | None = None


class EarningRule(_Strict):
    id: Id
    on: EventTypes
    when: Expr | None = None
    unless: Expr | None = None
    multiply: Expr | None = None
    bonus: Expr | None = None
    group: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_effect(self):
        if (self.multiply is None) == (self.bonus is None):
            raise ValueError("a rule gives exactly one of multiply: or bonus:")
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


class Earning(_Strict):
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


class TierLevel(_Strict):
    name: Id
    min: Decimal
    earn_multiplier: Decimal = Decimal(1)


class Downgrade(_Strict):
    at: Literal["window_end"] = "window_end"
    keep_through: Literal["this_window", "next_window"] = "this_window"
    grace: DurationField | None = None


class MetricSum(_Strict):
    on: EventTypes
    add: Expr


class Tiers(_Strict):
    metric: Union[Literal["spend", "points_earned"], Annotated[str, Field(pattern=r"^count\([a-z_]+\)$")], MetricSum]
    window: Literal["calendar_year", "rolling_12_months", "anniversary_year"] = "calendar_year"
    levels: list[TierLevel] = Field(min_length=1)
    upgrade: Literal["immediate"] = "immediate"
    downgrade: Downgrade | Literal["never"] = Downgrade()
    multiplier_applies_to: Literal["base", "earned"] = "base"


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
    at: int | None = Field(None, ge=1)
    every: int | None = Field(None, ge=1)
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
    max_messages_per_day: int | None = Field(None, ge=0)


class ForbidRule(_Strict):
    id: Id
    on: EventTypes | None = None
    when: Expr
    action: Literal["no_points", "no_offer", "no_message", "block"] = "no_points"


class Compliance(_Strict):
    require: ComplianceRequire = ComplianceRequire()
    forbid: list[ForbidRule] = Field(default_factory=list)


class RulesetTest(_Strict):
    name: str
    member: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(min_length=1)
    expect: dict[str, Any] = Field(default_factory=dict)


_KEYWORDS = ("if", "then", "else", "and", "or", "not", "in", "true", "false", "now", "event", "member", "streak")


def _let_name(name: str) -> str:
    if name in _KEYWORDS:
        raise ValueError(f"{name!r} is a word of the expression language; choose another name for the fact")
    return name


LetName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$"), AfterValidator(_let_name)]


class Ruleset(_Strict):
    punchcard: Literal[1]
    ruleset: Id
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")]
    description: str | None = None
    include: list[str] = Field(default_factory=list)
    effective: Effective = Effective()
    timezone: str = "UTC"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
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

    def event_fields(self) -> dict[str, dict[str, str]]:
        """Every event type the ruleset accepts, with its declared fields. The built-in
        ``profile`` event updates member fields, so it carries the member schema."""
        profile = {name: kind if kind.startswith(OPTIONAL) else OPTIONAL + kind
                   for name, kind in self.schema_.member.items()}
        return {**BUILTIN_EVENTS, "profile": profile, **self.schema_.events}
