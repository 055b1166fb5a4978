"""Dataclass nodes of the expression language.

Every node carries ``line``/``column`` *within the expression text* (1-based); the
loader maps them into the YAML file. Nodes are frozen so a checked tree can be
shared by the checker, the printer and the code generator without copies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "Node",
    "Number",
    "String",
    "Bool",
    "DateLit",
    "TimeLit",
    "DurationLit",
    "ListLit",
    "Name",
    "Field",
    "Unary",
    "Binary",
    "Compare",
    "Logical",
    "Not",
    "If",
    "Keyword",
    "Call",
    "walk",
    "path_of",
]


@dataclass(frozen=True)
class Node:
    line: int = field(default=1, kw_only=True, compare=False, repr=False)
    column: int = field(default=1, kw_only=True, compare=False, repr=False)

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True)
class Number(Node):
    value: Decimal


@dataclass(frozen=True)
class String(Node):
    value: str


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class DateLit(Node):
    value: dt.date


@dataclass(frozen=True)
class TimeLit(Node):
    value: dt.time


@dataclass(frozen=True)
class DurationLit(Node):
    amount: Decimal
    unit: str  # singular: minute, hour, day, week, month, year


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]

    def children(self):
        return self.items


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Field(Node):
    """``subject.name``: the only attribute access there is, checked against the schema."""

    subject: Node
    name: str

    def children(self):
        return (self.subject,)


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-"
    operand: Node

    def children(self):
        return (self.operand,)


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * /
    left: Node
    right: Node

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >= in "not in"
    left: Node
    right: Node

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class Logical(Node):
    op: str  # and, or
    left: Node
    right: Node

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def children(self):
        return (self.operand,)


@dataclass(frozen=True)
class If(Node):
    condition: Node
    then: Node
    otherwise: Node

    def children(self):
        return (self.condition, self.then, self.otherwise)


@dataclass(frozen=True)
class Keyword(Node):
    name: str
    value: Node

    def children(self):
        return (self.value,)


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]
    keywords: tuple[Keyword, ...] = ()

    def children(self):
        return self.args + self.keywords

    def keyword(self, name: str) -> Node | None:
        return next((k.value for k in self.keywords if k.name == name), None)


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (iterative: trees may be deep)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


def path_of(node: Node) -> tuple[str, ...] | None:
    """``event.amount`` -> ("event", "amount"); None for anything that is not a dotted name."""
    parts: list[str] = []
    while isinstance(node, Field):
        parts.append(node.name)
        node = node.subject
    if isinstance(node, Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return None
