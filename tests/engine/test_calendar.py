"""Calendar arithmetic: the shortcut for zones without daylight saving must give exactly
what the general path (a round trip through UTC) gives."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from punchcard.engine.runtime import calendar

ZONES = [ZoneInfo(name) for name in ("Asia/Tokyo", "Europe/Moscow", "UTC", "Europe/Berlin", "America/New_York",
                                     "Australia/Lord_Howe", "Asia/Kolkata")]


def general_add(moment: dt.datetime, amount: int, unit: str, zone: ZoneInfo) -> dt.datetime:
    if unit in ("minute", "hour"):
        seconds = amount * (60 if unit == "minute" else 3600)
        return (moment.astimezone(dt.UTC) + dt.timedelta(seconds=seconds)).astimezone(zone)
    if unit in ("day", "week"):
        wall = moment.replace(tzinfo=None) + dt.timedelta(days=amount * (7 if unit == "week" else 1))
    else:
        wall = calendar.add_months(moment.replace(tzinfo=None), amount * (12 if unit == "year" else 1))
    return wall.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone)


def test_zones_with_and_without_daylight_saving_are_told_apart():
    since = {zone.key: calendar.fixed_offset_since(zone) for zone in ZONES}
    assert since["Asia/Tokyo"] == since["UTC"] == 1970
    assert since["Europe/Moscow"] == 2015  # it last changed its offset in October 2014
    assert since["Europe/Berlin"] > 2099 and since["America/New_York"] > 2099


@given(st.sampled_from(ZONES), st.datetimes(dt.datetime(1960, 1, 1), dt.datetime(2110, 1, 1)),
       st.integers(-400, 400), st.sampled_from(["minute", "hour", "day", "week", "month", "year"]))
def test_adding_calendar_units_matches_the_general_path(zone, wall, amount, unit):
    moment = wall.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone)
    try:
        expected = general_add(moment, amount, unit, zone)
    except (OverflowError, ValueError):
        return
    got = calendar.add(moment, amount, unit, zone)
    assert got == expected and got.utcoffset() == expected.utcoffset()
    assert got.replace(tzinfo=None) == expected.replace(tzinfo=None) and got.fold == expected.fold


def test_real_time_added_stops_at_the_calendar_s_ends_and_crosses_summer_time():
    from punchcard.engine.runtime.calendar import FAR_FUTURE, FAR_PAST, later

    london = ZoneInfo("Europe/London")
    before = dt.datetime(2026, 3, 29, 0, 30, tzinfo=london)  # the clocks go forward at 01:00
    assert later(before, dt.timedelta(hours=1)) == dt.datetime(2026, 3, 29, 2, 30, tzinfo=london)
    assert later(dt.datetime(9999, 12, 1, tzinfo=london), dt.timedelta(days=60)) == FAR_FUTURE
    assert later(dt.datetime(1, 1, 2, tzinfo=dt.UTC), dt.timedelta(days=-2)) == FAR_PAST
