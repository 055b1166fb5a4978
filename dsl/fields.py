"""Field types shared by the ruleset document's pydantic models (:mod:`.model`, and the sections
kept in their own modules: :mod:`.offers`, :mod:`.split`), so each is defined once."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["ID_PATTERN", "Expr", "EventTypes", "Id", "Strict"]

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


def _expr_text(value: Any) -> Any:
    """YAML reads ``when: true`` or ``points: 10`` as a boolean or a number: the text of an expression."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return value


Expr = Annotated[str, BeforeValidator(_expr_text, json_schema_input_type=str | int | float | bool)]
EventTypes = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v,
                                                  json_schema_input_type=str | list[str])]
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]


class Strict(BaseModel):
    """A section of the document: unknown keys are errors, and a loaded document never changes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
