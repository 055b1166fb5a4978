"""The report's vouchers, for a ruleset with ``conversion:`` (engine/policies/conversion.py):
the points converted, and the vouchers issued, redeemed, expired and still held, with their
money. The JSON block is built here from the tally; the page's section reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from html import escape

from rich.table import Table

from .cells import fmt, table

__all__ = ["vouchers_report", "vouchers_section", "vouchers_table"]

ZERO = Decimal(0)
_ROWS = (("issued", "Issued"), ("redeemed", "Redeemed"), ("expired", "Expired"), ("held", "Held at the end"))


def vouchers_report(tally, currency: str) -> dict:
    """The ``vouchers`` block of a side of the report."""
    counts: Mapping = tally.vouchers
    out: dict = {"currency": currency, "points_converted": counts.get("points_converted", ZERO)}
    for name, _ in _ROWS:
        out[name] = {"vouchers": counts.get(name, 0), "money": counts.get(f"{name}_money", ZERO)}
    return out


def vouchers_section(report: dict) -> str:
    """The page's vouchers section; empty for a ruleset without conversion."""
    vouchers = report.get("vouchers")
    if vouchers is None:
        return ""
    rows = [[escape(label), fmt(vouchers[name]["vouchers"]), fmt(vouchers[name]["money"])] for name, label in _ROWS]
    inner = (f'<p>{fmt(vouchers["points_converted"])} points were converted into vouchers.</p>'
             + table(["Vouchers", "Count", f"Money ({escape(vouchers['currency'])})"], rows))
    return f'<section id="vouchers"><h2>Vouchers</h2>{inner}</section>'


def vouchers_table(report: dict) -> Table | None:
    """The terminal's vouchers table; None for a ruleset without conversion."""
    vouchers = report.get("vouchers")
    if vouchers is None:
        return None
    out = Table(title=f"Vouchers: {fmt(vouchers['points_converted'])} points converted", title_justify="left")
    for column in ("Vouchers", "Count", f"Money ({vouchers['currency']})"):
        out.add_column(column, justify="left" if column == "Vouchers" else "right")
    for name, label in _ROWS:
        out.add_row(label, fmt(vouchers[name]["vouchers"]), fmt(vouchers[name]["money"]))
    return out
