"""The expression language's types, and the few places where they mix.

Mixing rules (documented in docs/expressions.md):

* ``money`` and ``number`` mix in arithmetic; the result is money, except
  ``money / money`` which is a plain number (a ratio);
* they compare with each other freely (``event.amount >= 1300``);
* nothing else mixes: a date never compares with a number, a string never adds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Type",
    "NUMBER",
    "MONEY",
    "STRING",
    "BOOL",
    "DATE",
    "TIME",
    "DATETIME",
    "DURATION",
    "NOTHING",
    "ITEM",
    "RETURNED_ITEM",
    "ITEM_FIELDS",
    "LINE_ITEMS",
    "RETURNED_ITEMS",
    "list_of",
    "FIELD_TYPES",
    "is_numeric",
    "unify",
    "arithmetic_result",
    "comparable",
]


@dataclass(frozen=True)
class Type:
    name: str
    item: Type | None = None

    def __str__(self) -> str:
        return f"list of {self.item}" if self.name == "list" else self.name

    @property
    def is_list(self) -> bool:
        return self.name == "list"

    @property
    def element(self) -> Type:
        """A list type's item type (:func:`list_of` always sets one)."""
        if self.item is None:
            raise TypeError(f"{self} is not a list type")
        return self.item


NUMBER = Type("number")
MONEY = Type("money")
STRING = Type("string")
BOOL = Type("bool")
DATE = Type("date")
TIME = Type("time")
DATETIME = Type("datetime")
DURATION = Type("duration")
NOTHING = Type("nothing")  # the item type of an empty list: fits any list
ITEM = Type("item")  # one line of a basket (docs/baskets.md): read as item.<field> in a per_item rule
RETURNED_ITEM = Type("returned item")  # one line a refund returns: a sku and a quantity


def list_of(item: Type) -> Type:
    return Type("list", item)


# Names an analyst may use for fields in `schema:`.
FIELD_TYPES: dict[str, Type] = {
    "money": MONEY,
    "number": NUMBER,
    "integer": NUMBER,
    "string": STRING,
    "bool": BOOL,
    "date": DATE,
    "datetime": DATETIME,
    "time": TIME,
    "list[string]": list_of(STRING),
    "list[number]": list_of(NUMBER),
    "line_items": list_of(ITEM),  # an order's basket: only as a field named items (docs/baskets.md)
    "returned_items": list_of(RETURNED_ITEM),  # the lines a refund returns: the built-in refund's alone
}

LINE_ITEMS, RETURNED_ITEMS = "line_items", "returned_items"  # the refund's items are its own type
# What item.<field> reads in a per_item rule: a line's fields, the same on every basket.
ITEM_FIELDS: dict[str, Type] = {"sku": STRING, "category": STRING, "quantity": NUMBER, "amount": MONEY}


def is_numeric(t: Type) -> bool:
    return t in (NUMBER, MONEY)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values, or None where they do not mix."""
    if a == b:
        return a
    if a == NOTHING:
        return b
    if b == NOTHING:
        return a
    if is_numeric(a) and is_numeric(b):
        return MONEY
    if a.is_list and b.is_list:
        item = unify(a.element, b.element)
        return list_of(item) if item else None
    return None


_TIME_ARITHMETIC = {
    ("+", DATE, DURATION): DATE,
    ("-", DATE, DURATION): DATE,
    ("+", DATETIME, DURATION): DATETIME,
    ("-", DATETIME, DURATION): DATETIME,
}


def arithmetic_result(op: str, left: Type, right: Type) -> Type | None:
    if (op, left, right) in _TIME_ARITHMETIC:
        return _TIME_ARITHMETIC[(op, left, right)]
    if not (is_numeric(left) and is_numeric(right)):
        return None
    if op == "/" and left == MONEY and right == MONEY:
        return NUMBER
    if op == "*" and left == MONEY and right == MONEY:
        return None  # money squared means nothing
    return MONEY if MONEY in (left, right) else NUMBER


def comparable(left: Type, right: Type, op: str) -> bool:
    common = unify(left, right)
    if common is None or common.is_list:
        return False
    if op in ("==", "!="):
        return True
    return common in (NUMBER, MONEY, STRING, DATE, TIME, DATETIME)
