"""Event parsing: the fast path for valid events agrees with the full, problem-collecting path.

``EventSchema.parse`` tries a plain dict as if it were valid and falls back to
``EventSchema._parse_full`` at the first doubt; ``_parse_full`` is the reference. The
invariant: for any raw event, both give the same Event or the same EventError problems,
and the fast path does not fall back for an event that is valid.
"""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punchcard.engine.runtime.events import EventError, EventSchema, parse_time, to_decimal

FIELDS = {
    "purchase": {"amount": "money", "category": "string", "channel": "optional string"},
    "survey": {"score": "integer", "delta": "signed", "ratio": "optional number", "happy": "bool",
               "born": "optional date", "seen": "optional datetime", "tags": "list[string]",
               "weights": "optional list[number]", "clock": "optional time"},
    "tick": {},
}
SCHEMAS = [EventSchema(FIELDS, ZoneInfo(tz), naive_ok) for tz in ("Europe/Moscow", "Asia/Tokyo")
           for naive_ok in (True, False)]
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(st.integers(-10**6, 10**6), st.decimals(allow_nan=False, allow_infinity=False, places=3),
                    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str))
times = st.one_of(
    st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2040, 1, 1), allow_imaginary=False).map(
        lambda d: d.isoformat()),
    st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2040, 1, 1), timezones=st.sampled_from(
        [dt.UTC, dt.timezone(dt.timedelta(hours=3)), ZoneInfo("America/New_York")])),
    st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1)).map(lambda d: d.isoformat() + "Z"),
    st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1)).map(lambda d: d.isoformat() + "+05:30"),
)
VALID = {
    "money": st.one_of(numbers.filter(lambda n: Decimal(n) >= 0), st.just("0"), st.just("-0")),
    "number": numbers, "signed": numbers,
    "integer": st.one_of(st.integers(-10**9, 10**9), st.integers(-999, 999).map(lambda n: f"{n}.000")),
    "string": st.text(max_size=8), "bool": st.booleans(),
    "date": st.dates().map(lambda d: d.isoformat()) | st.dates(), "datetime": times,
    "list[string]": st.lists(st.text(max_size=3), max_size=3),
    "list[number]": st.lists(numbers, max_size=3), "time": st.just("08:15"),
}
EDGES = st.sampled_from([None, "", " ", "\t", "x" * 200, "x" * 201, "abc", "12,00", "NaN", "-Infinity", "sNaN",
                         "1e999999", "-5", "-0", "2.5", "Z", "2026-02-30", "2026-03-02T08:15:00", True, 0.1])
JUNK = st.one_of(
    EDGES, EDGES, st.booleans(), st.floats(),
    st.lists(st.sampled_from(["a", 1, "2", None]), max_size=3), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                                 max_size=2),
    st.integers(), st.text(max_size=5), times, st.dates(), st.just(dt.datetime(2026, 3, 2, 8, 15)),
)
identifiers = st.text(min_size=1, max_size=12).filter(str.strip) | st.sampled_from(
    ["e1", " m1 ", "x" * 200, "o#1", "p1#streak:w", "p1#referral"])


@st.composite
def valid_events(draw, kind=None):
    kind = kind or draw(st.sampled_from(sorted(FIELDS)))
    raw = {"type": kind, "id": draw(identifiers), "member": draw(identifiers), "time": draw(times)}
    for name, declared in FIELDS[kind].items():
        base = declared.removeprefix("optional ")
        if base != declared and draw(st.booleans()):
            if draw(st.booleans()):
                raw[name] = None
            continue
        raw[name] = draw(VALID[base])
    return raw


@st.composite
def raw_events(draw):
    """Mostly-valid events with a few things wrong: missing, None, unknown, or junk values."""
    raw = draw(valid_events())
    keys = sorted(set(raw) | {"type", "id", "member", "time", "colour", "amount", "score", "tags"})
    for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
        action = draw(st.sampled_from(["drop", "junk", "junk", "valid-other"]))
        if action == "drop":
            raw.pop(key, None)
        elif action == "junk":
            raw[key] = draw(JUNK)
        else:
            raw[key] = draw(st.one_of(*VALID.values()))
    if draw(st.booleans()):
        raw["type"] = draw(st.sampled_from([*FIELDS, "purchace", None, 7]))
    if draw(st.booleans()):
        raw[draw(st.sampled_from(["id", "member"]))] = draw(st.sampled_from(["", " \n", "x" * 200, "x" * 201, 5]))
    return raw


