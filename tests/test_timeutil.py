"""Durations, instants and calendar periods (in the contact's zone, across DST)."""

from __future__ import annotations

from datetime import datetime

import pytest

from pressure_sdk.timeutil import (
    calendar_period,
    format_duration,
    local_weekday_minute,
    parse_duration,
    parse_instant,
    to_iso,
    zone,
)

H = 3600
D = 86400


def ts(text: str) -> int:
    """An instant written with its offset, computed without pressure_sdk."""
    return int(datetime.fromisoformat(text).timestamp())


# -- durations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("90m", 5400),
        ("36h", 36 * H),
        ("7d", 7 * D),
        ("2w", 14 * D),
        ("1.5h", 5400),
        (" 7d ", 7 * D),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-1d", "7 days", "1h30m"])
def test_parse_duration_rejects_and_names_the_input(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration") as exc:
        parse_duration(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7 * D, "7d"),
        (14 * D, "14d"),
        (36 * H, "36h"),
        (D, "1d"),
        (5400, "90m"),
        (45, "45s"),
        (0, "0s"),
        (D + 1, f"{D + 1}s"),
    ],
)
def test_format_duration_is_the_shortest_exact_rendering(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["30s", "90m", "36h", "7d", "2w", "1.5h"])
def test_format_parse_round_trip(text: str) -> None:
    seconds = parse_duration(text)
    assert parse_duration(format_duration(seconds)) == seconds


# -- instants -------------------------------------------------------------------


def test_parse_instant_with_z_offset_and_naive() -> None:
    expected = ts("2026-03-10T12:00:00+00:00")
    assert parse_instant("2026-03-10T12:00:00Z", "Europe/Paris") == expected
    assert parse_instant("2026-03-10T12:00:00z", "Europe/Paris") == expected
    assert parse_instant("2026-03-10T13:00:00+01:00", "Asia/Tokyo") == expected
    assert parse_instant("2026-03-10T07:00:00-05:00", "UTC") == expected
    # no offset: read in the default zone
    assert parse_instant("2026-03-10T12:00:00", "UTC") == expected
    assert parse_instant("2026-03-10T13:00:00", "Europe/Paris") == expected
    assert parse_instant("2026-03-10T21:00:00", "Asia/Tokyo") == expected
    # New York is already on summer time on 2026-03-10 (since 8 March)
    assert parse_instant("2026-03-10T08:00:00", "America/New_York") == expected
    # a date alone is local midnight
    assert parse_instant("2026-03-10", "Asia/Tokyo") == ts("2026-03-10T00:00:00+09:00")


def test_parse_instant_naive_follows_the_zone_offset_of_that_date() -> None:
    # winter and summer offsets of Paris
    assert parse_instant("2026-01-15T12:00:00", "Europe/Paris") == ts("2026-01-15T11:00:00+00:00")
    assert parse_instant("2026-07-15T12:00:00", "Europe/Paris") == ts("2026-07-15T10:00:00+00:00")


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00:00", ""])
def test_parse_instant_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant(text, "UTC")


def test_unknown_zone_is_named() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone("Mars/Olympus")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        calendar_period(0, "day", "Mars/Olympus")


def test_to_iso_and_local_weekday_minute() -> None:
    t = ts("2026-03-10T12:00:00+00:00")  # a Tuesday
    assert to_iso(t, "Europe/Paris") == "2026-03-10T13:00:00+01:00"
    assert to_iso(None) is None
    assert local_weekday_minute(t, "Europe/Paris") == (1, 13 * 60)
    assert local_weekday_minute(t, "Asia/Tokyo") == (1, 21 * 60)
    assert local_weekday_minute(t, "America/New_York") == (1, 8 * 60)
    # 23:30 in New York on Monday is already Tuesday in UTC
    assert local_weekday_minute(ts("2026-03-10T03:30:00+00:00"), "America/New_York") == (0, 23 * 60 + 30)


# -- calendar periods -----------------------------------------------------------


def period(at: str, kind: str, tz: str, week_start: int = 0) -> tuple[int, int]:
    return calendar_period(ts(at), kind, tz, week_start)


def test_paris_spring_forward_day_is_23_hours() -> None:
    start, end = period("2026-03-29T12:00:00+02:00", "day", "Europe/Paris")
    assert (start, end) == (ts("2026-03-29T00:00:00+01:00"), ts("2026-03-30T00:00:00+02:00"))
    assert end - start == 23 * H
    # the last second of the short day still belongs to it, local midnight starts the next
    assert period("2026-03-29T23:59:59+02:00", "day", "Europe/Paris") == (start, end)
    assert period("2026-03-30T00:00:00+02:00", "day", "Europe/Paris")[0] == end
    # an instant before the change, same day
    assert period("2026-03-29T01:30:00+01:00", "day", "Europe/Paris") == (start, end)


def test_paris_fall_back_day_is_25_hours() -> None:
    start, end = period("2026-10-25T12:00:00+01:00", "day", "Europe/Paris")
    assert (start, end) == (ts("2026-10-25T00:00:00+02:00"), ts("2026-10-26T00:00:00+01:00"))
    assert end - start == 25 * H
    # both 02:30s of that night are in the same day
    assert period("2026-10-25T02:30:00+02:00", "day", "Europe/Paris") == (start, end)
    assert period("2026-10-25T02:30:00+01:00", "day", "Europe/Paris") == (start, end)


