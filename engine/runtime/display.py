"""Showing text that came from outside (ids, reasons, file names, ruleset lines) on a terminal.

Member ids, event ids and every other string a user or an event file supplies may hold
terminal escapes, newlines, NUL or bidirectional overrides. Printed as they are, they can
rewrite the screen, forge extra output lines or hide text. :func:`shown` writes each such
character as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``, ``\\u200b``); :func:`markup_safe`
also escapes rich markup, for text that goes into a rich renderable (a tree, a table, a rule)
where ``[red]`` would otherwise be read as a style. Ordinary text, accents and emoji are left
as they are; every format character (Unicode category Cf: bidi controls, zero-width spaces and
joiners, the BOM, soft hyphens, tags) is escaped, since two ids that differ only by one must
never look alike.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rich.markup import escape

__all__ = ["shown", "shown_lines", "markup_safe"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control (C0, DEL, C1), format (bidi overrides, zero-width characters, BOM), line and
# paragraph separators, surrogates left by undecodable bytes, private-use and unassigned.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern): printable
# by Unicode's categories, invisible all the same.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# a run of backslashes before a "[" that rich would not read as a tag
_BEFORE_LONE_BRACKET = re.compile(r"(\\+)(?=\[(?![a-z#/@][^[]*?\]))")
# The shortest escape that holds the code point: \xNN, \uNNNN, then \UNNNNNNNN.
_LATIN1_END, _BMP_END = 0x100, 0x10000


def _escape_char(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < _LATIN1_END:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < _BMP_END else f"\\U{code:08x}"


def _unsafe(char: str) -> bool:
    return char in _BLANK or unicodedata.category(char) in _UNSAFE_CATEGORIES


def shown(value: Any) -> str:
    """``str(value)`` with every control, format, separator and invisible character written as
    an escape."""
    text = "" if value is None else str(value)
    if text.isprintable() and _BLANK.isdisjoint(text):  # the common case, and fast: nothing to escape
        return text
    return "".join(_escape_char(c) if _unsafe(c) else c for c in text)


def shown_lines(text: Any) -> str:
    """Like :func:`shown`, but keeps the line breaks and tabs of a multi-line message (a diagnostic
    with its source lines)."""
    return "\n".join("\t".join(shown(part) for part in line.split("\t")) for line in str(text).split("\n"))


def markup_safe(value: Any) -> str:
    """:func:`shown`, then rich markup escaped, for text put inside a rich renderable.

    rich's ``escape`` covers brackets that look like tags. Two cases it leaves: rich turns any
    ``\\[`` in plain text into ``[``, so backslashes before a bracket that is not a tag get one
    more, which rich eats; and the text's own trailing backslashes meet whatever tag follows it,
    which halves them, so they are doubled."""
    text = shown(value)
    escaped = _BEFORE_LONE_BRACKET.sub(lambda run: run.group(1) + "\\", escape(text))
    trailing = len(text) - len(text.rstrip("\\"))
    if trailing:
        escaped = escaped.rstrip("\\") + "\\" * (2 * trailing)
    return escaped

