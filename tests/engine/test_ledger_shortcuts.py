"""The ledger's and the schedule's shortcuts must give exactly what the plain computation gives.

Calendar arithmetic takes aware arithmetic for zones that keep one offset, new lots take
their dates from a per-ruleset plan, comparisons with FAR_FUTURE avoid comparing across
zones, and the schedule picks the earliest deadline without building lists. Each is
checked here against the straightforward way of computing the same thing."""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.evaluate import evaluate, new_member
from punchcard.engine.housekeeping import first_after
from punchcard.engine.policies import streaks, tier_windows, tiers
from punchcard.engine.policies.lifecycle import lots as ledger
from punchcard.engine.policies.lifecycle import settle, upkeep
from punchcard.engine.runtime import calendar
from punchcard.engine.runtime.state import FAR_FUTURE

ROOT = Path(__file__).resolve().parents[2]
RULESETS = [ROOT / "rulesets/retail-tiers.yaml", ROOT / "rulesets/coffee-club.yaml"] + [
    ROOT / f"tests/engine/rulesets/{name}.yaml" for name in ("inactivity", "refunds", "stars-expiry", "streaks",
                                                             "tier-windows")]
COMPILED = [compile_ruleset(path) for path in RULESETS]
ZONES = [ZoneInfo(name) for name in ("Asia/Tokyo", "Europe/Moscow", "UTC", "Europe/Berlin", "America/Los_Angeles")]
ZONES += [dt.UTC, dt.timezone(dt.timedelta(hours=-5))]
UNITS = ["minute", "hour", "day", "week", "month", "year"]


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the shortcut must fail exactly where the general path fails
        return "error", type(exc)


def _same_moment(a, b) -> bool:
    if type(a) is not type(b) or a != b:
        return False
    if not isinstance(a, dt.datetime):
        return True
    return (a.tzinfo is b.tzinfo or a.tzinfo == b.tzinfo) and a.fold == b.fold \
        and a.replace(tzinfo=None) == b.replace(tzinfo=None)


@st.composite
def moments(draw):
    zone = draw(st.sampled_from(ZONES))
    wall = draw(st.datetimes(dt.datetime(1960, 1, 1), dt.datetime(2110, 1, 1)))
    moment = wall.replace(tzinfo=zone, fold=draw(st.integers(0, 1)))
    if draw(st.booleans()):
        moment = moment.astimezone(dt.UTC).astimezone(zone)
    return draw(st.sampled_from([moment, moment, moment, moment.date()]))


@settings(max_examples=400, deadline=None)
@given(moments(), st.integers(-800, 800), st.sampled_from(UNITS), st.sampled_from([None, "own", "other"]))
def test_add_equals_the_general_path(moment, amount, unit, which):
    own = getattr(moment, "tzinfo", None)
    tz = {None: None, "own": own, "other": ZONES[(ZONES.index(own) + 1) % len(ZONES)] if own else None}[which]
    fast, general = _outcome(calendar.add, moment, amount, unit, tz), _outcome(calendar._add, moment, amount, unit, tz)
    assert fast[0] == general[0]
    assert _same_moment(fast[1], general[1]) if fast[0] == "ok" else fast == general


def _plain_dates(compiled, earned_at):
    """A lot's pending, expiry and notice instants, computed straight from the model."""
    points, tz = compiled.model.points, compiled.tz
    pending = points.pending
    pending_until = None if pending is None or pending.amount == 0 else \
        calendar._add(earned_at, pending.amount, pending.unit, tz)
    expiry = points.expiry
    expires = None
    if not isinstance(expiry, str) and expiry.after is not None:
        expires = calendar._add(earned_at, expiry.after.amount, expiry.after.unit, tz)
        if expiry.round_to == "month_end":
            expires = calendar.month_end(expires, tz)
        elif expiry.round_to == "year_end":
            expires = calendar.year_end(expires, tz)
    notice = points.expiry_notice
    notice_at = None if expires is None or notice is None else calendar._add(expires, -notice.amount, notice.unit, tz)
    return pending_until, expires, notice_at


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(COMPILED), st.lists(st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2040, 1, 1)),
                                           min_size=1, max_size=8))
def test_a_new_lot_takes_its_dates_from_the_plan_exactly(compiled, walls):
    state = new_member("m")
    for i, wall in enumerate(walls):
        earned_at = wall.replace(tzinfo=compiled.tz).astimezone(dt.UTC).astimezone(compiled.tz)
        ledger.add_lot(compiled, state, f"l{i}", "earn", Decimal(5), earned_at)
        lot = state.lots[-1]
        dates = (lot.pending_until, lot.expires_at, lot.notice_at)
        for got, want in zip(dates, _plain_dates(compiled, earned_at), strict=True):
            assert got == want and (got is None or _same_moment(got, want))


