"""Showing text that came from outside (ids, reasons, file names, ruleset lines) on a terminal.

Member ids, event ids and every other string a user or an event file supplies may hold
terminal escapes, newlines, NUL or bidirectional overrides. Printed as they are, they can
rewrite the screen, forge extra output lines or hide text. :func:`shown` writes each such
character as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``); :func:`markup_safe` also
escapes rich markup, for text that goes into a rich renderable (a tree, a table, a rule)
where ``[red]`` would otherwise be read as a style. Ordinary text, accents and emoji
(with their zero-width joiners) are left as they are.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.markup import escape

__all__ = ["shown", "shown_lines", "markup_safe"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Format characters that reorder or hide text (Trojan Source); other format characters,
# such as the zero-width joiner inside emoji, are harmless and kept.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control (C0, DEL, C1), line and paragraph separators, surrogates left by undecodable bytes.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def _escape_char(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(char: str) -> bool:
    return char in _BIDI or unicodedata.category(char) in _UNSAFE_CATEGORIES


def shown(value: Any) -> str:
    """``str(value)`` with every control, separator and bidi character written as an escape."""
    text = "" if value is None else str(value)
    if text.isprintable():  # the common case, and fast: nothing to escape
        return text
    return "".join(_escape_char(c) if _unsafe(c) else c for c in text)


def shown_lines(text: Any) -> str:
    """Like :func:`shown`, but keeps the line breaks and tabs of a multi-line message (a diagnostic
    with its source lines)."""
    return "\n".join("\t".join(shown(part) for part in line.split("\t")) for line in str(text).split("\n"))


def markup_safe(value: Any) -> str:
    """:func:`shown`, then rich markup escaped, for text put inside a rich renderable."""
    return escape(shown(value))

