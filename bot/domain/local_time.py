"""Local times of day that stay right across daylight-saving changes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class TimeOfDayError(ValueError):
    """Not a time of day such as 09:00."""


def parse_time_of_day(text: str) -> time:
    """`09:00` or `9:00` as a time; TimeOfDayError otherwise."""
    match = _HHMM.match(text.strip())
    if not match:
        raise TimeOfDayError(f"'{text}' is not a time of day; write it as 09:00")
    return time(int(match.group(1)), int(match.group(2)))


def next_local_time(after: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first instant after `after` when the clock in `zone` shows `at`, in UTC."""
    local_day = after.astimezone(zone).date()
    for offset in range(3):
        candidate = datetime.combine(local_day + timedelta(days=offset), at, tzinfo=zone)
        # A time skipped by a spring-forward change is taken as the same wall time after it.
        instant = candidate.astimezone(UTC)
        if instant > after:
            return instant
    raise AssertionError("unreachable: a day always has the time")


def next_weekly_time(after: datetime, weekday: int, at: time, zone: ZoneInfo) -> datetime:
    """The first instant after `after` when it is `at` on `weekday` (0 is Monday) in `zone`."""
    instant = next_local_time(after, at, zone)
    while instant.astimezone(zone).weekday() != weekday:
        instant = next_local_time(instant, at, zone)
    return instant
