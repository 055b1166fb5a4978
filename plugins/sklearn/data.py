"""Training and scoring data: events folded through the engine's own profile code.

Events come from a JSON Lines file (gzip too), as ``punchcard sample-events`` and the dry-run
read them. Each member's events are folded in time order by
:func:`punchcard.engine.policies.profile.fold_event`, the function the engine's profile phase
runs, and features are read by :func:`punchcard.engine.policies.features.features`: the rows a
model is trained on are the rows the engine scores. Which events are folded follows the engine
too (:func:`counted`): each id once, as the engine answers a repeated id without changing
anything, and only the types its profile counts (:func:`punchcard.engine.policies.profile.counts`:
no built-in event, so no ``refund``, ``redeem`` or ``review_decision``). What a file alone cannot
know is which events a ruleset would refuse or block (docs/models.md).

Labels (docs/models.md):

- churn: members with a purchase by the cut-off; 1 when they make no purchase within the horizon after it
  (a purchase as the profile counts one: :func:`punchcard.engine.policies.profile.is_purchase`);
- engagement: each ``offer_presented`` event; 1 when the member's ``offer_used`` for the same ``offer``
  follows within the horizon;
- anomaly: no label; one row per member with a visit.

With a ruleset (:class:`RulesetHistory`), the events are folded through the engine with it, as
the dry-run replays them (``evaluate`` on each member's events in time order), and a member's
features are read as the engine reads them in a live decision: the profile the engine keeps,
and the tier and streak of the member's state housekept up to the moment
(:func:`punchcard.engine.policies.features.member_features`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from punchcard.engine.evaluate import evaluate, new_member
from punchcard.engine.housekeeping import housekeep
from punchcard.engine.policies.features import features, member_features, offer_features
from punchcard.engine.policies.profile import OFFER_EVENTS, counts, fold_event, is_purchase
from punchcard.engine.program import Compiled
from punchcard.engine.runtime.decision import Outcome
from punchcard.engine.runtime.events import Event, EventError
from punchcard.engine.runtime.state import MemberState, Profile

__all__ = ["EventsError", "Rows", "read_events", "read_raw", "counted", "profiles_at", "member_rows", "churn_rows",
           "engagement_rows", "offer_popularity", "UNKNOWN_OFFLINE", "Held", "RulesetHistory", "held_rows"]

# What a file of events cannot tell: the member's tier and streak need the ruleset's rules.
UNKNOWN_OFFLINE = frozenset({"tier", "streak"})
_TEXT_FIELDS = ("category", "offer", "offer_type")


class EventsError(ValueError):
    """An events file that cannot be read; names the file and line, never the line's content."""


