"""Member state to table rows and back, and the difference between two states as
the rows to write.

``Loaded`` is what a unit of work read for one member; :func:`diff_member` compares it
with the state after the unit's events and adds only what changed to a
:class:`~punchcard.plugins.sql.writes.Changes`: new and changed lots, records,
windows, streaks and history items, and the member row's changed columns. State
fields without a column of their own (new ones included) travel in the ``extra``
documents, so a loaded state always equals the saved one; fields excluded from
comparison are caches and are rebuilt instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from punchcard.engine.runtime.state import HistoryItem, Lot, MemberState, StreakState, TierState

from .codec import encode_text, in_zone, zone_key

__all__ = ["Loaded", "state_from_rows", "lot_values", "member_values", "diff_member", "LOT_COLUMNS", "RECORDS"]

_LOT_KNOWN = {f.name for f in dataclasses.fields(Lot)}
_MEMBER_KNOWN = {f.name for f in dataclasses.fields(MemberState)}
# Lot fields with a column; notice_at only while the engine's Lot has it.
LOT_COLUMNS = tuple(name for name in ("source", "earned_at", "amount", "remaining", "pending_until", "expires_at",
                                      "hold", "noticed", "notice_at", "expired", "spent", "clawed", "repaid",
                                      "voided") if name in _LOT_KNOWN)
_LOT_TIMES = tuple(name for name in ("earned_at", "pending_until", "expires_at", "notice_at") if name in LOT_COLUMNS)
RECORDS = {"order": "orders", "redemption": "redemptions"}  # member_records.kind -> state field
_COLUMNS = {"member_id", "profile", "joined", "clock", "lots", "debt", "tier", "streaks", "history",
            "last_activity", *RECORDS.values()}


def _extra_fields(cls, stored: set[str]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.compare and f.name not in stored)


LOT_EXTRA = _extra_fields(Lot, {"id", "order", *LOT_COLUMNS})
STATE_DOC = _extra_fields(MemberState, _COLUMNS)  # badges, notices, caps, totals, and any newer field


def _extras(doc: dict | None, known: set[str]) -> dict:
    """A document's fields that this version of the state still has (read decoded: types.Tagged)."""
    return {k: v for k, v in doc.items() if k in known} if doc else {}


@dataclass
class Loaded:
    """One member as stored: the state, and what writing the next state needs to know
    about the rows (which lots are live, history row numbers, the next positions)."""

    member_id: str
    version: int
    state: MemberState | None  # None: never saved
    lot_ids: frozenset[str] = frozenset()  # live lot rows
    history_seqs: tuple[int, ...] = ()  # row numbers, aligned with state.history
    next_lot: int = 0
    next_record: int = 0
    next_history: int = 0
    windows: dict[int, tuple] = field(default_factory=dict)
    streaks: dict[str, tuple] = field(default_factory=dict)


# -- reading ---------------------------------------------------------------------------
def _lot(row, tz: str | None) -> Lot:
    values = {name: getattr(row, name) for name in LOT_COLUMNS}
    for name in _LOT_TIMES:
        values[name] = in_zone(values[name], tz)
    return Lot(id=row.lot_id, order=row.order_id, **values, **_extras(row.extra, _LOT_KNOWN))


def _tier(member, windows) -> TierState:
    tier = TierState(member.tier)
    for row in windows:
        if row.metric is not None:
            tier.metric[row.window] = row.metric
        if row.reached is not None:
            tier.reached[row.window] = row.reached
        if row.closed is not None:
            tier.closed[row.window] = row.closed
    return tier


def _streak(row) -> StreakState:
    return StreakState(row.length, row.last_period, row.freezes_left, frozenset(row.paid), row.best)


def _history(row, tz: str | None) -> HistoryItem:
    return HistoryItem(in_zone(row.time, tz), row.type, tuple((k, v) for k, v in row.values))


def _records(rows) -> dict[str, dict]:
    out: dict[str, dict] = {name: {} for name in RECORDS.values()}
    for row in rows:
        out[RECORDS[row.kind]][row.record_id] = row.doc
    return out


