"""The ``variants:`` section as pydantic models: the salt and the variants with their shares.

Apart from :mod:`.model` so the document stays one readable page; :mod:`.model` names
:class:`Variants` as the ruleset's ``variants`` key, and :mod:`.variants` checks it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from .fields import Id as _Name
from .fields import Strict as _Strict

__all__ = ["Percent", "VariantArm", "Variants"]

def _percent(value: Any) -> Any:
    """``50%``, ``"33.5%"`` or a plain number: a share in percent, kept exact."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return value.strip()[:-1].strip()
    return value


Percent = Annotated[Decimal, BeforeValidator(_percent, json_schema_input_type=str | int | float),
                    Field(ge=0, le=100)]


class VariantArm(_Strict):
    """One variant: its share of members and what it changes (a patch, or a whole ruleset file)."""

    name: _Name
    share: Percent
    description: str | None = None
    patch: dict[str, Any] | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one_change(self):
        if self.patch is not None and self.file is not None:
            raise ValueError("a variant takes patch: or file:, not both")
        return self


class Variants(_Strict):
    salt: Annotated[str, Field(min_length=1, max_length=200)]
    arms: list[VariantArm] = Field(min_length=1)