@dataclass
class Rows:
    """Feature rows, with the member (and offer key) each is about and its label."""

    members: list[str] = field(default_factory=list)
    rows: list[dict[str, Decimal]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # engagement: the offer's type:category
    offers: list[Event] = field(default_factory=list)  # engagement: the offer_presented event of each row


def _lines(path: Path) -> Iterator[bytes]:
    # bytes, decoded line by line by the caller, so a line that is not UTF-8 is named by its number
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        yield from handle


def _event(raw: Any, where: str) -> Event:
    if not isinstance(raw, dict):
        raise EventsError(f"{where}: not a JSON object")
    try:
        time = dt.datetime.fromisoformat(str(raw["time"]))
        fields: dict[str, Any] = {name: str(raw[name]) for name in _TEXT_FIELDS if raw.get(name) is not None}
        for name in ("amount", "value"):
            if raw.get(name) is not None:
                fields[name] = Decimal(str(raw[name]))
        return Event(str(raw["id"]), str(raw["type"]), str(raw["member"]), time, fields)
    except (KeyError, ValueError, InvalidOperation):
        raise EventsError(f"{where}: an event needs type, id, member and an ISO 8601 time; "
                          "amount and value are numbers") from None


def _objects(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, the parsed line) for each line of the file that is not blank."""
    if not path.is_file():
        raise EventsError(f"events file {path} not found")
    for number, raw in enumerate(_lines(path), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EventsError(f"{path.name} line {number}: not UTF-8 text") from None
        if line.strip():
            try:
                yield f"{path.name} line {number}", json.loads(line)
            except ValueError:
                raise EventsError(f"{path.name} line {number}: not JSON") from None


def _checked(raw: Any, where: str) -> Event:
    event = _event(raw, where)
    if event.time.tzinfo is None:
        raise EventsError(f"{where}: a time needs its UTC offset")
    return event


def read_events(path: Path, tz: dt.tzinfo | None = None) -> list[Event]:
    """Every event in the file, in time order (then by id); times in ``tz`` when given."""
    events = []
    for where, raw in _objects(path):
        event = _checked(raw, where)
        if tz is not None:
            event.time = event.time.astimezone(tz)
        events.append(event)
    events.sort(key=lambda e: (e.time, e.id))
    return events


def read_raw(path: Path) -> list[tuple[Event, dict[str, Any]]]:
    """Every event in the file as :func:`read_events` reads it, with its line as written (for the
    engine, which reads every field its ruleset declares), in time order (then by id)."""
    pairs = [(_checked(raw, where), raw) for where, raw in _objects(path)]
    pairs.sort(key=lambda pair: (pair[0].time, pair[0].id))
    return pairs


def counted(events: Iterable[Event]) -> Iterator[Event]:
    """The events the engine's profile would fold, in order: the first of each id (the engine
    answers a repeat as a duplicate, or refuses it as a conflict, and nothing changes), of a type
    the profile counts (:func:`punchcard.engine.policies.profile.counts`)."""
    seen: set[str] = set()
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            if counts(event.type):
                yield event


def profiles_at(events: Iterable[Event], at: dt.datetime) -> dict[str, Profile]:
    """Each member's profile folded from their events up to and including ``at``, as the engine
    folds them (:func:`counted`)."""
    profiles: dict[str, Profile] = {}
    for event in counted(events):
        if event.time > at:
            break
        profiles[event.member] = fold_event(profiles.get(event.member), event)
    return profiles


def member_rows(profiles: Mapping[str, Profile], at: dt.datetime, names: Iterable[str]) -> Rows:
    """One row per member, the features ``names`` at ``at``, members in order."""
    wanted = list(names)
    out = Rows()
    for member in sorted(profiles):
        values = features(profiles[member], 0, 0, at)
        out.members.append(member)
        out.rows.append({name: values[name] for name in wanted})
    return out


def churn_rows(events: list[Event], cut: dt.datetime, horizon: dt.timedelta, names: Iterable[str],
               history: RulesetHistory | None = None) -> Rows:
    """Members who bought by ``cut``, features at ``cut``; label 1: no purchase in the horizon after.
    A purchase is one the engine's profile counts (:func:`counted`, ``is_purchase``: never a refund);
    with ``history``, also never one the ruleset refuses or blocks."""
    if history is not None:
        return _held_churn(history, cut, horizon, names)
    profiles = {m: p for m, p in profiles_at(events, cut).items() if p.purchases > 0}
    bought = {e.member for e in counted(events) if cut < e.time <= cut + horizon and is_purchase(e)}
    out = member_rows(profiles, cut, names)
    out.labels = [0 if member in bought else 1 for member in out.members]
    return out


def engagement_rows(events: list[Event], since: dt.datetime | None, until: dt.datetime, horizon: dt.timedelta,
                    names: Iterable[str], history: RulesetHistory | None = None) -> Rows:
    """Each offer presented in (since, until], with what the member's profile held just before;
    label 1 when the member used that offer within the horizon (and by ``until`` + horizon).
    With ``history``, the member as the engine held them just before."""
    out = _engagement_rows(events, since, until, horizon, list(names))
    return out if history is None else _held_offer_rows(out, history, list(names))


def _engagement_rows(events: list[Event], since: dt.datetime | None, until: dt.datetime, horizon: dt.timedelta,
                     wanted: list[str]) -> Rows:
    profiles: dict[str, Profile] = {}
    out = Rows()
    open_offers: dict[tuple[str, str], tuple[int, dt.datetime]] = {}
    for event in counted(events):
        if event.time > until + horizon:
            break
        profile = profiles.get(event.member) or Profile()
        if event.type == "offer_presented" and (since is None or event.time > since) and event.time <= until:
            _add_offer_row(out, event, profile, wanted)
            open_offers[(event.member, str(event.fields.get("offer")))] = (len(out.labels) - 1, event.time)
        elif event.type == "offer_used":
            shown = open_offers.pop((event.member, str(event.fields.get("offer"))), None)
            if shown is not None and event.time - shown[1] <= horizon:
                out.labels[shown[0]] = 1
        profiles[event.member] = fold_event(profile, event)
    return out


def _offer_of(event: Event) -> tuple[str, str | None, Decimal]:
    """(type, category, value) of an offer event."""
    kind, category, value = str(event.fields.get("offer_type", "")), event.fields.get("category"), \
        event.fields.get("value")
    return kind, category if isinstance(category, str) else None, value if isinstance(value, Decimal) else Decimal(0)


def _add_offer_row(out: Rows, event: Event, profile: Profile, wanted: list[str]) -> None:
    kind, category, value = _offer_of(event)
    values = {**features(profile, 0, 0, event.time), **offer_features(profile, kind, category, value)}
    out.members.append(event.member)
    out.rows.append({name: values[name] for name in wanted})
    out.labels.append(0)
    out.keys.append(f"{kind}:{category or '-'}")
    out.offers.append(event)


def offer_popularity(rows: Rows) -> tuple[dict[str, float], float]:
    """The baseline: each offer kind's use rate in ``rows`` (and the overall rate, for kinds not seen)."""
    shown: dict[str, int] = {}
    used: dict[str, int] = {}
    for key, label in zip(rows.keys, rows.labels, strict=True):
        shown[key] = shown.get(key, 0) + 1
        used[key] = used.get(key, 0) + label
    overall = sum(rows.labels) / len(rows.labels) if rows.labels else 0.0
    return {key: used[key] / shown[key] for key in shown}, overall


