"""The report's messages: what a ruleset with ``messages:`` would send and what it would hold
back, per kind and channel, and why (the caps, quiet hours, compliance, consent).

A bar per message kind shows sent and suppressed side by side, so an owner sees at a glance
which kind the caps eat; the tables beside it give the exact counts. Both the page and the
terminal read the report's ``messages`` block (:func:`.report.side_report`).
"""

from __future__ import annotations

from html import escape

from rich.table import Table

from .cells import fmt, table

__all__ = ["messages_section", "messages_table", "messages_bars_svg"]

_W, _LEFT, _RIGHT, _ROW, _TOP = 960, 260, 200, 30, 8  # the bars, in px


def messages_bars_svg(kinds: list[dict]) -> str:
    """One bar per kind and channel: sent (the version's colour), then suppressed (muted)."""
    most = max((k["sent"] + k["suppressed"] for k in kinds), default=0) or 1
    span, height = _W - _LEFT - _RIGHT, _TOP * 2 + _ROW * len(kinds)
    parts = []
    for index, kind in enumerate(kinds):
        y = _TOP + index * _ROW
        sent, held = kind["sent"] * span // most, kind["suppressed"] * span // most
        label = escape(f"{kind['message']} ({kind['channel']})")
        words = f"{fmt(kind['sent'])} sent, {fmt(kind['suppressed'])} suppressed"
        parts.append(f'<text class="tick" x="{_LEFT - 8}" y="{y + 18}">{label}</text>'
                     f'<rect style="fill: var(--new)" x="{_LEFT}" y="{y + 5}" width="{sent}" height="{_ROW - 10}">'
                     f'<title>{label}: {words}</title></rect>'
                     f'<rect style="fill: var(--muted)" x="{_LEFT + sent}" y="{y + 5}" width="{held}" '
                     f'height="{_ROW - 10}"><title>{label}: {words}</title></rect>'
                     f'<text x="{_LEFT + sent + held + 6}" y="{y + 18}">{words}</text>')
    return (f'<svg class="histogram messages" role="img" viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>Messages sent and suppressed by kind</title>'
            f'{"".join(parts)}</svg>')


def messages_section(report: dict) -> str:
    """The page's messages section; empty for a ruleset without messages."""
    messages = report.get("messages")
    if messages is None:
        return ""
    kinds = messages["kinds"]
    rows = [[f"<code>{escape(k['message'])}</code>", escape(k["channel"]), fmt(k["sent"]), fmt(k["suppressed"]),
             escape(", ".join(f"{r}: {fmt(n)}" for r, n in k["reasons"].items()) or "–")] for k in kinds]
    reasons = [[escape(reason), fmt(count)] for reason, count in messages["by_reason"].items()]
    inner = (f"<p>{fmt(messages['sent'])} messages would be sent and {fmt(messages['suppressed'])} suppressed "
             "(each counted where the engine chose it, so this is exactly what the outbox would hold).</p>")
    if not kinds:
        inner += '<p class="muted">No decision gave a reason to send a message.</p>'
    else:
        inner += messages_bars_svg(kinds) + table(["Message", "Channel", "Sent", "Suppressed", "Why suppressed"],
                                                  rows, numeric_from=2)
    if reasons:
        inner += "<h3>Suppressed, by reason</h3>" + table(["Reason", "Messages"], reasons)
    return f'<section id="messages"><h2>Messages</h2>{inner}</section>'


def messages_table(report: dict) -> Table | None:
    """The terminal's messages table; None for a ruleset without messages."""
    messages = report.get("messages")
    if messages is None:
        return None
    out = Table(title=f"Messages: {fmt(messages['sent'])} sent, {fmt(messages['suppressed'])} suppressed",
                title_justify="left")
    for column in ("Message", "Channel", "Sent", "Suppressed", "Why suppressed"):
        out.add_column(column, justify="right" if column in ("Sent", "Suppressed") else "left")
    for kind in messages["kinds"]:
        out.add_row(kind["message"], kind["channel"], fmt(kind["sent"]), fmt(kind["suppressed"]),
                    ", ".join(f"{r} {fmt(n)}" for r, n in kind["reasons"].items()) or "–")
    return out