def state_from_rows(member, children: dict[str, list]) -> Loaded:
    """The member exactly as saved; child rows arrive in their stored order."""
    if member.version == 0:
        return Loaded(member.member_id, 0, None, next_lot=member.next_lot, next_record=member.next_record,
                      next_history=member.next_history)
    tz, lots, history = member.timezone, children["lots"], children["history"]
    fields: dict[str, Any] = {**_records(children["records"]), **_extras(member.state, _MEMBER_KNOWN)}
    state = MemberState(
        member_id=member.member_id, profile=member.profile, joined=in_zone(member.joined, tz),
        clock=in_zone(member.clock, tz), lots=[_lot(row, tz) for row in lots], debt=member.debt,
        tier=_tier(member, children["windows"]), streaks={row.streak_id: _streak(row) for row in children["streaks"]},
        history=[_history(row, tz) for row in history], last_activity=in_zone(member.last_activity, tz),
        **fields)
    return Loaded(member.member_id, member.version, state, frozenset(row.lot_id for row in lots),
                  tuple(row.seq for row in history), member.next_lot, member.next_record, member.next_history,
                  _window_rows(state.tier), _streak_rows(state.streaks))


# -- writing ---------------------------------------------------------------------------
def lot_values(member_id: str, lot: Lot, live: bool) -> dict:
    values = {name: getattr(lot, name) for name in LOT_COLUMNS}
    extra = encode_text({name: getattr(lot, name) for name in LOT_EXTRA}) if LOT_EXTRA else None
    return {**values, "member_id": member_id, "lot_id": lot.id, "order_id": lot.order, "live": live,
            "extra": extra or None}


def _window_rows(tier: TierState) -> dict[int, tuple]:
    keys = sorted(set(tier.metric) | set(tier.reached) | set(tier.closed))
    return {k: (tier.metric.get(k), tier.reached.get(k), tier.closed.get(k)) for k in keys}


def _streak_rows(streaks: dict[str, StreakState]) -> dict[str, tuple]:
    return {k: (s.length, s.last_period, s.freezes_left, s.best, sorted(s.paid)) for k, s in streaks.items()}


def member_values(state: MemberState, before: MemberState | None, after: Loaded) -> dict:
    """The member row's columns; documents only when they changed since ``before``."""
    values = {
        "version": after.version, "timezone": zone_key(state.clock) or zone_key(state.joined),
        "balance": state.total(), "debt": state.debt, "tier": state.tier.level, "joined": state.joined,
        "clock": state.clock, "last_activity": state.last_activity, "next_lot": after.next_lot,
        "next_record": after.next_record, "next_history": after.next_history, "windows": len(after.windows),
        "streaks": len(after.streaks), "history": len(after.history_seqs),
        "records": sum(len(getattr(state, name)) for name in RECORDS.values()),
    }
    if before is None or not _same(state.profile, before.profile):
        values["profile"] = encode_text(state.profile)
    if before is None or not all(_same(getattr(state, name), getattr(before, name)) for name in STATE_DOC):
        values["state"] = encode_text(_state_document(state))
    return values


def _state_document(state: MemberState) -> dict[str, Any]:
    """The state document's fields, leaving out those still at their default: loading
    fills them in again. Only None and empty containers whose default is an empty one of
    the same type are left out, so what loads is equal and of the same type (a
    ``Decimal("0.00")`` stays). A field's default must not change once states are stored
    without it: they would load with the new one."""
    doc = {}
    for name, default in _STATE_DEFAULTS.items():
        value = getattr(state, name)
        if value is default or (not default and type(value) is type(default) and type(value) in _CONTAINERS
                                and not value):
            continue
        doc[name] = value
    return doc


def _default(spec: dataclasses.Field) -> Any:
    return spec.default_factory() if spec.default_factory is not dataclasses.MISSING else spec.default


_CONTAINERS = frozenset({dict, list, tuple, set, frozenset})
_STATE_DEFAULTS = {spec.name: _default(spec) for spec in dataclasses.fields(MemberState) if spec.name in STATE_DOC}


def _same(new, old) -> bool:
    """Equal; the engine shares a container it did not change, so that is checked first."""
    return new is old or new == old


def diff_member(changes, loaded: Loaded, final: MemberState, dropped: dict[str, Lot]) -> Loaded:
    """Add to ``changes`` the rows that turn ``loaded`` into ``final``; returns how the
    member is stored once they are committed."""
    member_id, old = final.member_id, loaded.state
    next_lot = _diff_lots(changes, loaded, final, dropped)
    next_record = _diff_records(changes, loaded, final)
    windows, streaks = loaded.windows, loaded.streaks  # tier and streaks shared: unchanged
    if old is None or final.tier is not old.tier:
        windows = _window_rows(final.tier)
        _diff_windows(changes, member_id, loaded.windows, windows)
    if old is None or final.streaks is not old.streaks:
        streaks = _streak_rows(final.streaks)
        _diff_streaks(changes, member_id, loaded.streaks, streaks)
    seqs, next_history = _diff_history(changes, member_id, loaded, final.history)
    after = Loaded(member_id, loaded.version + 1, final, frozenset(lot.id for lot in final.lots), seqs,
                   next_lot, next_record, next_history, windows, streaks)
    changes.members.append({**member_values(final, loaded.state, after), "b_member": member_id,
                            "b_version": loaded.version})
    return after


