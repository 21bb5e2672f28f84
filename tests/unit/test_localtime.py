"""ECAMPUS_TIMEZONE and the conversions between stored UTC instants and local days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ecampus.localtime import day_bounds, day_start, local_day
from ecampus.settings import Settings, SettingsError

GUATEMALA = ZoneInfo("America/Guatemala")


def test_the_default_calendar_is_guatemalas() -> None:
    settings = Settings.from_env({})

    assert settings.timezone == "America/Guatemala"
    assert settings.zone == GUATEMALA


@pytest.mark.parametrize("name", ["Europe/Madrid", "UTC", "Etc/GMT+6", " America/Tegucigalpa "])
def test_an_iana_name_is_taken(name: str) -> None:
    settings = Settings.from_env({"ECAMPUS_TIMEZONE": name})

    assert settings.zone == ZoneInfo(name.strip())


@pytest.mark.parametrize(
    "name",
    ["Guatemala", "America/Guatemla", "CST-6", "America", "../../etc/passwd", "/etc/localtime"],
)
def test_an_unknown_zone_is_refused_at_start(name: str) -> None:
    with pytest.raises(
        SettingsError, match="ECAMPUS_TIMEZONE must be an IANA time zone name"
    ) as error:
        Settings.from_env({"ECAMPUS_TIMEZONE": name})

    assert repr(name) in str(error.value)


def test_the_zone_data_ships_with_the_package() -> None:
    # Servers (and Windows machines) without system zone files still know every zone.
    tzdata = pytest.importorskip("tzdata", reason="tzdata is a dependency of ecampus")

    assert tzdata.IANA_VERSION


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (datetime(2025, 3, 15, 5, 30, tzinfo=UTC), GUATEMALA, date(2025, 3, 14)),
        (datetime(2025, 3, 15, 5, 30), GUATEMALA, date(2025, 3, 14)),  # naive means UTC
        (datetime(2025, 3, 15, 6, 0, tzinfo=UTC), GUATEMALA, date(2025, 3, 15)),
        (datetime(2025, 3, 14, 23, 30, tzinfo=UTC), ZoneInfo("Asia/Tokyo"), date(2025, 3, 15)),
        (datetime(2025, 3, 15, 5, 30, tzinfo=UTC), UTC, date(2025, 3, 15)),
    ],
)
def test_local_day(moment: datetime, zone: ZoneInfo, expected: date) -> None:
    assert local_day(moment, zone) == expected


@pytest.mark.parametrize(
    ("first", "last", "zone", "expected"),
    [
        (
            date(2025, 3, 14),
            date(2025, 3, 14),
            GUATEMALA,
            (datetime(2025, 3, 14, 6, tzinfo=UTC), datetime(2025, 3, 15, 6, tzinfo=UTC)),
        ),
        (None, None, GUATEMALA, (None, None)),
        (date(2025, 3, 14), None, UTC, (datetime(2025, 3, 14, tzinfo=UTC), None)),
        # Madrid moves to summer time on 30 March 2025: that day lasts 23 hours.
        (
            date(2025, 3, 30),
            date(2025, 3, 30),
            ZoneInfo("Europe/Madrid"),
            (datetime(2025, 3, 29, 23, tzinfo=UTC), datetime(2025, 3, 30, 22, tzinfo=UTC)),
        ),
        # The edges of the calendar fall outside what a datetime holds: open ends, no error.
        (date.min, date.max, ZoneInfo("Asia/Tokyo"), (None, None)),
    ],
)
def test_day_bounds(
    first: date | None,
    last: date | None,
    zone: ZoneInfo,
    expected: tuple[datetime | None, datetime | None],
) -> None:
    assert day_bounds(first, last, zone) == expected


def test_a_midnight_that_the_clock_skips_starts_the_day_at_the_first_real_time() -> None:
    # Santiago de Chile jumps from 00:00 to 01:00 on 8 September 2024.
    start = day_start(date(2024, 9, 8), ZoneInfo("America/Santiago"))

    assert start == datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert local_day(start, ZoneInfo("America/Santiago")) == date(2024, 9, 8)
