"""Decisions on the report page as small tables: one decision's trace, or old and new side by side.

A trace step is a row (phase, rule, whether it fired, its points before and after,
its note and the values it read). Side by side, the old and the new decision's steps
are matched by phase and rule (the n-th step of a rule with the n-th), so a rule the
new version added has an empty old cell, and a row whose cells differ is marked.
Every text is escaped here.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from .cells import fmt
from .figures import COST_UP, cost_delta_span, points_text

__all__ = ["decision_details", "pair_details", "trace_table", "paired_trace_table", "effects_text"]

_EFFECT_KEYS = ("points", "to", "from", "rule", "lot", "pending_until", "expires_at", "at", "hold", "why")


def _read(value) -> str:
    """A value a rule read, as the ruleset writes it (true, not Python's True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "–" if value is None else str(value)


def _step_text(step: dict | None, unit: Decimal) -> str:
    if step is None:
        return '<span class="muted">–</span>'
    mark = '<span class="yes">✓</span>' if step.get("fired") else '<span class="no">✗</span>'
    points = ""
    if step.get("before") is not None or step.get("after") is not None:  # exact: the trace shows the rounding
        before = fmt(step["before"]) if step.get("before") is not None else ""
        points = f' {before}{" → " if before else ""}{fmt(step.get("after"))}'
    note = f' <span class="muted">{escape(str(step["note"]))}</span>' if step.get("note") else ""
    values = step.get("values") or {}
    read = ", ".join(f"{escape(str(k))} = {escape(_read(v))}" for k, v in values.items())
    return f"{mark}{escape(points)}{note}" + (f'<br><span class="muted">{read}</span>' if read else "")


def trace_table(trace: list[dict], unit: Decimal) -> str:
    rows = "".join(f"<tr><td>{escape(str(s.get('phase')))}</td><td><code>{escape(str(s.get('rule')))}</code></td>"
                   f"<td>{_step_text(s, unit)}</td></tr>" for s in trace)
    return f'<table class="trace"><thead><tr><th>Phase</th><th>Rule</th><th>Step</th></tr></thead>' \
           f"<tbody>{rows}</tbody></table>"


def _keyed(trace: list[dict]) -> dict[tuple, dict]:
    seen: dict[tuple, int] = {}
    out = {}
    for step in trace:
        key = (step.get("phase"), step.get("rule"))
        seen[key] = seen.get(key, 0) + 1
        out[(*key, seen[key])] = step
    return out


def paired_trace_table(old: list[dict], new: list[dict], unit: Decimal) -> str:
    """Old and new steps side by side, in the new trace's order, then steps only the old one had."""
    before, after = _keyed(old), _keyed(new)
    keys = list(after) + [k for k in before if k not in after]
    rows = []
    for key in keys:
        a, b = before.get(key), after.get(key)
        css = ' class="differs"' if a != b else ""
        rows.append(f"<tr{css}><td>{escape(str(key[0]))}</td><td><code>{escape(str(key[1]))}</code></td>"
                    f"<td>{_step_text(a, unit)}</td><td>{_step_text(b, unit)}</td></tr>")
    return ('<table class="trace"><thead><tr><th>Phase</th><th>Rule</th><th>Old</th><th>New</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def effects_text(effects: list[dict], unit: Decimal) -> str:
    parts = []
    for effect in effects:
        details = []
        for key in _EFFECT_KEYS:
            value = effect.get(key)
            if value is not None:
                details.append(f"{points_text(value, unit)} points" if key == "points" else f"{key} {value}")
        parts.append(f"<li><b>{escape(str(effect.get('kind')))}</b> {escape(', '.join(details))}</li>")
    return f'<ul class="effects">{"".join(parts)}</ul>' if parts else ""


def _summary(d: dict, unit: Decimal) -> str:
    fired = ", ".join(d.get("fired") or []) or "–"
    text = (f'<span class="tag {escape(d["outcome"])}">{escape(d["outcome"])}</span> '
            f'<code>{escape(str(d["event_id"]))}</code> {escape(str(d.get("type") or ""))} '
            f'{escape(str(d.get("time") or ""))}: {escape(points_text(d["points"], unit))} points; '
            f"fired: {escape(fired)}")
    if d.get("reason"):
        text += f' <span class="muted">({escape(d["reason"])})</span>'
    return text


def decision_details(d: dict, unit: Decimal) -> str:
    """One decision: a summary line that opens onto its effects and its trace as a table."""
    inner = effects_text(d.get("effects") or [], unit) + trace_table(d.get("trace") or [], unit)
    return f"<details><summary>{_summary(d, unit)}</summary>{inner}</details>"


def pair_details(old: dict, new: dict, unit: Decimal, opened: bool = False) -> str:
    """An event both versions decided differently: old and new in one row, the traces side by side below."""
    change = Decimal(str(new["points"])) - Decimal(str(old["points"]))
    head = (f'<code>{escape(str(new["event_id"]))}</code> {escape(str(new.get("type") or ""))} '
            f'{escape(str(new.get("time") or ""))}: old {escape(old["outcome"])} '
            f'{escape(points_text(old["points"], unit))} → new {escape(new["outcome"])} '
            f'{escape(points_text(new["points"], unit))} points '
            f'({cost_delta_span("points", change, unit, COST_UP)})')
    return (f"<details{' open' if opened else ''}><summary>{head}</summary>"
            f"{paired_trace_table(old.get('trace') or [], new.get('trace') or [], unit)}</details>")