# -- with a ruleset: the member as the engine keeps it ----------------------------------
KEPT = (Outcome.APPLIED, Outcome.REVIEW)  # a refused or blocked event changes nothing, its profile fold included
AFTER_ALL = "\U0010ffff"  # an id after every other: (moment, AFTER_ALL) is after every event at the moment


@dataclass(frozen=True)
class Held:
    """A member at a moment as the engine holds it: the profile it keeps, and the member's state
    housekept up to the moment (tier windows closed, streaks broken, as a decision then sees it)."""

    program: Compiled  # the member's variant's program, when the ruleset has variants
    profile: Profile
    state: MemberState

    def features(self, at: dt.datetime) -> dict[str, Decimal]:
        """The member's features at ``at``, read in the ruleset's timezone as a decision reads them."""
        return member_features(self.program, self.state, self.profile, at.astimezone(self.program.tz))

    def offer_features(self, offer: Event) -> dict[str, Decimal]:
        return offer_features(self.profile, *_offer_of(offer))


class RulesetHistory:
    """Each member's events folded through the engine with ``compiled``, as the dry-run replays
    them: ``evaluate`` on the member's events in time order (then by id), a repeated id answered
    as a duplicate (nothing changes). The profile is the one the engine keeps in a ruleset that
    names models: every analyst event it decides and does not refuse or block, and (as offers
    do) each offer response the file holds."""

    def __init__(self, compiled: Compiled, pairs: Iterable[tuple[Event, Mapping[str, Any]]]) -> None:
        self.compiled = compiled
        self.members: dict[str, list[tuple[tuple[dt.datetime, str], Event, Mapping[str, Any]]]] = {}
        for event, raw in pairs:  # in time order, so each member's events are too
            self.members.setdefault(event.member, []).append(((event.time, event.id), event, raw))

    @property
    def label(self) -> str:
        """The ruleset's id@version, as its decisions are stamped."""
        return self.compiled.label

    def at(self, moment: dt.datetime) -> dict[str, Held]:
        """Every member with an event by ``moment`` (included), as held at ``moment``."""
        key = (moment, AFTER_ALL)
        return {member: self.before(member, [key])[0] for member, events in sorted(self.members.items())
                if events[0][0] <= key}

    def before(self, member: str, keys: Sequence[tuple[dt.datetime, str]]) -> list[Held]:
        """The member just before each (time, id) of ``keys`` (in order), in one replay."""
        program = self.compiled.for_member(member) if self.compiled.split is not None else self.compiled
        events = self.members.get(member, [])
        state, profile, seen, done = new_member(member), Profile(), set[str](), 0
        out = []
        for key in keys:
            while done < len(events) and events[done][0] < key:
                state, profile = self._step(program, state, profile, events[done][1], events[done][2], seen)
                done += 1
            out.append(Held(program, profile, _housekept(program, state, key[0])))
        return out

    def _step(self, program: Compiled, state: MemberState, profile: Profile, event: Event, raw: Mapping[str, Any],
              seen: set[str]) -> tuple[MemberState, Profile]:
        if event.id in seen:  # a retry: the engine answers it as a duplicate, and nothing changes
            return state, profile
        seen.add(event.id)
        try:
            parsed = program.schema.parse(raw)
        except EventError:  # the ruleset refuses it; an offer response is still one (as offers count it)
            return state, fold_event(profile, event) if event.type in OFFER_EVENTS else profile
        decision, state = evaluate(self.compiled, state, parsed, owned=True, trace=False)
        if event.type in OFFER_EVENTS:
            return state, fold_event(profile, event)
        walked = parsed.type in program.plans and counts(parsed.type)  # the profile phase folds these
        return state, fold_event(profile, parsed) if walked and decision.outcome in KEPT else profile


