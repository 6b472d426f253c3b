"""Durations as people and playbooks write them: `5s`, `30m`, `4h`, `2d`, `1w` or `PT4H`."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import TypeAdapter, ValidationError

_SHORT = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ISO = TypeAdapter(timedelta)
ACCEPTED = "a duration such as 5s, 30m, 4h, 2d, 1w or ISO 8601 PT4H"
LONGEST = timedelta(days=366)


class DurationError(ValueError):
    """The text is not a duration Tocsin understands."""


def parse_duration(text: str) -> timedelta:
    """The duration the text names; DurationError otherwise (zero and negative are refused)."""
    if not isinstance(text, str):
        raise DurationError(f"'{text}' has no unit; write {ACCEPTED}")
    match = _SHORT.match(text)
    try:
        if match:
            duration = timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
        elif text.strip().upper().startswith("P"):
            duration = _ISO.validate_python(text.strip().upper())
        else:
            raise DurationError(f"'{text}' is not {ACCEPTED}")
    except (ValidationError, OverflowError):
        raise DurationError(f"'{text}' is not {ACCEPTED}") from None
    if duration <= timedelta(0):
        raise DurationError(f"'{text}' must be longer than zero")
    if duration > LONGEST:
        raise DurationError(f"'{text}' is longer than a year; the longest is 366d")
    return duration


def describe_duration(duration: timedelta) -> str:
    """A short human form: `45m`, `4h`, `2d 3h`."""
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return " ".join(p for p in parts if p) or f"{int(duration.total_seconds())}s"
