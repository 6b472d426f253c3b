"""Playbooks: validated with file and line; the default one follows how responders work."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.alert import parse_alert
from bot.domain.durations import DurationError, parse_duration
from bot.domain.playbook import Playbook
from bot.domain.triage import triage, triage_json
from bot.domain.world import World
from config.datafile import DataFileError
from config.playbook import DEFAULT_PLAYBOOK, load_playbook


def steps(world: World, playbook: Playbook, **alert: Any) -> list[dict[str, Any]]:
    data = {"country": "HN", "threats": ["arbitrary_detention"], "summary": "x", **alert}
    out: list[dict[str, Any]] = triage_json(
        triage(parse_alert(data, world.countries), world, playbook)
    )["checklist"]
    return out


def titled(checklist: list[dict[str, Any]], words: str) -> list[dict[str, Any]]:
    return [s for s in checklist if words in s["title"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5s", timedelta(seconds=5)),
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("PT4H", timedelta(hours=4)),
        ("P1DT2H", timedelta(days=1, hours=2)),
    ],
)
def test_durations_are_written_short_or_in_iso_8601(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "4 hours", "0m", "-2h", "PT0S", "P"])
def test_nonsense_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_first_step_is_the_defenders_safety_and_consent(world: World, playbook: Playbook) -> None:
    first = steps(world, playbook)[0]
    assert (first["n"], first["owner_role"], first["target"], first["gated_by"]) == (
        1,
        "lead",
        None,
        None,
    )
    assert "safe" in first["title"] and "consent" in first["title"]


def test_steps_are_numbered_in_order(world: World, playbook: Playbook) -> None:
    checklist = steps(world, playbook)
    assert [s["n"] for s in checklist] == list(range(1, len(checklist) + 1))


def test_critical_cases_are_due_sooner(world: World, playbook: Playbook) -> None:
    critical = steps(world, playbook, threats=["torture"])
    medium = steps(world, playbook, threats=["surveillance"])
    assert (critical[0]["due_in_minutes"], medium[0]["due_in_minutes"]) == (15, 120)


def test_each_embassy_gets_its_own_step_waiting_for_consent_to_name_to_governments(
    world: World, playbook: Playbook
) -> None:
    embassy_steps = titled(steps(world, playbook), "Alert the human rights officer of the")
    assert len(embassy_steps) == 8
    assert {s["gated_by"] for s in embassy_steps} == {"consent.government"}
    assert embassy_steps[0]["target"] == "Embassy of the United States in Honduras"
    opened = titled(steps(world, playbook, consent={"government": True}), "human rights officer of")
    assert {s["gated_by"] for s in opened} == {None}


def test_public_statement_waits_for_media_consent(world: World, playbook: Playbook) -> None:
    [public] = titled(steps(world, playbook), "Public statement")
    assert (public["owner_role"], public["gated_by"]) == ("comms", "consent.media")
    [public] = titled(steps(world, playbook, consent={"media": True}), "Public statement")
    assert public["gated_by"] is None


def test_ambassador_step_only_for_critical_cases_in_the_letters_countries(
    world: World, playbook: Playbook
) -> None:
    assert titled(steps(world, playbook, threats=["death_threat"]), "ambassador-level")
    assert not titled(steps(world, playbook, threats=["raid"]), "ambassador-level")
    assert not titled(steps(world, playbook, country="KE", threats=["death_threat"]), "ambassador")
    assert titled(steps(world, playbook, country="UG", threats=["torture"]), "ambassador-level")


def test_precautionary_measures_when_the_iachr_covers_a_threat_to_life_or_liberty(
    world: World, playbook: Playbook
) -> None:
    [pm] = titled(steps(world, playbook, threats=["death_threat"]), "precautionary measures")
    assert (
        pm["owner_role"] == "legal"
        and pm["target"] == "Inter-American Commission on Human Rights (IACHR)"
    )
    assert not titled(steps(world, playbook, threats=["smear_campaign"]), "precautionary measures")
    assert not titled(steps(world, playbook, country="KE", threats=["death_threat"]), "IACHR")
    assert titled(
        steps(world, playbook, country="KE", threats=["death_threat"]), "African Commission"
    )


def test_one_un_appeal_step_names_every_mandate(world: World, playbook: Playbook) -> None:
    [appeal] = titled(steps(world, playbook, profiles=["journalist"]), "urgent appeal")
    assert (
        "spsubmission.ohchr.org" in appeal["title"]
        and "English, French or Spanish" in appeal["title"]
    )
    assert "Working Group on Arbitrary Detention" in appeal["title"]
    assert appeal["gated_by"] == "consent.government"


def test_business_steps_follow_the_targets(world: World, playbook: Playbook) -> None:
    business = {"company": "Example Mining", "home_country": "CA", "financiers": ["IFC"]}
    checklist = steps(world, playbook, business=business)
    assert titled(checklist, "Compliance Advisor Ombudsman")
    assert titled(checklist, "National Contact Point of Canada")
    assert not titled(steps(world, playbook), "Ombudsman")


def test_the_shipped_playbook_is_sourced_and_dated(playbook: Playbook) -> None:
    assert playbook.source and playbook.as_of.year >= 2026


@pytest.fixture
def playbook_copy(tmp_path: Path) -> Path:
    path = tmp_path / "playbook.yaml"
    shutil.copy(DEFAULT_PLAYBOOK, path)
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    ("old", "new", "anchor", "words"),
    [
        (
            "due: 5d",
            "due: 5 days",
            "due: 5 days",
            "'5 days' is not a duration such as 5s, 30m, 4h, 2d, 1w or ISO 8601 PT4H",
        ),
        ("due: 5d", "due: 30", "due: 30", "'30' has no unit"),
        ("due: 5d", "due: 1:30", "due: 1:30", "'90' has no unit"),
        ("due: 5d", "due: 400d", "due: 400d", "longer than a year"),
        (
            "owner: comms",
            "owner: press",
            "owner: press",
            "Input should be 'lead', 'responder', 'legal' or 'comms'",
        ),
        (
            "gate: media",
            "gate: press",
            "gate: press",
            "Input should be 'government', 'un_public' or 'media'",
        ),
        (
            "gate: media",
            "gates: media",
            "gates: media",
            "is not a known field here; accepted: id, title, owner, due, when, targets, gate",
        ),
        (
            "country_in: [most_dangerous, deteriorating]",
            "country_in: [most_dangerous, dangerous]",
            "country_in: [most_dangerous, dangerous]",
            "unknown country group 'dangerous'",
        ),
        (
            "institutions: [iachr]",
            "institutions: [iachrr]",
            "institutions: [iachrr]",
            "unknown institution 'iachrr'; accepted:",
        ),
        (
            'title: "Inform {target}"',
            'title: "Inform {targets}"',
            "id: regional_bodies",
            "{targets} needs targets with mode: together",
        ),
        (
            "title: Public statement and media work",
            "title: Public statement for {name}",
            "id: public_statement",
            "unknown placeholder {name}",
        ),
    ],
)
def test_a_bad_playbook_fails_with_file_line_and_what_is_accepted(
    world: World, playbook_copy: Path, old: str, new: str, anchor: str, words: str
) -> None:
    edit(playbook_copy, old, new)
    with pytest.raises(DataFileError) as caught:
        load_playbook(world, playbook_copy)
    message = str(caught.value)
    assert message.startswith(f"{playbook_copy}:{line_of(playbook_copy, anchor)}: "), message
    assert words in message


def test_steps_may_depend_on_consent_and_on_the_targets_found(world: World) -> None:
    custom = Playbook.model_validate(
        {
            "name": "t",
            "source": "t",
            "as_of": "2026-11-01",
            "steps": [
                {
                    "id": "quote",
                    "title": "Quote the defender",
                    "owner": "comms",
                    "due": "1h",
                    "when": {"consent": ["media"]},
                },
                {
                    "id": "bank",
                    "title": "Brief the bank desk",
                    "owner": "legal",
                    "due": "1d",
                    "when": {"target_categories": ["accountability_mechanism"]},
                },
            ],
        }
    )
    assert [s["title"] for s in steps(world, custom)] == []
    with_both = steps(world, custom, consent={"media": True}, business={"financiers": ["IFC"]})
    assert [s["title"] for s in with_both] == ["Quote the defender", "Brief the bank desk"]


@pytest.mark.parametrize("text", ["99999999999w", "3000000d", "367d"])
def test_absurd_durations_are_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
