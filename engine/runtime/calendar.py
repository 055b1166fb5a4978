"""Calendar arithmetic in the ruleset's timezone.

Every period, hour, weekday and window is local to the ruleset's IANA zone. Day,
week, month and year arithmetic happens on local wall-clock dates and is then
re-attached to the zone, so "1 day" after 08:00 on the eve of a DST change is 08:00
the next day (not 24 hours later); minutes and hours are exact elapsed time.

Arithmetic stops at the ends of the calendar: a result after 9999-12-31 is
:data:`FAR_FUTURE` (a deadline that never comes), one before the year 1 is
:data:`FAR_PAST` (a window that reaches back to the start). It never raises for that.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import functools
from typing import TypeVar
from zoneinfo import ZoneInfo

from .state import FAR_FUTURE

__all__ = [
    "window_end",
    "later",
    "FAR_FUTURE",
    "FAR_PAST",
    "add",
    "add_months",
    "fixed_offset_since",
    "local",
    "local_midnight",
    "month_end",
    "year_end",
    "period_key",
    "period_start",
    "PERIODS",
]

PERIODS = ("day", "week", "month", "year", "lifetime", "event")
_EXACT = {"minute": 60, "hour": 3600}
_UNITS = ("minute", "hour", "day", "week", "month", "year")
FAR_PAST = dt.datetime.min.replace(tzinfo=dt.UTC)
_SHORTEST_MONTH = 28  # days: a day of the month up to this exists in every month
_DECEMBER = 12
# A date or a datetime: arithmetic gives back the kind it was given.
_Moment = TypeVar("_Moment", dt.datetime, dt.date)


def _edge(moment: _Moment, forward: bool) -> _Moment:
    """The end of the calendar that arithmetic on ``moment`` ran past, of the same kind."""
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            return dt.datetime.max if forward else dt.datetime.min
        return FAR_FUTURE if forward else FAR_PAST
    return dt.date.max if forward else dt.date.min


def local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The same instant, expressed in the ruleset's zone."""
    return moment.astimezone(tz)


def later(moment: dt.datetime, gap: dt.timedelta) -> dt.datetime:
    """``moment`` plus ``gap`` of real time (across a change of summer time too), in
    ``moment``'s zone; past either end of the calendar, that end."""
    try:
        return (moment.astimezone(dt.UTC) + gap).astimezone(moment.tzinfo)
    except OverflowError:
        return _edge(moment, gap >= dt.timedelta(0))