def test_paris_weeks_containing_the_changes() -> None:
    # Monday weeks
    start, end = period("2026-03-29T12:00:00+02:00", "week", "Europe/Paris")
    assert (start, end) == (ts("2026-03-23T00:00:00+01:00"), ts("2026-03-30T00:00:00+02:00"))
    assert end - start == 7 * 24 * H - H
    start, end = period("2026-10-25T12:00:00+01:00", "week", "Europe/Paris")
    assert (start, end) == (ts("2026-10-19T00:00:00+02:00"), ts("2026-10-26T00:00:00+01:00"))
    assert end - start == 7 * 24 * H + H


def test_paris_weeks_starting_on_sunday() -> None:
    sun = 6
    # Sunday 29 March starts a week that holds the change
    start, end = period("2026-03-29T12:00:00+02:00", "week", "Europe/Paris", sun)
    assert (start, end) == (ts("2026-03-29T00:00:00+01:00"), ts("2026-04-05T00:00:00+02:00"))
    assert end - start == 7 * 24 * H - H
    # the Saturday before belongs to the previous, full-length week
    start, end = period("2026-03-28T12:00:00+01:00", "week", "Europe/Paris", sun)
    assert (start, end) == (ts("2026-03-22T00:00:00+01:00"), ts("2026-03-29T00:00:00+01:00"))
    assert end - start == 7 * 24 * H


def test_week_start_midweek() -> None:
    wed = 2
    # Tuesday 10 March 2026 (Tokyo): the week started on Wednesday 4 March
    assert period("2026-03-10T12:00:00+09:00", "week", "Asia/Tokyo", wed) == (
        ts("2026-03-04T00:00:00+09:00"),
        ts("2026-03-11T00:00:00+09:00"),
    )
    # Wednesday itself starts the week
    assert period("2026-03-11T00:00:00+09:00", "week", "Asia/Tokyo", wed)[0] == ts("2026-03-11T00:00:00+09:00")


def test_paris_months_across_the_changes() -> None:
    start, end = period("2026-03-31T23:30:00+02:00", "month", "Europe/Paris")
    assert (start, end) == (ts("2026-03-01T00:00:00+01:00"), ts("2026-04-01T00:00:00+02:00"))
    assert end - start == 31 * 24 * H - H
    start, end = period("2026-10-01T00:00:00+02:00", "month", "Europe/Paris")
    assert end - start == 31 * 24 * H + H
    # December rolls over to January of the next year
    assert period("2026-12-15T12:00:00+01:00", "month", "Europe/Paris") == (
        ts("2026-12-01T00:00:00+01:00"),
        ts("2027-01-01T00:00:00+01:00"),
    )


def test_new_york_dst_days_and_week() -> None:
    start, end = period("2026-03-08T12:00:00-04:00", "day", "America/New_York")
    assert (start, end) == (ts("2026-03-08T00:00:00-05:00"), ts("2026-03-09T00:00:00-04:00"))
    assert end - start == 23 * H
    start, end = period("2026-11-01T12:00:00-05:00", "day", "America/New_York")
    assert (start, end) == (ts("2026-11-01T00:00:00-04:00"), ts("2026-11-02T00:00:00-05:00"))
    assert end - start == 25 * H
    start, end = period("2026-03-08T12:00:00-04:00", "week", "America/New_York")
    assert (start, end) == (ts("2026-03-02T00:00:00-05:00"), ts("2026-03-09T00:00:00-04:00"))
    assert end - start == 7 * 24 * H - H
    # 23:00 in New York on Monday 9 March is Tuesday in UTC: still Monday's day
    assert period("2026-03-10T03:00:00+00:00", "day", "America/New_York") == (
        ts("2026-03-09T00:00:00-04:00"),
        ts("2026-03-10T00:00:00-04:00"),
    )


def test_tokyo_has_no_dst_and_its_day_starts_at_15_utc() -> None:
    start, end = period("2026-03-10T16:00:00+00:00", "day", "Asia/Tokyo")
    assert (start, end) == (ts("2026-03-11T00:00:00+09:00"), ts("2026-03-12T00:00:00+09:00"))
    assert start == ts("2026-03-10T15:00:00+00:00")
    for at in ("2026-03-29T12:00:00+09:00", "2026-10-25T12:00:00+09:00", "2026-11-01T12:00:00+09:00"):
        s, e = period(at, "day", "Asia/Tokyo")
        assert e - s == 24 * H
    s, e = period("2026-02-10T12:00:00+09:00", "month", "Asia/Tokyo")
    assert (s, e) == (ts("2026-02-01T00:00:00+09:00"), ts("2026-03-01T00:00:00+09:00"))
    assert e - s == 28 * 24 * H


def test_same_instant_different_zones_different_days() -> None:
    t = "2026-03-10T23:30:00+00:00"
    assert period(t, "day", "UTC")[0] == ts("2026-03-10T00:00:00+00:00")
    assert period(t, "day", "Europe/Paris")[0] == ts("2026-03-11T00:00:00+01:00")
    assert period(t, "day", "Asia/Tokyo")[0] == ts("2026-03-11T00:00:00+09:00")
    assert period(t, "day", "America/New_York")[0] == ts("2026-03-10T00:00:00-04:00")


def test_unknown_period() -> None:
    with pytest.raises(ValueError, match="year"):
        calendar_period(0, "year", "UTC")
