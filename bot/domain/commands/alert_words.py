"""`ua new` and `ua route` words (`key=value …`) into the nested alert of the intake JSON."""

from __future__ import annotations

import difflib
from typing import Any

from bot.domain.commands.forms import CommandError

USAGE_NEW = (
    'ua new country=HN threats=arbitrary_detention profiles=journalist summary="what happened"'
)
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
    "work": (("defender", "work"), False),
    "place": (("place",), False),
    "domestic_actions": (("domestic_actions",), False),
    "earlier_incidents": (("earlier_incidents",), False),
    "perpetrators": (("perpetrators",), True),
    "company": (("business", "company"), False),
    "home_country": (("business", "home_country"), False),
    "financiers": (("business", "financiers"), True),
    "consent": (("consent",), True),
    "separate": (("separate",), False),
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
