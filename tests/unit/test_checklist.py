"""A new case's checklist: safety first, a step per target, public work gated on consent."""

from __future__ import annotations

from typing import Any

from bot.domain.alert import parse_alert
from bot.domain.triage import triage, triage_json
from bot.domain.world import World


def checklist(world: World, **extra: Any) -> list[dict[str, Any]]:
    data = {"country": "HN", "threats": ["arbitrary_detention"], "summary": "x", **extra}
    result: list[dict[str, Any]] = triage_json(triage(parse_alert(data, world.countries), world))[
        "checklist"
    ]
    return result


def test_first_step_is_the_defenders_safety_and_consent(world: World) -> None:
    first = checklist(world)[0]
    assert first["n"] == 1 and first["owner_role"] == "lead"
    assert "safe" in first["title"] and "consent" in first["title"]


def test_critical_cases_are_due_sooner_than_medium_ones(world: World) -> None:
    critical = checklist(world, threats=["torture"])
    medium = checklist(world, threats=["surveillance"])
    assert critical[0]["due_in_minutes"] < medium[0]["due_in_minutes"]
    assert critical[1]["due_in_minutes"] < medium[1]["due_in_minutes"]


def test_each_target_gets_a_step_naming_it(world: World) -> None:
    steps = checklist(world)
    targeted = [s["target"] for s in steps if s["target"]]
    assert "Working Group on Arbitrary Detention" in targeted


def test_public_statement_waits_for_media_consent(world: World) -> None:
    public = next(s for s in checklist(world) if "Public statement" in s["title"])
    assert public["gated_by"] == "consent.media"
    public = next(
        s for s in checklist(world, consent={"media": True}) if "Public statement" in s["title"]
    )
    assert public["gated_by"] is None


def test_triage_json_names_no_defender(world: World) -> None:
    data = {
        "country": "HN",
        "threats": ["raid"],
        "summary": "Office of Ana Example raided",
        "defender": {"name": "Ana Example", "organisation": "Colectivo Ejemplo"},
    }
    text = str(triage_json(triage(parse_alert(data, world.countries), world)))
    assert "Ana Example" not in text
    assert "Colectivo Ejemplo" not in text
