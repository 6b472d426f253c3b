"""Reading the words of a command: the prefix, quotes, case codes, step numbers, dates, yes/no."""

from __future__ import annotations

import re
import shlex
from datetime import date

from bot.domain.commands.forms import CommandError

PREFIXES = ("/ua", "!ua", "ua")

# Phones and Slack turn straight quotes into typographic ones; shlex understands only straight.
_SMART_QUOTES = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2018": "'",
        "\u2019": "'",
    }
)
_QUOTE_PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}
_CASE_CODE = re.compile(r"^UA-?(\d{4})-?(\d{1,6})$", re.IGNORECASE)
YES = frozenset({"yes", "y", "true", "1", "si", "sí", "oui"})
NO = frozenset({"no", "n", "false", "0", "non"})


def strip_prefix(text: str) -> str | None:
    """The command's words after `ua`, `/ua` or `!ua`; None when the text is not a command."""
    stripped = text.strip()
    for prefix in PREFIXES:
        if stripped == prefix or stripped.startswith(prefix + " "):
            return stripped[len(prefix) :].strip()
    return None


def split_words(text: str) -> list[str]:
    """Words as a shell would split them, typographic quotes taken as straight ones."""
    try:
        return shlex.split(text.translate(_SMART_QUOTES))
    except ValueError:
        raise CommandError(
            'A quote is not closed: put the whole value in "double quotes".'
        ) from None


def unquote(text: str) -> str:
    """Free text as typed, without one pair of quotes wrapping all of it (and only then)."""
    text = text.strip()
    closing = _QUOTE_PAIRS.get(text[:1])
    if closing and len(text) >= 2 and text.endswith(closing) and closing not in text[1:-1]:
        return text[1:-1].strip()
    return text


def normalise_case_code(text: str) -> str:
    """`ua-2026-42` or `UA20260042` as the canonical `UA-2026-0042`."""
    match = _CASE_CODE.match(text.strip())
    if not match:
        raise CommandError(f"'{text}' is not a case code; case codes look like UA-2026-0042.")
    return format_case_code(int(match.group(1)), int(match.group(2)))


def format_case_code(year: int, number: int) -> str:
    """The code a team types and posts: short, and free of anything about the defender."""
    return f"UA-{year:04d}-{number:04d}"


def step_number(text: str) -> int:
    """A step's number as typed (1 … 9999), or CommandError."""
    if not whole_number(text):
        raise CommandError(f"'{text}' is not a step number; steps are numbered 1, 2 … in ua show")
    return int(text)


def whole_number(text: str) -> bool:
    """Whether the text is a number from 1 to 9999 in ASCII digits."""
    return text.isascii() and text.isdigit() and 1 <= int(text) <= 9999


def iso_date(text: str) -> date:
    """A date written as 2026-11-20, or CommandError."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"'{text}' is not a date; write it as 2026-11-20.") from None
