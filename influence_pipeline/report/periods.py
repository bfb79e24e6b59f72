"""The periods a brief compares: a night against the day before, a month to date against the same days of the month
before (pure date arithmetic)."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Period:
    """Days [start, end] and the period they are compared with, with the words the page shows for both."""
    title: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    compared_with: str


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _days(start: date, end: date) -> str:
    if start == end:
        return f"{start.day} {start:%b %Y}"
    if start.month == end.month:
        return f"{start.day}–{end.day} {end:%b %Y}"
    return f"{start.day} {start:%b}–{end.day} {end:%b %Y}"


def night_period(ds: date) -> Period:
    """One night → that day, compared with the day before."""
    before = ds - timedelta(days=1)
    return Period(f"Night of {ds.isoformat()}", ds, ds, before, before, f"vs {before.isoformat()}")


def month_period(month_start: date, end: date) -> Period:
    """The month from `month_start` to `end` → those days, compared with the same days of the previous month (to
    that month's last day when it is shorter: 1–31 March is compared with 1–28 February)."""
    previous_start = (month_start - timedelta(days=1)).replace(day=1)
    previous_end = min(previous_start.replace(day=1) + timedelta(days=end.day - 1), _month_end(previous_start))
    return Period(f"{month_start:%B %Y} to date ({_days(month_start, end)})", month_start, end, previous_start,
                  previous_end, f"vs {_days(previous_start, previous_end)}")


def month_end(month_start: date) -> date:
    """The last day of the month starting on `month_start`."""
    return _month_end(month_start)


def report_window(periods: list[Period]) -> tuple[date, date]:
    """The days the periods and their comparisons span together: what data.py reads."""
    return min(p.previous_start for p in periods), max(p.end for p in periods)


def brief_periods(ds: date, month_only: bool) -> list[Period]:
    """The periods of a brief ending on `ds`: the night and the month to date, or the month to date alone."""
    month = month_period(ds.replace(day=1), ds)
    return [month] if month_only else [night_period(ds), month]


def month_brief_end(month_start: date, processed: list[date]) -> date:
    """The last day a month's brief covers: its last processed night, or the month's end when none is."""
    inside = [d for d in processed if month_start <= d <= month_end(month_start)]
    return max(inside) if inside else month_end(month_start)
