"""Likely duplicates, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.duplicates import Recent, likely_duplicate, same_name

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CASE = Recent(
    "UA-2026-0001", "CO", frozenset({"death_threat"}), NOW - timedelta(hours=3), "Ana Ruiz"
)


def check(**changes: object) -> str | None:
    values: dict[str, object] = {
        "country": "CO",
        "threats": frozenset({"death_threat", "raid"}),
        "defender": "ana  RUIZ",
        "now": NOW,
        "recent": [CASE],
    }
    return likely_duplicate(**{**values, **changes})  # type: ignore[arg-type]


def test_the_same_defender_country_and_threats_within_a_day_is_a_duplicate() -> None:
    assert check() == "UA-2026-0001"


def test_anything_different_is_not() -> None:
    assert check(country="PE") is None
    assert check(threats=frozenset({"raid"})) is None
    assert check(defender="Ana Ruíz Gómez") is None
    assert check(defender=None) is None
    assert check(now=NOW + timedelta(hours=22)) is None


def test_names_match_whatever_the_case_accents_and_spaces() -> None:
    assert same_name("Lía  Pérez", "lia perez") and not same_name("Lia Perez", "Lia Peres")