def outcome(parse, raw):
    """What parsing gives, comparable exactly (Decimal('1.0') and Decimal('1') differ here)."""
    try:
        event = parse(raw)
    except EventError as exc:
        return "error", exc.problems, exc.event_id, str(exc)
    except Exception as exc:  # e.g. a list as the type: unhashable, on both paths alike
        return "raised", type(exc), str(exc)
    fields = [(k, type(v).__name__, repr(v)) for k, v in event.fields.items()]
    return ("event", event.id, event.type, event.member, event.time, event.time.utcoffset(),
            event.time.tzinfo, event.time.fold, fields, event.body, event.digest)


@PROPERTY
@given(st.sampled_from(SCHEMAS), raw_events())
def test_fast_and_full_paths_agree(schema, raw):
    assert outcome(schema.parse, raw) == outcome(schema._parse_full, raw)


@PROPERTY
@given(st.sampled_from(SCHEMAS), valid_events())
def test_a_valid_event_takes_the_fast_path(schema, raw):
    full = outcome(schema._parse_full, raw)
    if full[0] == "event":  # invalid only when naive times are refused, or a time is unsupported
        assert schema._parse_valid(raw) is not None
    assert outcome(schema.parse, raw) == full


@PROPERTY
@given(st.sampled_from(SCHEMAS), st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1)))
def test_a_naive_time_is_local_to_the_ruleset_fold_included(schema, moment):
    """A naive time is the ruleset's local time (its fold picks one of a repeated hour), at
    the wall time its instant really has: one the clocks skip moves on by the gap."""
    for given_as in (moment, moment.replace(fold=0).isoformat()):
        local = (moment if given_as is moment else moment.replace(fold=0)).replace(tzinfo=schema.tz)
        got = parse_time(given_as, schema.tz)
        assert got.tzinfo is schema.tz and got.astimezone(dt.UTC) == local.astimezone(dt.UTC)  # the same instant
        again = got.astimezone(dt.UTC).astimezone(schema.tz)
        assert (got.replace(tzinfo=None), got.fold, got.utcoffset()) == (again.replace(tzinfo=None), again.fold,
                                                                         again.utcoffset())  # a real wall time
        skipped = local.replace(fold=0).utcoffset() < local.replace(fold=1).utcoffset()
        assert (got.replace(tzinfo=None, fold=0) == moment.replace(fold=0)) is not skipped


def test_a_naive_time_the_clocks_skip_is_the_wall_time_of_its_instant():
    new_york = ZoneInfo("America/New_York")
    got = parse_time("2026-03-08T02:30:00", new_york)
    assert got.isoformat() == "2026-03-08T03:30:00-04:00"
    assert got < parse_time("2026-03-08T03:40:00", new_york)  # in order, as the instants are
    repeated = parse_time("2026-11-01T01:30:00", new_york)  # an hour the clocks repeat: its first time
    assert repeated.utcoffset() == dt.timedelta(hours=-4)


@given(st.one_of(st.integers(), st.floats(), st.decimals(), st.text(max_size=6), st.booleans(), st.none()))
def test_to_decimal_is_exact_or_says_why(value):
    try:
        number = to_decimal(value)
    except ValueError:
        return
    expected = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    assert number.is_finite() and str(number) == str(expected)


PURCHASE = {"type": "purchase", "id": "e1", "member": "m17", "time": "2026-03-02T08:15:00",
            "amount": "150", "category": "coffee"}


