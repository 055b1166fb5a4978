"""Reading an order's basket (``items: line_items``) and the lines a refund returns
(``items`` of the built-in refund), at the engine's edge (docs/baskets.md).

A line is a plain dict, ``{"sku", "category", "quantity", "amount"}``, with the quantity and
the amount as Decimal: it is stored with the order as it is, and read by ``item.<field>`` and
the basket functions. Lines of one sku and category are merged into one (quantities and
amounts added); one sku under two categories is refused. A returned line is ``{"sku"}`` with
a ``"quantity"`` when one is given, each sku once. A bad line names itself (its position and
sku) and what was expected, never a long value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .numbers import read_number
from .readers import Reader, shown

__all__ = ["MAX_LINES", "MAX_QUANTITY", "MAX_SKU", "line_items_reader", "returned_items_reader"]

MAX_LINES = 500  # lines of one basket: every per_item rule is asked of each
MAX_QUANTITY = 10_000  # units of one line
MAX_SKU = 100  # characters of a sku or a category
_LINE_KEYS = ("sku", "category", "quantity", "amount")
_RETURNED_KEYS = ("sku", "quantity")


def line_items_reader(money: Reader) -> Reader:
    """The reader of a basket, given the reader of the ruleset's money. A till that prints a
    sku on two lines (scanned twice) sends one line's worth of goods twice: lines of the same
    sku and category become one, quantities and amounts added."""
    return lambda value: _merged(_lines(value, lambda i, raw: _line(i, raw, money), _LINE_KEYS), money)


def returned_items_reader() -> Reader:
    """The reader of the lines a refund returns: each sku once (a line without a quantity
    returns every unit kept, so two of them could not be added)."""
    return lambda value: _once(_lines(value, _returned, _RETURNED_KEYS))


def _lines(value: Any, read: Callable[[int, Mapping[str, Any]], dict[str, Any]],
           keys: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"must be a list of lines such as [{{\"sku\": \"latte-12\", ...}}], not {shown(value)}")
    if len(value) > MAX_LINES:
        raise ValueError(f"has {len(value)} lines, more than the {MAX_LINES:,} a basket may hold")
    lines: list[dict[str, Any]] = []
    for i, raw in enumerate(value, start=1):
        if not isinstance(raw, Mapping):
            raise ValueError(f"line {i} must be an object with {', '.join(keys)}, not {shown(raw)}")
        unknown = sorted(str(k) for k in raw if k not in keys)
        if unknown:
            raise ValueError(f"line {i} has unknown key {shown(unknown[0])} (a line has {', '.join(keys)})")
        lines.append(read(i, raw))
    return tuple(lines)


def _once(lines: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
    seen: set[str] = set()
    for i, line in enumerate(lines, start=1):
        if line["sku"] in seen:
            raise ValueError(f"line {i} names sku {shown(line['sku'])} again: give each sku one line "
                             "with its quantity")
        seen.add(line["sku"])
    return lines


def _merged(lines: tuple[dict[str, Any], ...], money: Reader) -> tuple[dict[str, Any], ...]:
    """One line per sku, where the first of them was: a sku under two categories is refused,
    since the rules could not tell which the goods are."""
    first: dict[str, dict[str, Any]] = {}
    for i, line in enumerate(lines, start=1):
        sku, kept = line["sku"], first.get(line["sku"])
        if kept is None:
            first[sku] = dict(line)
            continue
        if kept["category"] != line["category"]:
            raise ValueError(f"line {i} names sku {shown(sku)} again with category {shown(line['category'])}, "
                             f"not {shown(kept['category'])}: a sku has one category")
        kept["quantity"] += line["quantity"]
        if kept["quantity"] > MAX_QUANTITY:
            raise ValueError(f"line {i} (sku {shown(sku)}): the lines of this sku come to more than "
                             f"{MAX_QUANTITY:,} units")
        try:
            kept["amount"] = money(kept["amount"] + line["amount"])
        except ValueError as exc:
            raise ValueError(f"line {i} (sku {shown(sku)}): the lines of this sku come to an amount that {exc}") \
                from None
    return tuple(first.values())


def _line(i: int, raw: Mapping[str, Any], money: Reader) -> dict[str, Any]:
    sku = _text(i, raw, "sku")
    line: dict[str, Any] = {"sku": sku, "category": _text(i, raw, "category")}
    line["quantity"] = _quantity(i, sku, raw.get("quantity", 1))
    if raw.get("amount") is None:
        raise ValueError(f"line {i} (sku {shown(sku)}) has no amount: the money the line cost, quantity included")
    try:
        line["amount"] = money(raw["amount"])
    except ValueError as exc:
        raise ValueError(f"line {i} (sku {shown(sku)}): amount {exc}") from None
    return line


def _returned(i: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    sku = _text(i, raw, "sku")
    if raw.get("quantity") is None:  # every unit of the line still kept
        return {"sku": sku}
    return {"sku": sku, "quantity": _quantity(i, sku, raw["quantity"])}


def _text(i: int, raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SKU or not value.isprintable():
        raise ValueError(f"line {i}: {key} must be printable text of 1 to {MAX_SKU} characters, not {shown(value)}")
    return value


def _quantity(i: int, sku: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        value = None  # a float, a list, ...: never read as a count
    try:  # read as every number is: no spaces, '_', other digits or endless text
        number = read_number(value) if value is not None else None
    except ValueError:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value() \
            or not 1 <= number <= MAX_QUANTITY:
        raise ValueError(f"line {i} (sku {shown(sku)}): quantity must be a whole number from 1 to "
                         f"{MAX_QUANTITY:,}")
    return Decimal(int(number))
