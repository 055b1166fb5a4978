"""Durations as a ruleset writes them ("14 days", "3 months") and as the model holds them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from .vocabulary import MAX_DURATION

__all__ = ["Duration", "DurationField"]

_UNITS = ("minute", "hour", "day", "week", "month", "year")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week|month|year)s?\s*$")


class Duration(BaseModel):
    """A whole number of calendar units. Months and years are calendar months, not 30 days."""

    model_config = ConfigDict(frozen=True)
    amount: int
    unit: Literal["minute", "hour", "day", "week", "month", "year"]

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}{'' if self.amount == 1 else 's'}"

    def approx_days(self) -> Decimal:
        per: dict[str, Decimal | int] = {"minute": Decimal(1) / 1440, "hour": Decimal(1) / 24, "day": 1, "week": 7,
                                         "month": 30, "year": 365}
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
        amount, unit = int(match.group(1)), match.group(2)
        if amount > MAX_DURATION[unit]:
            also = "" if unit == "year" else f" ({MAX_DURATION[unit]} {unit}s)"
            raise ValueError(f"a duration is at most 100 years{also}; {value!r} reaches past the dates the "
                             "ledger holds")
        return {"amount": amount, "unit": unit}
    if value == 0 and not isinstance(value, bool):
        return {"amount": 0, "unit": "day"}
    return value


# Editors see the forms analysts write (strings like "14 days"), not the parsed model.
_DURATION_SCHEMA = {"type": "string", "pattern": r"^\s*\d+\s*(minute|hour|day|week|month|year)s?\s*$"}
DurationField = Annotated[Duration, BeforeValidator(_parse_duration, json_schema_input_type=str),
                          PlainSerializer(str, return_type=str), WithJsonSchema(_DURATION_SCHEMA, mode="validation")]
