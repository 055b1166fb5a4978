"""The ``conversion:`` section of a ruleset: points turned into money vouchers on a schedule
(docs/conversion.md).

At the end of each month named in ``months`` (local time), a member's spendable points
become vouchers in whole blocks of ``block`` points, each block worth ``value`` in the
ruleset's currency; the remainder stays as points. A member with fewer than ``minimum``
points (one block unless stated) keeps them all until a later period end. The models live here rather than in
:mod:`.model`, which imports them; :mod:`.conversion_checks` checks what the models alone
cannot see (the value against the currency, a hand-declared voucher event).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator

from .duration import DurationField
from .fields import Strict as _Strict

__all__ = ["VOUCHER_EVENTS", "Conversion"]

# The built-in event a host sends to spend a voucher, only in rulesets with a ``conversion:`` section.
VOUCHER_EVENTS: dict[str, dict[str, str]] = {"redeem_voucher": {"voucher": "string"}}
_QUARTER_ENDS = [3, 6, 9, 12]
_LAST_MONTH = 12


class Conversion(_Strict):
    """Points become vouchers at the end of each month in ``months``, in whole blocks."""

    months: list[int] = Field(default_factory=lambda: list(_QUARTER_ENDS), min_length=1, max_length=12)
    block: Decimal = Field(gt=0, le=Decimal(10) ** 12)  # points per block
    value: Decimal = Field(gt=0, le=Decimal(10) ** 9)  # money per block, in the ruleset's currency
    minimum: Decimal | None = Field(default=None, ge=0, le=Decimal(10) ** 12)  # points needed first; none: a block
    expires: DurationField | None = None  # how long a voucher can be spent; none: it never expires
    description: str | None = Field(default=None, max_length=500)

    @field_validator("months")
    @classmethod
    def _months(cls, months: list[int]) -> list[int]:
        if any(not 1 <= month <= _LAST_MONTH for month in months):
            raise ValueError("months are numbers from 1 (January) to 12 (December), e.g. [2, 5, 8, 11]")
        if len(set(months)) != len(months):
            raise ValueError("each month is named once")
        return sorted(months)
