"""The one command grammar: `ua …` in the console, `/ua …` in Slack, `!ua …` in Matrix."""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

PREFIXES = ("/ua", "!ua", "ua")

USAGE_NEW = (
    'ua new country=HN threats=arbitrary_detention profiles=journalist summary="what happened"'
)
USAGE = {
    "new": USAGE_NEW,
    "route": 'ua route country=HN threats=death_threat profiles=land summary="…"',
    "list": "ua list [all]",
    "show": "ua show UA-2026-0042",
    "help": "ua help [command]",
}

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
_CASE_CODE = re.compile(r"^UA-?(\d{4})-?(\d{1,6})$", re.IGNORECASE)


class CommandError(ValueError):
    """The command could not be understood; the message says how to write it."""


@dataclass(frozen=True)
class NewCase:
    """`ua new key=value …`: the alert fields, shaped like the intake JSON."""

    alert: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteAlert:
    """`ua route key=value …`: whom to engage and why, without opening a case."""

    alert: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListCases:
    """`ua list [all]`: open cases, or every case."""

    include_closed: bool = False


@dataclass(frozen=True)
class ShowCase:
    """`ua show CODE`."""

    code: str


@dataclass(frozen=True)
class Help:
    """`ua help [command]`."""

    topic: str | None = None


ParsedCommand = NewCase | RouteAlert | ListCases | ShowCase | Help


def strip_prefix(text: str) -> str | None:
    """The command's words after `ua`, `/ua` or `!ua`; None when the text is not a command."""
    stripped = text.strip()
    for prefix in PREFIXES:
        if stripped == prefix or stripped.startswith(prefix + " "):
            return stripped[len(prefix) :].strip()
    return None


def parse_command(words_text: str) -> ParsedCommand:
    """Parse the words after the prefix into a command, or raise CommandError with usage."""
    words = _split(words_text)
    if not words:
        return Help()
    verb, args = words[0].lower(), words[1:]
    if verb == "new":
        return NewCase(alert=parse_alert_words(args))
    if verb == "route":
        return RouteAlert(alert=parse_alert_words(args, summary_default="(routing only)"))
    if verb == "list":
        return _parse_list(args)
    if verb == "show":
        if len(args) != 1:
            raise CommandError(f"Usage: {USAGE['show']}")
        return ShowCase(code=normalise_case_code(args[0]))
    if verb == "help":
        return Help(topic=args[0].lower() if args else None)
    close = difflib.get_close_matches(verb, list(USAGE), n=1)
    hint = f" Did you mean 'ua {close[0]}'?" if close else ""
    raise CommandError(
        f"Unknown command '{verb}'.{hint} Commands: {', '.join(USAGE)}. Try 'ua help'."
    )


def normalise_case_code(text: str) -> str:
    """`ua-2026-42` or `UA20260042` as the canonical `UA-2026-0042`."""
    match = _CASE_CODE.match(text.strip())
    if not match:
        raise CommandError(f"'{text}' is not a case code; case codes look like UA-2026-0042.")
    return format_case_code(int(match.group(1)), int(match.group(2)))


def format_case_code(year: int, number: int) -> str:
    """The code a team types and posts: short, and free of anything about the defender."""
    return f"UA-{year:04d}-{number:04d}"


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text.translate(_SMART_QUOTES))
    except ValueError:
        raise CommandError(
            'A quote is not closed: put the whole value in "double quotes".'
        ) from None


def _parse_list(args: list[str]) -> ListCases:
    if not args:
        return ListCases()
    if args == ["all"]:
        return ListCases(include_closed=True)
    raise CommandError(f"Usage: {USAGE['list']}")


# `ua new` keys, each to its path in the alert JSON, and whether it takes a comma-separated list.
NEW_CASE_KEYS: dict[str, tuple[tuple[str, ...], bool]] = {
    "country": (("country",), False),
    "threats": (("threats",), True),
    "profiles": (("profiles",), True),
    "summary": (("summary",), False),
    "occurred_on": (("occurred_on",), False),
    "severity": (("severity",), False),
    "defender": (("defender", "name"), False),
    "organisation": (("defender", "organisation"), False),
    "gender": (("defender", "gender"), False),
    "perpetrators": (("perpetrators",), True),
    "company": (("business", "company"), False),
    "home_country": (("business", "home_country"), False),
    "financiers": (("business", "financiers"), True),
    "consent": (("consent",), True),
}
_KEY_SPELLINGS = {"organization": "organisation", "threat": "threats", "profile": "profiles"}
CONSENT_USES = ("government", "un_public", "media")


def parse_alert_words(args: list[str], summary_default: str | None = None) -> dict[str, Any]:
    """`key=value` words into the nested dict of the intake JSON (validated later)."""
    alert: dict[str, Any] = {} if summary_default is None else {"summary": summary_default}
    seen: set[str] = set()
    for word in args:
        key, value = _key_value(word)
        if key in seen:
            raise CommandError(f"'{key}' is given twice; give each key once.")
        seen.add(key)
        path, is_list = NEW_CASE_KEYS[key]
        parsed: Any = _split_list(value) if is_list else value
        if key == "consent":
            parsed = _consent(parsed)
        _put(alert, path, parsed)
    return alert


def _key_value(word: str) -> tuple[str, str]:
    if "=" not in word:
        raise CommandError(f"'{word}' is not key=value. Usage: {USAGE_NEW}")
    raw_key, value = word.split("=", 1)
    key = _KEY_SPELLINGS.get(raw_key.strip().lower(), raw_key.strip().lower())
    if key not in NEW_CASE_KEYS:
        close = difflib.get_close_matches(key, list(NEW_CASE_KEYS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise CommandError(f"Unknown key '{raw_key}'{hint}. Keys: {', '.join(NEW_CASE_KEYS)}.")
    return key, value.strip()


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _consent(uses: list[str]) -> dict[str, bool]:
    lowered = [use.lower() for use in uses]
    if lowered in ([], ["none"], ["no"]):
        return {}
    unknown = [use for use in lowered if use not in CONSENT_USES]
    if unknown:
        raise CommandError(
            f"consent: '{unknown[0]}' is not a use; accepted: {', '.join(CONSENT_USES)} or none."
        )
    return {use: True for use in lowered}


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
