"""Python source generated from the checked AST, compiled once per ruleset.

Only our own tree is turned into code, never the analyst's text: names become
indexes into tables we build (``_k3`` a constant, ``_f2`` a function, ``_l0`` a
let), field names reach the source only through ``repr()`` of a validated name, and
the module runs with empty builtins. A missing optional field raises KeyError,
which the engine reports as "not known" for the rule that read it; any other failure
(a division by zero, an overflow) rejects the event naming the rule
(:func:`.earning.rule_result`, :func:`.earning.run_rule`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from punchcard.dsl import ast
from punchcard.dsl.functions import LINE_KEY, FunctionSpec
from punchcard.dsl.sourcemap import Path

from ..program import ExprFn
from ..runtime import calendar
from ..runtime.context import MISSING, NOT_WHEN, UNLESS

__all__ = ["CodeGen", "RuleNodes"]

# An earning rule's when: and unless: (either may be None) and its value, generated as one function.
RuleNodes = tuple[ast.Node | None, ast.Node | None, ast.Node]

_COMPARE = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "in", "not in": "not in"}
_ARITH = {"+", "-", "*", "/"}
_LITERALS = (ast.Number, ast.String, ast.Bool, ast.DateLit, ast.TimeLit)


@dataclass
class CodeGen:
    """Builds one module holding a function per expression and per ``let``."""

    functions: dict[str, FunctionSpec]
    lets: dict[str, ast.Node]
    consts: list[Any] = field(default_factory=list)
    impls: list[Callable[..., Any]] = field(default_factory=list)
    impl_index: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.let_index = {name: i for i, name in enumerate(self.lets)}

    # -- module ----------------------------------------------------------------------
    def build(self, exprs: dict[Path, ast.Node], rules: dict[Path, RuleNodes] | None = None) -> dict[Path, ExprFn]:
        """One function per expression; and per rule in ``rules`` (key -> (when, unless, value)
        nodes, either condition may be None) one function doing all three in one call."""
        rules = rules or {}
        for name, node in self.lets.items():
            self.sources.append(self._let_source(name, node))
        keys = list(exprs)
        for i, key in enumerate(keys):
            self.sources.append(f"def _x{i}(ev, m, ctx):\n    return {self.expr(exprs[key])}\n")
        rule_keys = list(rules)
        for i, key in enumerate(rule_keys):
            self.sources.append(self._rule_source(i, *rules[key]))
        namespace = self._namespace()
        code = compile("\n".join(self.sources), "<punchcard ruleset>", "exec")
        exec(code, namespace)
        built = {key: namespace[f"_x{i}"] for i, key in enumerate(keys)}
        built.update({key: namespace[f"_r{i}"] for i, key in enumerate(rule_keys)})
        return built

    def _rule_source(self, i: int, when: ast.Node | None, unless: ast.Node | None, value: ast.Node) -> str:
        lines = [f"def _r{i}(ev, m, ctx):"]
        if when is not None:
            lines.append(f"    if not {self.expr(when)}:\n        return _NOT_WHEN")
        if unless is not None:
            lines.append(f"    if {self.expr(unless)}:\n        return _UNLESS")
        lines.append(f"    return {self.expr(value)}\n")
        return "\n".join(lines)

    def _let_source(self, name: str, node: ast.Node) -> str:
        i = self.let_index[name]
        key = repr(name)
        return (f"def _l{i}(ev, m, ctx):\n"
                f"    v = ctx.lets.get({key}, _MISSING)\n"
                f"    if v is _MISSING:\n"
                f"        v = ctx.lets[{key}] = {self.expr(node)}\n"
                f"    return v\n")

    def _namespace(self) -> dict[str, Any]:
        namespace: dict[str, Any] = {"__builtins__": {}, "_MISSING": MISSING, "_add": calendar.add,
                                     "_NOT_WHEN": NOT_WHEN, "_UNLESS": UNLESS}
        namespace.update({f"_k{i}": value for i, value in enumerate(self.consts)})
        namespace.update({f"_f{i}": impl for i, impl in enumerate(self.impls)})
        return namespace

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"_k{len(self.consts) - 1}"

    # -- expressions -----------------------------------------------------------------
    def expr(self, node: ast.Node) -> str:
        method: Callable[[ast.Node], str] = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Number(self, node: ast.Number) -> str:
        return self.const(node.value)

    def _String(self, node: ast.String) -> str:
        return repr(node.value)

    def _Bool(self, node: ast.Bool) -> str:
        return "True" if node.value else "False"

    def _DateLit(self, node: ast.DateLit) -> str:
        return self.const(node.value)

    def _TimeLit(self, node: ast.TimeLit) -> str:
        return self.const(node.value)

    def _DurationLit(self, node: ast.DurationLit) -> str:  # only reached inside date arithmetic and within:
        raise TypeError("a duration is not a value")

    def _ListLit(self, node: ast.ListLit) -> str:
        literals = [i for i in node.items if isinstance(i, _LITERALS)]
        if len(literals) == len(node.items):  # a list of constants: one frozenset, built once
            return self.const(frozenset(i.value for i in literals))
        return "(" + "".join(self.expr(i) + ", " for i in node.items) + ")"

    def _Name(self, node: ast.Name) -> str:
        if node.id == "now":
            return "ctx.now"
        return f"_l{self.let_index[node.id]}(ev, m, ctx)"

    def _Field(self, node: ast.Field) -> str:
        path = ast.path_of(node)
        assert path is not None  # the checker reads fields of names only
        root, name = path
        if root == "streak":
            return "ctx.streak_length"
        if root == "offer":  # the offer being chosen or paying (engine/policies/offers.py)
            return f"ctx.offer[{name!r}]"
        if root == "item":  # the basket line a per_item rule is asked about (engine/policies/earning_rules.py)
            return f"ev[{LINE_KEY!r}][{name!r}]"
        return f"{'ev' if root == 'event' else 'm'}[{name!r}]"

    def _Unary(self, node: ast.Unary) -> str:
        return f"(-{self.expr(node.operand)})"

    def _Binary(self, node: ast.Binary) -> str:
        if isinstance(node.right, ast.DurationLit):
            sign = 1 if node.op == "+" else -1
            amount = int(node.right.amount) * sign
            return f"_add({self.expr(node.left)}, {amount}, {node.right.unit!r})"
        assert node.op in _ARITH
        return f"({self.expr(node.left)} {node.op} {self.expr(node.right)})"

    def _Compare(self, node: ast.Compare) -> str:
        return f"({self.expr(node.left)} {_COMPARE[node.op]} {self.expr(node.right)})"

    def _Logical(self, node: ast.Logical) -> str:
        return f"({self.expr(node.left)} {'and' if node.op == 'and' else 'or'} {self.expr(node.right)})"

    def _Not(self, node: ast.Not) -> str:
        return f"(not {self.expr(node.operand)})"

    def _If(self, node: ast.If) -> str:
        return f"({self.expr(node.then)} if {self.expr(node.condition)} else {self.expr(node.otherwise)})"

    def _Call(self, node: ast.Call) -> str:
        if node.function in ("count", "sum"):
            return self._aggregate(node)
        if node.function == "score":  # a model's score, as the checker made sure: score("NAME")
            assert isinstance(node.args[0], ast.String)
            return f"ctx.score({node.args[0].value!r})"
        index = self.impl_index.get(node.function)
        if index is None:
            self.impls.append(self.functions[node.function].impl)
            index = self.impl_index[node.function] = len(self.impls) - 1
        args = "".join(", " + self.expr(a) for a in node.args)
        return f"_f{index}(ctx{args})"

    def _aggregate(self, node: ast.Call) -> str:
        within = node.keyword("within")
        path = ast.path_of(node.args[0])
        assert isinstance(within, ast.DurationLit) and path is not None  # the checker's shape of count() and sum()
        amount, unit = int(within.amount), within.unit
        if node.function == "count":
            return f"ctx.count({path[0]!r}, {amount}, {unit!r})"
        return f"ctx.sum({path[0]!r}, {path[1]!r}, {amount}, {unit!r})"
