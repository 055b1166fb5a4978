"""Baskets: which line of an order earned which points, and the basket a refund naming items
leaves (docs/baskets.md).

When an order carries ``items: line_items``, the points it earned (after stacking, caps and
rounding) are shared among its lines, exactly: a per_item rule's points go to the lines it
paid on, in proportion to what each line earned from it; every other share (a base on
``event.amount``, a basket bonus, the tier multiplier) goes to the lines in proportion to what
they earned from per_item rules, or to their amounts when no per_item rule paid. Each line
then holds a whole number of rounding steps, as the order does, and the lines add up to the
order's points exactly. The order keeps them per line, with the units still kept. A refund
that names items re-evaluates the order on the basket it keeps (:func:`kept_basket`), and the
lines left share what the order keeps (:func:`reshared`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from ..runtime.run import Rejected
from ..runtime.state import ZERO, OrderRecord
from .earning_rules import Part

__all__ = ["Line", "basket_of", "line_points", "unearned", "allocate", "kept_basket", "reshared"]

Line = tuple[str, int, Decimal]  # (sku, units still kept, the points they hold)
_FINEST = -12  # the finest decimal place a line's share is cut at; the remainder goes to the largest


def basket_of(values: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The event's lines when it declares ``items: line_items`` (an ``items`` field of another
    type is the analyst's own, and no basket)."""
    items = values.get("items")
    if type(items) is tuple and items and type(items[0]) is dict:
        return items
    return ()


def allocate(total: Decimal, weights: Sequence[Decimal], step: Decimal | None = None) -> list[Decimal]:
    """``total`` shared in proportion to ``weights``, each share at least 0 and the shares
    adding up to ``total`` exactly: each cut down to a multiple of ``step`` (the ruleset's
    rounding step; without one, at the 12th decimal place at most), and the remainder of
    the cuts goes to the largest weight."""
    if not weights:
        return []
    whole = sum(weights, ZERO)
    if whole <= 0:  # nothing to go by: equal shares
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    if step is not None:
        shares = [(total * weight / whole / step).to_integral_value(rounding=ROUND_FLOOR) * step
                  for weight in weights]
    else:
        exponent = total.as_tuple().exponent
        quantum = Decimal(1).scaleb(max(exponent, _FINEST) if isinstance(exponent, int) else _FINEST)
        shares = [(total * weight / whole).quantize(quantum, rounding=ROUND_FLOOR) for weight in weights]
    largest = max(range(len(weights)), key=weights.__getitem__)
    shares[largest] += total - sum(shares, ZERO)
    return shares


def line_points(parts: Sequence[Part], lines: Sequence[Mapping[str, Any]], step: Decimal) -> tuple[Line, ...]:
    """Each line's share of what ``parts`` pay (their ``final`` points), in multiples of the
    rounding ``step`` as the order's points are."""
    if not lines:
        return ()
    skus = [line["sku"] for line in lines]
    earned = dict.fromkeys(skus, ZERO)  # what each line earned from per_item rules
    for part in parts:
        for sku, raw in (part.shares or {}).items():
            earned[sku] += raw
    weights = list(earned.values())
    if not any(weights):
        weights = [line["amount"] for line in lines]
    points = dict.fromkeys(skus, ZERO)
    for part in parts:
        if not part.final:
            continue
        own = part.shares is not None and any(part.shares.values())
        keys = list(part.shares) if own and part.shares is not None else skus
        split = allocate(part.final, [part.shares[k] for k in keys] if own and part.shares else weights)
        for sku, share in zip(keys, split, strict=True):
            points[sku] += share
    shares = allocate(sum(points.values(), ZERO), list(points.values()), step)  # whole steps, as the order
    return tuple((line["sku"], int(line["quantity"]), share) for line, share in zip(lines, shares, strict=True))


def unearned(lines: Sequence[Mapping[str, Any]]) -> tuple[Line, ...]:
    """The lines of an order that earned nothing (no rule ran, or a gate forbade points)."""
    return tuple((line["sku"], int(line["quantity"]), ZERO) for line in lines)


def kept_basket(order: OrderRecord, returned: Sequence[Mapping[str, Any]],
                places: int) -> tuple[tuple[Line, ...], tuple[dict[str, Any], ...]]:
    """The order's lines once the ``returned`` units are gone (their points still as before),
    and the basket the order is re-evaluated on: each line with units left, its quantity the
    units kept and its amount the kept units' part of what it cost, cut down to the
    currency's minor unit (``places``)."""
    if not order.lines:
        raise Rejected(f"order {order.id} carried no items, so a refund of it cannot name any: "
                       "refund an amount alone")
    kept = {sku: units for sku, units, _points in order.lines}
    for line in returned:
        sku = line["sku"]
        if sku not in kept:
            raise Rejected(f"order {order.id} has no line with sku {sku!r} (or none of it is left)")
        units = kept[sku]
        if units == 0:
            raise Rejected(f"every unit of sku {sku!r} on order {order.id} was already refunded")
        count = int(line.get("quantity", units))
        if count > units:
            raise Rejected(f"order {order.id} keeps {units} of sku {sku!r}, fewer than the {count} returned")
        kept[sku] = units - count
    minor = Decimal(1).scaleb(-places)
    basket = tuple({**line, "quantity": Decimal(kept[line["sku"]]),
                    "amount": (line["amount"] * kept[line["sku"]] / line["quantity"]).quantize(minor, ROUND_FLOOR)}
                   for line in basket_of(dict(order.fields)) if kept.get(line["sku"]))
    return tuple((sku, kept[sku], points) for sku, _units, points in order.lines), basket


def reshared(lines: Sequence[Line], points: Decimal, step: Decimal) -> tuple[Line, ...]:
    """The points an order keeps shared among its lines with units left, in proportion to what
    they held (to equal shares when they held nothing), each a whole number of steps."""
    live = [i for i, (_sku, units, _held) in enumerate(lines) if units]
    shares = dict(zip(live, allocate(points, [lines[i][2] for i in live], step), strict=True))
    return tuple((sku, units, shares.get(i, ZERO)) for i, (sku, units, _held) in enumerate(lines))
