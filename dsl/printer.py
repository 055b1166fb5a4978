"""AST -> expression text: the inverse of :func:`punchcard.dsl.parser.parse_expression`.

``parse_expression(print_expression(tree)) == tree`` for every tree the parser can
produce. Parentheses appear only where the grammar's precedence needs them, so
printed rules read the way an analyst would write them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import ast

__all__ = ["print_expression", "PRECEDENCE"]

# Binding strength of each level in grammar/expr.lark, loosest first.
IF, OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POSTFIX = range(9)

PRECEDENCE: dict[str, int] = {
    "if": IF, "or": OR, "and": AND, "not": NOT, "compare": COMPARE,
    "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "unary": UNARY, "postfix": POSTFIX,
}

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def print_expression(node: ast.Node) -> str:
    """Expression text for ``node``, with the fewest parentheses that keep its meaning."""
    return _print(node, IF)


def _print(node: ast.Node, context: int) -> str:
    """Print ``node`` where the grammar expects at least the ``context`` level."""
    text, level = _render(node)
    return f"({text})" if level < context else text


def _render(node: ast.Node) -> tuple[str, int]:
    printer = _PRINTERS.get(type(node))
    if printer is None:
        raise TypeError(f"cannot print {type(node).__name__}")
    return printer(node)


def _if(node: ast.If) -> tuple[str, int]:
    return (f"if {_print(node.condition, IF)} then {_print(node.then, IF)} "
            f"else {_print(node.otherwise, IF)}", IF)


def _logical(node: ast.Logical) -> tuple[str, int]:
    level = OR if node.op == "or" else AND
    # left-associative: the right operand must bind one level tighter
    return f"{_print(node.left, level)} {node.op} {_print(node.right, level + 1)}", level


def _not(node: ast.Not) -> tuple[str, int]:
    return f"not {_print(node.operand, NOT)}", NOT


def _compare(node: ast.Compare) -> tuple[str, int]:
    # comparisons do not chain: both operands sit at the level of sums
    return f"{_print(node.left, SUM)} {node.op} {_print(node.right, SUM)}", COMPARE


def _binary(node: ast.Binary) -> tuple[str, int]:
    level = PRECEDENCE[node.op]
    return f"{_print(node.left, level)} {node.op} {_print(node.right, level + 1)}", level


def _unary(node: ast.Unary) -> tuple[str, int]:
    return f"{node.op}{_print(node.operand, UNARY)}", UNARY


def _field(node: ast.Field) -> tuple[str, int]:
    return f"{_print(node.subject, POSTFIX)}.{node.name}", POSTFIX


def _call(node: ast.Call) -> tuple[str, int]:
    args = [_print(arg, IF) for arg in node.args]
    args += [f"{kw.name}: {_print(kw.value, IF)}" for kw in node.keywords]
    return f"{node.function}({', '.join(args)})", POSTFIX


def _list(node: ast.ListLit) -> tuple[str, int]:
    return "[" + ", ".join(_print(item, IF) for item in node.items) + "]", POSTFIX


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} has no expression syntax")
    text = format(abs(value), "f")
    # the grammar has no negative literals: -5 is unary minus applied to 5
    return f"-{text}" if value.is_signed() and value != 0 else text


def _string(value: str) -> str:
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def _time(value: dt.time) -> str:
    if value.microsecond or value.tzinfo is not None:
        raise ValueError(f"{value} has no expression syntax (whole seconds, no timezone)")
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _duration(node: ast.DurationLit) -> str:
    amount = _number(node.amount)
    return f"{amount} {node.unit}{'' if node.amount == 1 else 's'}"


def _atom(text: str) -> tuple[str, int]:
    return text, POSTFIX


def _signed(text: str) -> tuple[str, int]:
    return (text, UNARY) if text.startswith("-") else (text, POSTFIX)


# Each printer takes the node class it is filed under: the table dispatches on type(node).
_PRINTERS: dict[type[ast.Node], Callable[[Any], tuple[str, int]]] = {
    ast.If: _if,
    ast.Logical: _logical,
    ast.Not: _not,
    ast.Compare: _compare,
    ast.Binary: _binary,
    ast.Unary: _unary,
    ast.Field: _field,
    ast.Call: _call,
    ast.ListLit: _list,
    ast.Name: lambda node: _atom(node.id),
    ast.Number: lambda node: _signed(_number(node.value)),
    ast.String: lambda node: _atom(_string(node.value)),
    ast.Bool: lambda node: _atom("true" if node.value else "false"),
    ast.DateLit: lambda node: _atom(node.value.isoformat()),
    ast.TimeLit: lambda node: _atom(_time(node.value)),
    ast.DurationLit: lambda node: _signed(_duration(node)),
}