def _diff_lots(changes, loaded: Loaded, final: MemberState, dropped: dict[str, Lot]) -> int:
    before = {lot.id: lot for lot in loaded.state.lots} if loaded.state else {}
    position = loaded.next_lot
    for lot in final.lots:
        if lot.id not in loaded.lot_ids:
            changes.lot_inserts.append({**lot_values(final.member_id, lot, True), "position": position})
            position += 1
        elif (old := before.get(lot.id)) is not lot and old != lot:  # a changed lot is a new object
            changes.lot_updates.append(_keyed(lot_values(final.member_id, lot, True)))
    live = {lot.id for lot in final.lots}
    for lot_id, lot in dropped.items():
        if lot_id in live:
            continue
        if lot_id in loaded.lot_ids:
            changes.lot_updates.append(_keyed(lot_values(final.member_id, lot, False)))
        else:  # added and forgotten between two loads (within one batch)
            changes.lot_inserts.append({**lot_values(final.member_id, lot, False), "position": position})
            position += 1
    return position


def _keyed(values: dict) -> dict:
    return {**values, "b_member": values["member_id"], "b_lot": values["lot_id"]}


def _diff_records(changes, loaded: Loaded, final: MemberState) -> int:
    position = loaded.next_record
    for kind, name in RECORDS.items():
        old = getattr(loaded.state, name) if loaded.state else {}
        new = getattr(final, name)
        if new is old:  # the engine shares containers it did not change
            continue
        key = {"b_member": final.member_id, "b_kind": kind}
        changes.record_deletes.extend({**key, "b_record": rid} for rid in old.keys() - new.keys())
        for rid, value in new.items():
            if rid not in old:
                changes.record_inserts.append({"member_id": final.member_id, "kind": kind, "record_id": rid,
                                               "position": position, "doc": encode_text(value)})
                position += 1
            elif old[rid] is not value and old[rid] != value:
                changes.record_updates.append({**key, "b_record": rid, "doc": encode_text(value)})
    return position


def _diff_windows(changes, member_id: str, old: dict, new: dict) -> None:
    for key in old.keys() - new.keys() | {k for k in new if k in old and old[k] != new[k]}:
        changes.window_deletes.append({"b_member": member_id, "b_window": key})
    for key, (metric, reached, closed) in new.items():
        if old.get(key) != new[key]:
            changes.window_inserts.append({"member_id": member_id, "window": key, "metric": metric,
                                           "reached": reached, "closed": closed})


def _diff_streaks(changes, member_id: str, old: dict, new: dict) -> None:
    for key in old.keys() - new.keys() | {k for k in new if k in old and old[k] != new[k]}:
        changes.streak_deletes.append({"b_member": member_id, "b_streak": key})
    for position, (key, (length, last, freezes, best, paid)) in enumerate(new.items()):
        if old.get(key) != new[key]:
            changes.streak_inserts.append({"member_id": member_id, "streak_id": key, "position": position,
                                           "length": length, "last_period": last, "freezes_left": freezes,
                                           "best": best, "paid": paid})


def _diff_history(changes, member_id: str, loaded: Loaded, final: list[HistoryItem]) -> tuple[tuple[int, ...], int]:
    """History rows to delete and insert; returns the new row numbers and the next one."""
    old = loaded.state.history if loaded.state else []
    if final is old:
        return loaded.history_seqs, loaded.next_history
    kept = _kept_suffix(old, final)
    gone = len(old) - kept
    changes.history_deletes.extend({"b_member": member_id, "b_seq": seq} for seq in loaded.history_seqs[:gone])
    seqs, seq = list(loaded.history_seqs[gone:]), loaded.next_history
    for item in final[kept:]:
        values = encode_text([[k, v] for k, v in item.values])
        changes.history_inserts.append({"member_id": member_id, "seq": seq, "time": item.time, "type": item.type,
                                        "values": values})
        seqs.append(seq)
        seq += 1
    return tuple(seqs), seq


def _kept_suffix(old: list, new: list) -> int:
    """How many items at the end of ``old`` start ``new``: housekeeping forgets the
    oldest items and events append, so the rest is a shared run. Only positions where
    ``new`` could start are compared."""
    if new:
        for dropped, item in enumerate(old):
            kept = len(old) - dropped
            if item == new[0] and kept <= len(new) and old[dropped:] == new[:kept]:
                return kept
    return 0
