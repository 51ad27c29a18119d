"""Periods of a chart: days, ISO weeks (from Monday) and months, in UTC, and the SQL naming the
period of a timestamp per dialect. Coverage counts and feed-failure markers share them, so a
chart's bars and its markers fall on the same days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, literal_column
from sqlalchemy.sql.elements import ColumnElement

from monitor.errors import InputError
from monitor.filters import Filters, day_start

PERIODS = ("day", "week", "month")
MAX_PERIODS = 20_000  # about 55 years of days: more is a typo in a date, not a chart


def period_start(d: date | datetime, by: str) -> date:
    if isinstance(d, datetime):
        d = d.date()
    if by == "day":
        return d
    if by == "week":
        return d - timedelta(days=d.weekday())
    return d.replace(day=1)


def next_period(d: date, by: str) -> date:
    if by == "day":
        return d + timedelta(days=1)
    if by == "week":
        return d + timedelta(days=7)
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def check_by(by: str) -> str:
    if by not in PERIODS:
        raise InputError(f"cannot count by {by!r}: use day, week or month")
    return by


def bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    """The half-open datetime range of the filters' inclusive dates (as filters.py applies them)."""
    lo = day_start(filters.date_from) if filters.date_from else None
    hi = day_start(filters.date_to + timedelta(days=1)) if filters.date_to else None
    return lo, hi


@dataclass(frozen=True)
class Period:
    start: date
    lo: datetime  # clipped to the filters' range
    hi: datetime


def period_ranges(first: date, last: date, by: str, lo: datetime | None, hi: datetime | None) -> list[Period]:
    out: list[Period] = []
    p = period_start(first, by)
    end = period_start(last, by)
    while p <= end:
        n = next_period(p, by)
        start_dt, end_dt = day_start(p), day_start(n)
        out.append(Period(p, max(start_dt, lo) if lo else start_dt, min(end_dt, hi) if hi else end_dt))
        if len(out) > MAX_PERIODS:
            raise InputError(f"more than {MAX_PERIODS} {by}s in the date range: narrow it or count by week or month")
        p = n
    return out


def period_expr(db, by: str, column) -> ColumnElement:
    """The SQL expression naming the period of a timestamp (per dialect)."""
    if db.is_sqlite:
        if by == "day":
            return func.date(column)
        if by == "week":
            # 'weekday 0' moves to the next Sunday (or stays on one); 6 days back is its Monday
            return func.date(column, literal_column("'weekday 0'"), literal_column("'-6 days'"))
        return func.strftime(literal_column("'%Y-%m-01'"), column)
    # literal units: a bound parameter would differ between SELECT and GROUP BY for PostgreSQL
    return func.date_trunc(literal_column(f"'{by}'"), column)


def as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def day_of(value: object) -> date:
    """The day of a stored timestamp (SQLite hands back text, PostgreSQL a datetime)."""
    return (value if isinstance(value, datetime) else datetime.fromisoformat(str(value))).date()


def as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
