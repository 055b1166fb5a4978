"""The report page's cell helpers: figures for people, signed deltas and plain tables.

They sit apart from the page (:mod:`.html`) and its sections (:mod:`.sections`) so both can
use them without importing each other.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from html import escape

__all__ = ["fmt", "delta_cell", "table"]


def fmt(value: object) -> str:
    """A figure for people: thousands separated, exact (no float on the way)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return escape(str(value))
    return f"{number:,}"


def delta_cell(value: object) -> str:
    if value is None:
        return '<td class="num muted">–</td>'
    number = Decimal(str(value))
    css = "pos" if number > 0 else "neg" if number < 0 else "muted"
    sign = "+" if number > 0 else ""
    return f'<td class="num {css}">{sign}{fmt(number)}</td>'


def table(headers: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    """Cells are HTML already (escaped by the caller); columns from ``numeric_from`` align right."""
    head = "".join(f'<th class="{"num" if i >= numeric_from else ""}">{escape(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = [c if c.startswith("<td") else f'<td class="{"num" if i >= numeric_from else ""}">{c}</td>'
                 for i, c in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