def test_far_future_is_recognised_without_comparing_across_zones():
    copy = pickle.loads(pickle.dumps(FAR_FUTURE))  # as after a state crossed a process boundary
    assert copy is not FAR_FUTURE
    west = dt.timezone(dt.timedelta(hours=-5))
    last = FAR_FUTURE.astimezone(west)  # the same instant, on a wall clock in the year 9999
    for moment in (FAR_FUTURE, copy, last):
        assert settle._real(moment) is None
    for moment in (dt.datetime(9999, 12, 31, tzinfo=ZONES[0]), dt.datetime(2030, 1, 1, tzinfo=west), None):
        assert settle._real(moment) is moment
    for now in (dt.datetime(2026, 1, 1, tzinfo=ZONES[0]), dt.datetime(9999, 12, 31, 19, tzinfo=west), last):
        for quiet in (FAR_FUTURE, copy, last, dt.datetime(2027, 1, 1, tzinfo=ZONES[0])):
            assert settle._before(now, quiet) == (now < quiet)
        assert settle._before(now, None) is False


def test_a_far_future_copy_has_nothing_to_forget():
    compiled = COMPILED[0]
    state = new_member("m")
    state.oldest_record = pickle.loads(pickle.dumps(FAR_FUTURE))
    assert upkeep.forget_on(compiled, state) is None and state.forget_on is None


def test_the_first_record_schedules_pruning_however_far_future_is_held():
    compiled, moment = COMPILED[1], dt.datetime(2026, 3, 1, 9, tzinfo=COMPILED[1].tz)
    states = [new_member("m"), new_member("m")]
    states[1].oldest_record = pickle.loads(pickle.dumps(FAR_FUTURE))
    for state in states:
        upkeep.schedule_prune(compiled, state, moment)
    assert states[0] == states[1]
    assert states[0].oldest_record == states[1].oldest_record == moment
    assert states[0].due == states[0].forget_on == upkeep.forget_at(compiled, moment)


def _plain_due(compiled, state, now, lots_ahead):
    """The schedule as a list of every deadline and min() over those after ``now``."""
    found = [lots_ahead] if lots_ahead is not None else []
    found += upkeep.inactivity_deadlines(compiled, state)
    if compiled.model.tiers is not None:
        model = compiled.model.tiers
        window = tier_windows.window_key(model, now, state.joined)
        found.append(tier_windows.window_end(model, window, state.joined, compiled.tz))
        found += [d for d in tier_windows.status_deadlines(compiled, state) if d > now]
    for streak in compiled.model.streaks:
        deadline = streaks.streak_deadline(streak, state.streaks.get(streak.id), compiled.tz)
        if deadline is not None:
            found.append(deadline)
    forget = upkeep.forget_on(compiled, state)
    if forget is not None:
        found.append(forget)
    later = [d for d in found if d > now]
    return min(later) if later else None


@st.composite
def histories(draw):
    compiled = draw(st.sampled_from(COMPILED))
    fields = compiled.model.schema_.events["purchase"]
    moment, events = dt.datetime(2026, 1, 5, 9, 0), []
    for i in range(draw(st.integers(1, 25))):
        moment += dt.timedelta(days=draw(st.integers(0, 90)), hours=draw(st.integers(0, 23)))
        event = {"id": f"e{i}", "member": "m", "time": moment.isoformat(), "type": "tick"}
        if draw(st.integers(0, 4)):
            event.update(type="purchase", amount=str(draw(st.integers(0, 30000))))
            if "category" in fields:
                event["category"] = draw(st.sampled_from(["coffee", "food", "gift_card"]))
        events.append(event)
    return compiled, events


@settings(max_examples=80, deadline=None)
@given(histories(), st.integers(0, 400))
def test_the_schedule_picks_what_min_would(history, days_on):
    compiled, events = history
    state = None
    for event in events:
        _, state = evaluate(compiled, state, event, owned=True)
    now = state.clock + dt.timedelta(days=days_on)
    for lots_ahead in (None, now + dt.timedelta(days=1), now - dt.timedelta(days=1)):
        want = _plain_due(compiled, state, now, lots_ahead)
        found = [lots_ahead] if lots_ahead is not None else []
        found += upkeep.inactivity_deadlines(compiled, state) + tiers.deadlines(compiled, state, now)
        found += streaks.deadlines(compiled, state) + [d for d in [upkeep.forget_on(compiled, state)] if d]
        state.due = first_after(now, found)
        assert state.due == want and (want is None or _same_moment(state.due, want))


def test_points_that_only_paid_off_debt_leave_no_expiry_to_wait_for():
    """A lot whose points all went to a negative balance has nothing to expire or notify,
    so it must not make housekeeping's lot shortcut wait for its expiry (a full pass skips it)."""
    compiled = compile_ruleset(ROOT / "tests/engine/rulesets/stars-expiry.yaml")
    events = [{"type": "purchase", "id": "p1", "member": "m", "time": "2026-01-05T09:00:00", "amount": "1"},
              {"type": "refund", "id": "f1", "member": "m", "time": "2026-11-17T09:00:00", "order": "p1",
               "amount": "1"},
              {"type": "purchase", "id": "p2", "member": "m", "time": "2026-12-06T09:00:00", "amount": "1"},
              {"type": "purchase", "id": "p3", "member": "m", "time": "2027-04-05T09:00:00", "amount": "0"}]
    states = []
    for forget in (False, True):
        state = None
        for event in events:
            if forget and state is not None:
                state.quiet_until, state.pending_from = None, 0
            _, state = evaluate(compiled, state, event, owned=True)
        states.append(state)
    fast, full = states
    assert fast == full and fast.quiet_until == full.quiet_until
