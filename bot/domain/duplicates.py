"""Likely duplicates: the same defender and country, overlapping threats, within a day."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Recent:
    """An open case as the duplicate check sees it."""

    code: str
    country: str
    threats: frozenset[str]
    opened_at: datetime
    defender: str | None


def likely_duplicate(
    *,
    country: str,
    threats: frozenset[str],
    defender: str | None,
    now: datetime,
    recent: list[Recent],
) -> str | None:
    """The code of the case this alert most likely repeats, or None. Without a defender's name
    nothing is a duplicate: two alerts about unnamed people may well be two people."""
    if not defender:
        return None
    for case in sorted(recent, key=lambda c: c.opened_at, reverse=True):
        if (
            case.country == country
            and now - WINDOW <= case.opened_at <= now
            and case.threats & threats
            and case.defender
            and same_name(case.defender, defender)
        ):
            return case.code
    return None


def same_name(first: str, second: str) -> bool:
    """Whether two spellings name the same person: case, accents and spacing aside."""
    return _folded(first) == _folded(second)


def _folded(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().split())
