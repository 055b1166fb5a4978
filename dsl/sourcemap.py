"""Where each value of a YAML document was written: a :class:`SourceMap` from paths such as
``("earning", "rules", 0, "when")`` to :class:`ScalarPos` positions, which can also find a
character inside a quoted, escaped or folded scalar."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import Span

__all__ = ["Path", "ScalarPos", "SourceMap"]

Path = tuple[Any, ...]


@dataclass(frozen=True)
class ScalarPos:
    """Where a scalar's text starts, and how it was quoted (None, ', ", | or >)."""

    span: Span
    style: str | None = None
    indent: int = 0  # block scalars: the column (0-based) their content lines start at
    # String scalars keep their file text, slice and value: positions then survive escapes and folding.
    text: str = field(default="", compare=False, repr=False)
    start: int = field(default=0, compare=False, repr=False)
    end: int = field(default=0, compare=False, repr=False)
    value: str | None = field(default=None, compare=False, repr=False)

    def locate(self, line: int, column: int) -> Span:
        """Map a 1-based (line, column) inside the scalar's text to the file."""
        found = _locate_in_source(self, line, column)
        if found is not None:
            return found
        if self.style in ("|", ">"):
            return self.span.shifted(line, self.indent + column)
        if line == 1:
            quote = 1 if self.style in ("'", '"') else 0
            return self.span.shifted(0, self.span.column + quote + column - 1)
        return self.span.shifted(line - 1, column)


_BREAKS = "\n\r\x85\u2028\u2029"
_DOUBLE_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
                   "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
                   "_": "\xa0", "L": "\u2028", "P": "\u2029"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _locate_in_source(pos: ScalarPos, line: int, column: int) -> Span | None:
    """Find the source character behind the value's (line, column); None if unsure."""
    value = pos.value
    if not value:
        return None
    lines = value.split("\n")
    if not 1 <= line <= len(lines) or column < 1:
        return None
    offset = sum(len(text) + 1 for text in lines[:line - 1]) + column - 1
    past_end = offset >= len(value)  # "ends too early" points just after the last character
    index = _align(value, _source_chars(pos), min(offset, len(value) - 1))
    return None if index is None else _span_at(pos, index, 1 if past_end else 0)


def _source_chars(pos: ScalarPos) -> Iterator[tuple[str, int]]:
    """(character, index) pairs of the scalar's source, with quoting undone."""
    text, i, end = pos.text, pos.start, pos.end
    if pos.style in ("'", '"'):
        i += 1
    elif pos.style in ("|", ">"):
        i = text.find("\n", i, end) + 1 or end  # content starts on the line after the header
    while i < end:
        ch = text[i]
        if pos.style == "'" and text.startswith("''", i):
            yield "'", i
            i += 2
        elif pos.style == '"' and ch == "\\" and i + 1 < end:
            i = yield from _double_escape(text, i)
        else:
            yield ch, i
            i += 1


def _double_escape(text: str, i: int) -> Generator[tuple[str, int], None, int]:
    code = text[i + 1]
    if code in _BREAKS:  # an escaped line break joins the lines without a space
        return i + 2
    digits = _HEX_ESCAPES.get(code, 0)
    hex_digits = text[i + 2:i + 2 + digits]
    ok = all(c in "0123456789abcdefABCDEF" for c in hex_digits)  # PyYAML has refused anything else
    yield (chr(int(hex_digits, 16)) if digits and ok else _DOUBLE_ESCAPES.get(code, code)), i
    return i + 2 + digits


def _align(value: str, source: Iterator[tuple[str, int]], target: int) -> int | None:
    """Walk value and source together; folding turned line breaks into spaces and
    indentation disappeared, so unmatched source characters are skipped."""
    index = None
    for k in range(target + 1):
        index = _next_match(source, value[k])
        if index is None:
            return None
    return index


def _next_match(source: Iterator[tuple[str, int]], wanted: str) -> int | None:
    """Advance ``source`` past the next character that can stand for ``wanted``; its index."""
    for char, index in source:
        if char == wanted or (wanted == " " and char in _BREAKS):
            return index
    return None


def _span_at(pos: ScalarPos, index: int, extra: int) -> Span:
    """The file position of ``text[index]``, counting line breaks as PyYAML does."""
    line, column, text = pos.span.line, pos.span.column - 1, pos.text
    for i in range(pos.start, index):
        ch = text[i]
        if ch in _BREAKS and not (ch == "\r" and text.startswith("\n", i + 1)):
            line, column = line + 1, 0
        elif ch != "\ufeff":
            column += 1
    return Span(pos.span.file, line, column + 1 + extra)


@dataclass
class SourceMap:
    file: str
    text: str
    values: dict[Path, ScalarPos] = field(default_factory=dict)
    keys: dict[Path, Span] = field(default_factory=dict)

    def value(self, path: Path) -> ScalarPos:
        """The position of the value at ``path``, or of its nearest recorded ancestor."""
        path = tuple(path)
        while path:
            if path in self.values:
                return self.values[path]
            if path in self.keys:
                return ScalarPos(self.keys[path])
            path = path[:-1]
        return self.values.get((), ScalarPos(Span(self.file, 1, 1)))

    def key(self, path: Path) -> Span:
        path = tuple(path)
        if path in self.keys:
            return self.keys[path]
        return self.value(path).span
