"""The checking stage of the ``conversion:`` section (:mod:`.conversion`): what its models
alone cannot see. A block's value is whole money in the ruleset's currency, a block is a whole
number of rounding steps, and ``redeem_voucher`` is built in rather than declared by hand."""

from __future__ import annotations

from decimal import Decimal

from .checked import CheckedRuleset
from .conversion import VOUCHER_EVENTS
from .errors import Code, Diagnostic

__all__ = ["conversion_diagnostics"]


def conversion_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    """A block's value must be a whole amount of the currency (a voucher is money), a block a
    whole number of rounding steps, and ``redeem_voucher`` is built in, not declared."""
    model = state.valid_model
    conversion = model.conversion
    if conversion is None:
        return []
    out: list[Diagnostic] = []
    places = model.money_places
    if conversion.value != conversion.value.quantize(Decimal(1).scaleb(-places)):
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"a voucher block is worth {conversion.value} {model.currency}, "
                              f"finer than the currency's {places} decimal places",
                              state.source.value(("conversion", "value")).span,
                              hint=f"write the value in whole {model.currency} minor units, e.g. 1.50"))
    step = model.rounding.step
    if conversion.block % step != 0:
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"a block of {conversion.block} points is not a whole number of "
                              f"rounding steps ({step})", state.source.value(("conversion", "block")).span,
                              hint="make the block a multiple of rounding.step, e.g. 150"))
    for name in sorted(set(VOUCHER_EVENTS) & set(model.schema_.events)):
        out.append(Diagnostic(Code.SCHEMA_ERROR, f"{name} is a built-in event type in a ruleset with conversion",
                              state.source.key(("schema", "events", name)), hint="rename the declared event type"))
    return out