def _housekept(program: Compiled, state: MemberState, moment: dt.datetime) -> MemberState:
    """A copy of ``state`` with housekeeping done up to ``moment``, as ``Engine.offers`` sees a member."""
    held = state.clone()
    housekeep(program, held, moment.astimezone(program.tz))
    return held


def held_rows(held: Mapping[str, Held], at: dt.datetime, names: Iterable[str]) -> Rows:
    """One row per member, the features ``names`` at ``at`` as the engine reads them, members in order."""
    wanted = list(names)
    out = Rows()
    for member in sorted(held):
        values = held[member].features(at)
        out.members.append(member)
        out.rows.append({name: values[name] for name in wanted})
    return out


def _held_churn(history: RulesetHistory, cut: dt.datetime, horizon: dt.timedelta, names: Iterable[str]) -> Rows:
    held = {member: h for member, h in history.at(cut).items() if h.profile.purchases > 0}
    later = history.at(cut + horizon)
    out = held_rows(held, cut, names)
    out.labels = [0 if (last := later[member].profile.last) is not None and last > cut else 1
                  for member in out.members]
    return out


def _held_offer_rows(out: Rows, history: RulesetHistory, wanted: list[str]) -> Rows:
    """``out``'s rows read again from the members as the engine held them just before each offer."""
    rows: dict[str, list[int]] = {}
    for index, member in enumerate(out.members):
        rows.setdefault(member, []).append(index)
    for member, indices in rows.items():
        offers = [out.offers[i] for i in indices]
        for index, offer, held in zip(indices, offers, history.before(member, [(o.time, o.id) for o in offers]),
                                      strict=True):
            values = {**held.features(offer.time), **held.offer_features(offer)}
            out.rows[index] = {name: values[name] for name in wanted}
    return out
