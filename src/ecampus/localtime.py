"""The institution's calendar: stored times are UTC, the days people read are local.

Certificates, pages and report filters speak in days of one IANA time zone
(ECAMPUS_TIMEZONE); the database keeps UTC instants, and day filters become UTC bounds so
that the indexed columns are compared as they are, with no conversion per row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "America/Guatemala"


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ValueError names it when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not even a key ("../x", "/etc/x"); OSError: a folder ("America").
        raise ValueError(f"{name!r} is not an IANA time zone name") from None


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the database stores them in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` (naive means UTC) as a wall-clock time in ``tz``."""
    return _aware(moment).astimezone(tz)


def local_day(moment: datetime, tz: tzinfo) -> date:
    """The calendar day in ``tz`` on which ``moment`` (naive means UTC) falls."""
    return local(moment, tz).date()


def day_start(day: date, tz: tzinfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz``.

    Where a clock change skips midnight, the day begins at the first local time that
    exists (fold=0 reads the skipped midnight with the offset in force before the change).
    """
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def day_bounds(
    first: date | None, last: date | None, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """UTC bounds [start, end) covering the local days ``first`` to ``last``, inclusive.

    None is an open end: no filter given, or a day at the edge of the calendar (year 1 or
    9999) whose bound falls outside what a datetime can hold, so nothing lies beyond it.
    """
    return _bound(first, tz), _bound(last, tz, after=True)


def _bound(day: date | None, tz: tzinfo, *, after: bool = False) -> datetime | None:
    if day is None:
        return None
    try:
        return day_start(day + timedelta(days=1) if after else day, tz)
    except OverflowError:
        return None
