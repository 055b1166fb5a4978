"""Expression text -> AST. The only place that knows about Lark.

Lark's own exceptions never escape: they are translated at this boundary into a
:class:`PunchcardError` positioned in the analyst's file (through a ``locate``
function supplied by the ruleset loader).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from punchcard.grammar import grammar_text, reserved_words

from . import ast
from .errors import Code, Diagnostic, PunchcardError, Span
from .vocabulary import MAX_DURATION

__all__ = ["ExprLimits", "Locator", "RESERVED_WORDS", "parse_expression", "plain_locator"]

Locator = Callable[[int, int], Span]


class ExprLimits:
    max_length = 2000
    max_depth = 40
    max_list_items = 500
    max_digits = 15  # before the point, and after it: 10^15 is far above any amount, rate or count
    # The longest duration: 100 years, so windows and date arithmetic stay inside the dates
    # the ledger holds, and the history a window keeps stays bounded.
    max_duration = MAX_DURATION


def plain_locator(file: str = "<expr>") -> Locator:
    return lambda line, column: Span(file, line, column)


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=False)


RESERVED_WORDS: tuple[str, ...] = reserved_words()

# What each keyword is for, so an error at a misplaced one can say how it is used.
_KEYWORD_USE = {
    "and": "`and` joins two conditions: `a and b`",
    "or": "`or` joins two conditions: `a or b`",
    "not": "`not` goes before a condition (`not a`) or before `in` (`x not in [1, 2]`)",
    "in": "`in` asks whether a value is in a list: `x in [1, 2]`",
    "if": "`if` starts a choice, `if c then a else b`, and needs brackets inside a larger expression",
    "then": "`then` belongs to `if c then a else b`",
    "else": "`else` belongs to `if c then a else b`",
    "true": "`true` is a bool value",
    "false": "`false` is a bool value",
}

_UNITS = {u + "s": u for u in ("minute", "hour", "day", "week", "month", "year")}

_TOKEN_WORDS = {
    "COMPARE": "a comparison (==, <, ...)", "ADD_OP": "+ or -", "MUL_OP": "* or /", "NAME": "a name",
    "NUMBER": "a number", "STRING": "a string", "DATE": "a date", "TIME": "a time", "UNIT": "a unit (days, ...)",
    "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "COMMA": ",", "DOT": ".", "COLON": ":",
    "MINUS": "-", "$END": "the end of the expression",
}


def _pos(meta_or_token) -> dict:
    return {"line": getattr(meta_or_token, "line", 1) or 1, "column": getattr(meta_or_token, "column", 1) or 1}


@v_args(meta=True, inline=True)
class _ToAst(Transformer):
    """Lark tree -> dataclass nodes. Positions come from ``propagate_positions``."""

    def number_lit(self, meta, tok):
        return ast.Number(_number(tok), **_pos(tok))

    def string_lit(self, meta, tok):
        return ast.String(_unquote(str(tok)), **_pos(tok))

    def true_lit(self, meta):
        return ast.Bool(True, **_pos(meta))

    def false_lit(self, meta):
        return ast.Bool(False, **_pos(meta))

    def date_lit(self, meta, tok):
        try:
            return ast.DateLit(dt.date.fromisoformat(str(tok)), **_pos(tok))
        except ValueError:
            raise _BadLiteral(tok, f"{tok} is not a real date") from None

    def time_lit(self, meta, tok):
        try:
            text = str(tok)
            # fromisoformat wants two-digit hours: 9:30:15 -> 09:30:15
            return ast.TimeLit(dt.time.fromisoformat("0" + text if text[1] == ":" else text), **_pos(tok))
        except ValueError:
            raise _BadLiteral(tok, f"{tok} is not a real time of day") from None

    def duration_lit(self, meta, amount, unit):
        name = _UNITS.get(str(unit), str(unit))
        value = _number(amount)
        if value != value.to_integral_value():  # calendar units do not divide: 1.5 months means nothing
            raise _BadLiteral(amount, f"a duration is a whole number of units, not {amount} {unit}",
                              hint="use a smaller unit: 36 hours, not 1.5 days")
        if value > ExprLimits.max_duration[name]:
            most = ExprLimits.max_duration
            also = "" if name == "year" else f" ({most[name]} {name}s)"
            raise _BadLiteral(amount, f"a duration is at most {most['year']} years{also}; {amount} {unit} reaches "
                              "past the dates the ledger holds", Code.LIMIT_ERROR)
        return ast.DurationLit(value, name, **_pos(amount))

    def list_lit(self, meta, *items):
        if len(items) > ExprLimits.max_list_items:
            raise _BadLiteral(meta, f"a list may hold at most {ExprLimits.max_list_items} items", Code.LIMIT_ERROR)
        return ast.ListLit(tuple(i for i in items if i is not None), **_pos(meta))

    def name(self, meta, tok):
        return ast.Name(str(tok), **_pos(tok))

    def field(self, meta, subject, tok):
        return ast.Field(subject, str(tok), **_pos(tok))

    def neg(self, meta, operand):
        return ast.Unary("-", operand, **_pos(meta))

    def binary(self, meta, left, op, right):
        return ast.Binary(str(op), left, right, **_pos(op))

    def compare(self, meta, left, op, right):
        return ast.Compare(str(op), left, right, **_pos(op))

    def in_expr(self, meta, left, right):
        return ast.Compare("in", left, right, **_pos(meta))

    def not_in_expr(self, meta, left, right):
        return ast.Compare("not in", left, right, **_pos(meta))

    def and_expr(self, meta, left, right):
        return ast.Logical("and", left, right, **_pos(meta))

    def or_expr(self, meta, left, right):
        return ast.Logical("or", left, right, **_pos(meta))

    def not_expr(self, meta, operand):
        return ast.Not(operand, **_pos(meta))

    def if_expr(self, meta, cond, then, otherwise):
        return ast.If(cond, then, otherwise, **_pos(meta))

    def keyword(self, meta, tok, value):
        return ast.Keyword(str(tok), value, **_pos(tok))

    def arguments(self, meta, *args):
        return [a for a in args if a is not None]

    def call(self, meta, tok, arguments=None):
        arguments = arguments or []
        positional = tuple(a for a in arguments if not isinstance(a, ast.Keyword))
        keywords = tuple(a for a in arguments if isinstance(a, ast.Keyword))
        return ast.Call(str(tok), positional, keywords, **_pos(tok))


def _number(tok: Token) -> Decimal:
    whole, _, fraction = str(tok).partition(".")
    if len(whole.lstrip("0")) > ExprLimits.max_digits or len(fraction) > ExprLimits.max_digits:
        raise _BadLiteral(tok, f"a number has at most {ExprLimits.max_digits} digits before the point "
                          f"and {ExprLimits.max_digits} after it", Code.LIMIT_ERROR)
    return Decimal(str(tok))


class _BadLiteral(Exception):
    def __init__(self, where, message: str, code: Code = Code.PARSE_ERROR, hint: str | None = None):
        super().__init__(message)
        self.position = _pos(where)
        self.message, self.code, self.hint = message, code, hint


def _unquote(text: str) -> str:
    body = text[1:-1]
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def parse_expression(text: str, locate: Locator | None = None) -> ast.Node:
    """Parse one expression. Raises PunchcardError (parse_error or limit_error)."""
    locate = locate or plain_locator()
    if not isinstance(text, str):
        raise PunchcardError(Diagnostic(Code.TYPE_ERROR, "an expression must be text", locate(1, 1)))
    _check_size(text, locate)
    try:
        tree = _lark().parse(text)
        node = _ToAst().transform(tree)
    except UnexpectedInput as exc:
        raise PunchcardError(_syntax_diagnostic(exc, text, locate)) from None
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _BadLiteral):
            span = locate(inner.position["line"], inner.position["column"])
            raise PunchcardError(Diagnostic(inner.code, inner.message, span, hint=inner.hint)) from None
        raise
    except RecursionError:
        raise PunchcardError(Diagnostic(Code.LIMIT_ERROR, "the expression nests too deeply", locate(1, 1))) from None
    _check_depth(node, locate)
    return node


def _check_size(text: str, locate: Locator) -> None:
    if len(text) > ExprLimits.max_length:
        raise PunchcardError(Diagnostic(
            Code.LIMIT_ERROR, f"the expression is longer than {ExprLimits.max_length} characters", locate(1, 1),
            hint="split it into named facts under let:"))
    depth, line, column = 0, 1, 0
    quote, escaped = None, False
    for ch in text:
        column += 1
        if ch == "\n":
            line, column = line + 1, 0
        if quote:
            # a backslash-escaped quote does not end the string
            quote = None if ch == quote and not escaped else quote
            escaped = ch == "\\" and not escaped
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
            if depth > ExprLimits.max_depth:
                raise PunchcardError(Diagnostic(
                    Code.LIMIT_ERROR, f"brackets nest deeper than {ExprLimits.max_depth} levels",
                    locate(line, column), hint="split it into named facts under let:"))
        elif ch in ")]":
            depth -= 1


def _check_depth(node: ast.Node, locate: Locator) -> None:
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > ExprLimits.max_depth * 2:
            raise PunchcardError(Diagnostic(
                Code.LIMIT_ERROR, "the expression nests too deeply", locate(current.line, current.column),
                hint="split it into named facts under let:"))
        stack.extend((child, depth + 1) for child in current.children())


def _syntax_diagnostic(exc: UnexpectedInput, text: str, locate: Locator) -> Diagnostic:
    line, column = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0  # the lexer always sets it
        char = text[pos] if pos < len(text) else "?"
        return Diagnostic(Code.PARSE_ERROR, f"unexpected character {char!r}", locate(line, column),
                          hint=_char_hint(text, pos))
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token: Token = exc.token
        return Diagnostic(Code.PARSE_ERROR, f"unexpected {str(token)!r}", locate(line, column),
                          hint=_token_hint(token, exc), width=max(len(str(token)), 1))
    # UnexpectedEOF, or the parser met the end token: the text stops before the expression does
    lines = text.splitlines() or [""]
    return Diagnostic(Code.PARSE_ERROR, "the expression ends too early", locate(len(lines), len(lines[-1]) + 1),
                      hint=_expected_hint(getattr(exc, "expected", None) or getattr(exc, "accepts", set())))


def _char_hint(text: str, pos: int) -> str | None:
    rest = text[pos:pos + 2]
    if rest.startswith("&&"):
        return "write `and` instead of &&"
    if rest.startswith("||"):
        return "write `or` instead of ||"
    if rest.startswith("!"):
        return "write `not` for negation, and != for 'not equal'"
    if rest.startswith("="):
        return "use == to compare"
    if rest.startswith("%") or rest.startswith("**"):
        return "the language has + - * / only"
    return None


def _token_hint(token: Token, exc: UnexpectedToken) -> str | None:
    if str(token) == "=":
        return "use == to compare"
    if token.type == "NAME" and str(token).startswith("__"):
        return "names starting with __ are not allowed"
    if str(token) in RESERVED_WORDS and token.type != "NAME":
        return (f"{_KEYWORD_USE.get(str(token), f'`{token}` is a keyword')}; it is a reserved word, so it cannot "
                "stand here or be used as a name (is a word missing or doubled?)")
    return _expected_hint(exc.accepts or exc.expected)


_MAX_EXPECTED_WORDS = 6  # a hint names a few of the tokens that could come next, not all of them


def _expected_hint(expected: Iterable[str] | None) -> str | None:
    words = sorted({_TOKEN_WORDS.get(t, t.strip('"').lower()) for t in expected or () if not t.startswith("__")})
    if not words:
        return None
    if len(words) > _MAX_EXPECTED_WORDS:
        words = [*words[:_MAX_EXPECTED_WORDS], "..."]
    return "expected " + ", ".join(words)