def window_end(moment: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime | None:
    """The end of the daily window from ``start`` to ``end`` (wall times in ``moment``'s zone;
    past midnight when ``end`` comes first, as quiet hours from 21:00 to 08:00) that
    ``moment`` falls in: its next ``end``. None outside it, or for an empty window."""
    clock = moment.time().replace(tzinfo=None)
    inside = start <= clock < end if start <= end else (clock >= start or clock < end)  # equal: empty
    if not inside:
        return None
    day = moment.date() if clock < end else moment.date() + dt.timedelta(days=1)  # it ends tomorrow morning
    return dt.datetime.combine(day, end, tzinfo=moment.tzinfo).astimezone(moment.tzinfo)


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def add_months(moment: _Moment, months: int) -> _Moment:
    """Calendar months; the 31st becomes the last day of a shorter month."""
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return _edge(moment, months > 0)
    day = moment.day
    if day > _SHORTEST_MONTH:
        day = min(day, _cal.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def add(moment: _Moment, amount: int, unit: str, tz: ZoneInfo | None = None) -> _Moment:
    """``moment`` plus a duration. Works on dates and on aware datetimes. Past either end
    of the calendar it gives that end (:data:`FAR_FUTURE`, :data:`FAR_PAST`)."""
    # The common case first: an aware datetime already in the zone, in years where the zone
    # keeps one offset. Wall-clock and elapsed time agree there, and aware arithmetic gives
    # the very datetime the general path (_add) builds: same fields, same zone, fold 0.
    try:
        if type(moment) is dt.datetime and (zone := moment.tzinfo) is not None and (tz is None or tz is zone) \
                and type(amount) is int:
            since = _SINCE.get(zone)
            if since is None:
                since = fixed_offset_since(zone)
                if len(_SINCE) < _MAX_ZONES:  # a handful of zones in practice; never grow without bound
                    _SINCE[zone] = since
            if since <= moment.year < _LAST_YEAR:
                step = _DELTAS.get((amount, unit))
                shifted = moment + step if step is not None else _shift(moment, amount, unit)
                if shifted is not None and since <= shifted.year <= _LAST_YEAR:
                    return shifted
        return _add(moment, amount, unit, tz)
    except (OverflowError, ValueError):
        if unit not in _UNITS:
            raise
        return _edge(moment, amount > 0)


def _shift(moment: dt.datetime, amount: int, unit: str) -> dt.datetime | None:
    """``moment`` moved on its own wall clock (None: the general path must do it)."""
    if unit in _STEP:
        step = _STEP[unit] * amount
        if len(_DELTAS) < _MAX_DELTAS:  # rulesets use a few durations; multiplying a timedelta is not cheap
            _DELTAS[(amount, unit)] = step
        return moment + step
    if unit in _MONTHS and moment.fold == 0:
        return add_months(moment, amount * _MONTHS[unit])
    return None


def _add(moment: _Moment, amount: int, unit: str, tz: ZoneInfo | None) -> _Moment:
    if unit in _EXACT:
        if not isinstance(moment, dt.datetime):
            return moment
        zone, delta = tz or moment.tzinfo, dt.timedelta(seconds=amount * _EXACT[unit])
        if moment.tzinfo is zone and fixed_offset_since(zone) <= moment.year < _LAST_YEAR:
            moved = moment + delta  # elapsed time equals wall-clock time where the offset never changes
            if fixed_offset_since(zone) <= moved.year <= _LAST_YEAR:
                return moved
        return (moment.astimezone(dt.UTC) + delta).astimezone(zone)
    if unit in ("day", "week"):
        shifted = _shift_wall(moment, dt.timedelta(days=amount * (7 if unit == "week" else 1)))
    elif unit in ("month", "year"):
        shifted = add_months(_wall(moment), amount * (12 if unit == "year" else 1))
    else:
        raise ValueError(f"unknown unit {unit!r}")
    return _reattach(shifted, moment, tz)


_STEP = {"minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
         "week": dt.timedelta(weeks=1)}
_MONTHS = {"month": 1, "year": 12}
_SINCE: dict[dt.tzinfo, int] = {}  # zone -> fixed_offset_since(zone), without the cache wrapper's call
_DELTAS: dict[tuple[int, str], dt.timedelta] = {}  # (amount, unit) -> timedelta, for the units in _STEP
_MAX_ZONES, _MAX_DELTAS = 64, 1024  # how many of each the caches above keep


def _wall(moment: _Moment) -> _Moment:
    return moment.replace(tzinfo=None) if isinstance(moment, dt.datetime) else moment


def _shift_wall(moment: _Moment, delta: dt.timedelta) -> _Moment:
    return _wall(moment) + delta


def _reattach(wall: _Moment, original: _Moment, tz: ZoneInfo | None) -> _Moment:
    # ``wall`` is of ``original``'s kind: a datetime exactly when ``original`` is one
    if not isinstance(original, dt.datetime) or not isinstance(wall, dt.datetime):
        return wall
    zone = tz or original.tzinfo
    if fixed_offset_since(zone) <= wall.year <= _LAST_YEAR:
        return wall.replace(tzinfo=zone, fold=0)  # no DST there: every wall time exists exactly once
    # round-trip through UTC normalises wall times that fall into a DST gap
    return wall.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone)


_FIRST_YEAR, _LAST_YEAR = 1970, 2099


@functools.lru_cache(maxsize=128)
def fixed_offset_since(zone: dt.tzinfo) -> int:
    """The first year from which ``zone`` keeps one UTC offset up to 2100 (Asia/Tokyo: 1970,
    Europe/Moscow: 2015; a year after 2099 when it never does). Wall-clock arithmetic there
    needs no normalising. Sampled at every month start: no daylight-saving period is
    shorter than a month."""
    months = [dt.datetime(year, month, 1, tzinfo=zone) for year in range(_FIRST_YEAR, _LAST_YEAR + 2)
              for month in range(1, 13)]
    final = months[-1].utcoffset()
    changed = [m.year for m in months if m.utcoffset() != final]
    return max(changed) + 1 if changed else _FIRST_YEAR


def month_end(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The first instant after the calendar month of ``moment`` (local midnight on the 1st)."""
    if moment.year == dt.MAXYEAR and moment.month == _DECEMBER:  # FAR_FUTURE included
        return FAR_FUTURE  # the month ends with the calendar
    wall = local(moment, tz)
    year, month = (wall.year + 1, 1) if wall.month == _DECEMBER else (wall.year, wall.month + 1)
    return FAR_FUTURE if year > dt.MAXYEAR else dt.datetime(year, month, 1, tzinfo=tz)


def year_end(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    if moment.year == dt.MAXYEAR:  # FAR_FUTURE included
        return FAR_FUTURE  # the year ends with the calendar
    year = local(moment, tz).year + 1
    return FAR_FUTURE if year > dt.MAXYEAR else dt.datetime(year, 1, 1, tzinfo=tz)


def period_key(moment: dt.datetime, period: str) -> int:
    """A number per calendar period (local time); consecutive periods differ by 1."""
    if period == "day":
        return moment.toordinal()
    if period == "week":  # ISO weeks, Monday first
        return (moment.toordinal() - moment.weekday()) // 7
    if period == "month":
        return moment.year * 12 + moment.month - 1
    if period == "year":
        return moment.year
    return 0  # lifetime


@functools.lru_cache(maxsize=4096)  # streak deadlines ask for the same few days over and over
def period_start(key: int, period: str, tz: ZoneInfo) -> dt.datetime:
    """The first instant of period ``key``; past either end of the calendar, that end."""
    try:
        return _period_start(key, period, tz)
    except (OverflowError, ValueError):
        if period not in _KEY_OF_5000:
            raise
        return FAR_FUTURE if key > _KEY_OF_5000[period] else FAR_PAST


def _period_start(key: int, period: str, tz: ZoneInfo) -> dt.datetime:
    if period == "day":
        return local_midnight(dt.date.fromordinal(key), tz)
    if period == "week":
        return local_midnight(dt.date.fromordinal(key * 7 + 1), tz)
    if period == "month":
        year, month = divmod(key, 12)
        return dt.datetime(year, month + 1, 1, tzinfo=tz)
    if period == "year":
        return dt.datetime(key, 1, 1, tzinfo=tz)
    raise ValueError(f"period {period!r} has no start")


_KEY_OF_5000 = {period: period_key(dt.datetime(5000, 1, 1), period) for period in ("day", "week", "month", "year")}