@pytest.mark.parametrize("change,problems", [
    ({"amount": None}, ["missing field 'amount' (money)"]),
    ({"colour": "red", "size": 1}, ["unknown field 'colour' (declared: amount, category, channel)",
                                    "unknown field 'size' (declared: amount, category, channel)"]),
    ({"amount": "12,00"}, ["amount '12,00' is not a number"]),
    ({"amount": True}, ["amount is true/false, not a number"]),
    ({"amount": "NaN"}, ["amount must be a finite number (NaN and Infinity are not amounts)"]),
    ({"amount": float("inf")}, ["amount must be a finite number (NaN and Infinity are not amounts)"]),
    ({"amount": "-5"}, ["amount must not be negative (send a refund for money going back)"]),
    ({"category": 7}, ["category must be text, not int"]),
    ({"time": "yesterday"}, ["time 'yesterday' is not an ISO 8601 time such as 2026-03-02T08:15:00+03:00"]),
    ({"time": 5}, ["time must be an ISO 8601 time such as 2026-03-02T08:15:00+03:00, not a number"]),
    ({"time": None}, ["time is missing: every event needs one, an ISO 8601 time such as 2026-03-02T08:15:00+03:00"]),
    ({"id": " ", "member": None}, ["id must be a non-empty string of at most 200 characters",
                                   "member must be a non-empty string of at most 200 characters"]),
    ({"id": "p1#streak:weekly/each"}, ["id must not contain '#streak:', '#achievement:', '#challenge:', "
                                       "'#referral': ids ending so name the lots an event's rewards are paid into"]),
    ({"type": "purchace"}, ["type 'purchace' is not an event type of this ruleset (known: purchase, survey, tick)"]),
    ({"type": "tick", "amount": None}, ["unknown field 'amount' (declared: none)",
                                         "unknown field 'category' (declared: none)"]),
])
def test_problems_keep_their_wording(change, problems):
    with pytest.raises(EventError) as caught:
        SCHEMAS[0].parse({**PURCHASE, **change})
    assert caught.value.problems == problems


def test_survey_problems_keep_their_wording():
    raw = {"type": "survey", "id": "s1", "member": "m1", "time": "2026-03-02T08:15:00", "score": "2.5",
           "delta": [], "happy": "yes", "born": "2026-02-30", "tags": ["a", 1], "weights": "1", "clock": "08:15"}
    with pytest.raises(EventError) as caught:
        SCHEMAS[1].parse(raw)
    assert caught.value.event_id == "s1" and caught.value.problems == [
        "time '2026-03-02T08:15:00' has no UTC offset, and this ruleset requires one",
        "score must be a whole number", "delta must be a number, not a list", "happy must be true or false",
        "born '2026-02-30' is not a date such as 2026-03-02", "tags must be text, not int",
        "weights must be a list", "clock has an unsupported type time"]


def test_a_float_from_the_host_is_taken_by_its_shortest_repr():
    event = SCHEMAS[0].parse({**PURCHASE, "amount": 0.1})
    assert event.fields["amount"] == Decimal("0.1") and event.time.tzinfo == ZoneInfo("Europe/Moscow")


def test_a_schema_survives_pickling():
    schema = pickle.loads(pickle.dumps(SCHEMAS[2]))
    assert outcome(schema.parse, PURCHASE) == outcome(SCHEMAS[2].parse, PURCHASE)
    assert schema.parse(PURCHASE).time.utcoffset() == dt.timedelta(hours=9)


def test_a_mapping_that_is_not_a_dict_takes_the_full_path():
    from types import MappingProxyType
    assert SCHEMAS[0].parse(MappingProxyType(PURCHASE)) == SCHEMAS[0].parse(PURCHASE)
    with pytest.raises(EventError, match="an event must be a JSON object"):
        SCHEMAS[0].parse([("type", "purchase")])


def test_a_type_that_is_not_text_is_a_clear_rejection():
    schema = SCHEMAS[0]
    for kind in (["purchase"], {"a": 1}, 7, None):
        try:
            schema.parse({"type": kind, "id": "a", "member": "m", "time": "2026-01-01T00:00:00"})
        except EventError as exc:
            assert "is not an event type of this ruleset" in exc.problems[0]
        else:
            raise AssertionError(f"type {kind!r} was accepted")


@pytest.mark.parametrize("event_id", ["o#1", "m1#profile", "#", "a#streak", "x#referrals-are-fun"[:2] + "stage"])
def test_an_id_with_a_hash_that_names_no_reward_lot_is_an_event_id(event_id):
    assert SCHEMAS[0].parse({**PURCHASE, "id": event_id}).id == event_id


@pytest.mark.parametrize("reward", ["streak:weekly/each", "achievement:first", "challenge:c1", "referral"])
def test_an_id_that_could_name_another_event_s_reward_lot_is_refused(reward):
    with pytest.raises(EventError, match="name the lots an event's rewards are paid into"):
        SCHEMAS[0].parse({**PURCHASE, "id": f"p1#{reward}"})
