"""The auditor's account of vouchers: points converted out of the ledger, and the money they became.

Three stored records must tell the same story, member by member:

- the ledger's ``converted`` entries: the points that left each lot for a voucher;
- the member's state document: each voucher with its points, value and status;
- the stored decisions: the ``voucher_issued``, ``voucher_redeemed`` and ``voucher_expired``
  effects, each voucher issued once, and redeemed or expired at most once.

A voucher holds exactly the points converted into it; its value and points are those it was
issued with; its status agrees with what happened to it; and the money still owed (issued
less redeemed less expired) equals the value of the vouchers the member still holds. Under
one ruleset every voucher is worth the same money per point (value × other's points ==
other's value × points, in integers). As in :mod:`.audit`, figures are read as exact decimal
text into integer units by the auditor's own reader, never through the engine's arithmetic.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Text, cast, select

from .models import LedgerEntry, Member, ProcessedEventRow

__all__ = ["audit_vouchers"]

_ISSUED, _REDEEMED, _EXPIRED = "issued", "redeemed", "expired"
_ENDINGS = {"voucher_redeemed": _REDEEMED, "voucher_expired": _EXPIRED}


@dataclass
class _Told:
    """What the decisions say of one voucher."""

    issued: list[tuple[int, int, str]] = field(default_factory=list)  # (value, points, ruleset)
    ended: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # status -> values


def audit_vouchers(conn, report, read) -> int:
    """Check every member's vouchers; returns how many were checked. ``read(subject, name, text)``
    is the auditor's reader (text to units, reporting what it cannot read)."""
    converted = _converted(conn, read)
    held = _held(conn, report, read)
    told = _told(conn, report, read)
    count = 0
    for member in sorted(set(converted) | set(held) | set(told)):
        count += len(held.get(member, {}))
        _member(report, member, converted.get(member, {}), held.get(member, {}), told.get(member, {}))
    _rates(report, told)
    return count


def _document(report, subject: str, text: str | None) -> object:
    try:
        return json.loads(text) if text else None
    except ValueError:
        report.differ(subject, "document is JSON", True, False)
        return None


def _converted(conn, read) -> dict[str, dict[str, int]]:
    """Points the ledger's ``converted`` entries took, per member and voucher (as positive units)."""
    table = LedgerEntry.__table__
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = select(table.c.id, table.c.member_id, cast(table.c.points, Text).label("points"),
                   cast(table.c.detail, Text).label("detail")).where(table.c.kind == "converted")
    for row in conn.execute(query):
        subject = f"entry {row.id} ({row.member_id}, converted)"
        detail = _document(read.report, subject, row.detail)
        voucher = detail.get("voucher") if isinstance(detail, dict) else None
        if not isinstance(voucher, str):
            read.report.differ(subject, "a converted entry names its voucher", True, False)
            continue
        out[row.member_id][voucher] -= read(subject, "points", row.points)
    return out


def _figure(read, subject: str, name: str, value: object) -> int:
    """A tagged decimal (``{"$d": "1.50"}``) or plain decimal text, as units."""
    text = value.get("$d") if isinstance(value, dict) else value
    return read(subject, name, text if isinstance(text, str) else repr(text))


def _held(conn, report, read) -> dict[str, dict[str, tuple[int, int, str]]]:
    """Each member's vouchers as its state document holds them: id -> (value, points, status)."""
    table = Member.__table__
    out: dict[str, dict[str, tuple[int, int, str]]] = {}
    query = select(table.c.member_id, cast(table.c.state, Text).label("state")).where(
        cast(table.c.state, Text).like('%"Voucher"%'))
    for row in conn.execute(query):
        doc = _document(report, f"member {row.member_id}", row.state)
        items = doc.get("vouchers") if isinstance(doc, dict) else None
        items = items.get("$tuple", []) if isinstance(items, dict) else []
        vouchers = out[row.member_id] = {}
        for item in items:
            fields = item.get("v", {}) if isinstance(item, dict) else {}
            subject = f"voucher {row.member_id}/{fields.get('id')}"
            vouchers[str(fields.get("id"))] = (_figure(read, subject, "value", fields.get("value")),
                                               _figure(read, subject, "points", fields.get("points")),
                                               str(fields.get("status")))
    return out


def _told(conn, report, read) -> dict[str, dict[str, _Told]]:
    """What the stored decisions say of each member's vouchers."""
    table = ProcessedEventRow.__table__
    out: dict[str, dict[str, _Told]] = defaultdict(lambda: defaultdict(_Told))
    text = cast(table.c.decision, Text)
    query = select(table.c.event_id, table.c.member_id, text.label("decision")).where(text.like('%"voucher_%'))
    for row in conn.execute(query):
        decision = _document(report, f"event {row.event_id}", row.decision)
        if not isinstance(decision, dict):
            continue
        for effect in decision.get("effects") or []:
            _effect(read, out[row.member_id], row.event_id, str(decision.get("ruleset")), effect)
    return out


def _effect(read, told: dict[str, _Told], event_id: str, ruleset: str, effect: dict) -> None:
    kind = effect.get("kind")
    if kind != "voucher_issued" and kind not in _ENDINGS:
        return
    voucher, subject = str(effect.get("voucher")), f"event {event_id}"
    value = _figure(read, subject, "value", effect.get("value"))
    if kind == "voucher_issued":
        told[voucher].issued.append((value, _figure(read, subject, "points", effect.get("points")), ruleset))
    else:
        told[voucher].ended[_ENDINGS[kind]].append(value)


def _member(report, member: str, converted: dict[str, int], held: dict, told: dict[str, _Told]) -> None:
    owed = 0
    for voucher in sorted(set(converted) | set(held) | set(told)):
        subject = f"voucher {member}/{voucher}"
        value, points, status = held.get(voucher, (0, 0, "missing"))
        story = told.get(voucher, _Told())
        report.differ(subject, "the member holds the voucher the ledger converted into", True, voucher in held)
        report.differ(subject, "points == points converted into it", converted.get(voucher, 0), points)
        report.differ(subject, "issued exactly once", 1, len(story.issued))
        if story.issued:
            report.differ(subject, "value as issued", story.issued[0][0], value)
            report.differ(subject, "points as issued", story.issued[0][1], points)
        for ending in (_REDEEMED, _EXPIRED):
            report.differ(subject, f"{ending} at most once", min(len(story.ended[ending]), 1),
                          len(story.ended[ending]))
        ended = [s for s in (_REDEEMED, _EXPIRED) if story.ended[s]]
        report.differ(subject, "status agrees with the decisions", ended[0] if len(ended) == 1 else
                      (_ISSUED if not ended else "redeemed or expired, not both"), status)
        owed += sum(v for v, _, _ in story.issued) - sum(sum(story.ended[s]) for s in (_REDEEMED, _EXPIRED))
    still = sum(value for value, _, status in held.values() if status == _ISSUED)
    report.differ(f"member {member}", "voucher money owed == issued - redeemed - expired", owed, still)


def _rates(report, told: dict[str, dict[str, _Told]]) -> None:
    """Under one ruleset, every voucher is worth the same money per point converted."""
    first: dict[str, tuple[int, int, str]] = {}
    for member in sorted(told):
        for voucher, story in sorted(told[member].items()):
            for value, points, ruleset in story.issued:
                base = first.setdefault(ruleset, (value, points, f"{member}/{voucher}"))
                report.differ(f"voucher {member}/{voucher}",
                              f"worth per point what {base[2]} is under {ruleset} (cross-multiplied)", base[0] * points,
                              value * base[1])
