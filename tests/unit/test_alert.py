"""Alerts are validated into one shape, and bad input names the field and what is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.alert import MAX_TEXT, AlertError, parse_alert
from bot.domain.vocabulary import Severity, Threat
from bot.domain.world import World

FULL_ALERT: dict[str, Any] = {
    "country": "HN",
    "profiles": ["journalist"],
    "threats": ["arbitrary_detention"],
    "summary": "Held at a police station since dawn.",
    "occurred_on": "2026-11-26",
    "severity": "critical",
    "defender": {"name": "Ana Example", "organisation": "Radio Ejemplo", "gender": "woman"},
    "perpetrators": ["state"],
    "business": {"company": "Example Mining S.A.", "home_country": "CA", "financiers": ["IFC"]},
    "consent": {"government": True, "un_public": False, "media": False},
    "source": {"reported_by": "partner desk", "external_id": "form-123"},
}


def test_the_intake_json_of_the_spec_is_accepted_whole(world: World) -> None:
    alert = parse_alert(FULL_ALERT, world.countries)
    assert alert.country == "HN"
    assert alert.threats == (Threat.ARBITRARY_DETENTION,)
    assert alert.defender.name == "Ana Example"
    assert alert.business is not None and alert.business.home_country == "CA"
    assert alert.consent.government and not alert.consent.media
    assert alert.effective_severity is Severity.CRITICAL


def test_country_names_are_stored_as_alpha2(world: World) -> None:
    alert = parse_alert({**FULL_ALERT, "country": "Ivory Coast"}, world.countries)
    assert alert.country == "CI"


def test_consent_unknown_means_no(world: World) -> None:
    data = {k: v for k, v in FULL_ALERT.items() if k != "consent"}
    alert = parse_alert(data, world.countries)
    assert not (alert.consent.government or alert.consent.un_public or alert.consent.media)


@pytest.mark.parametrize(
    ("threats", "severity"),
    [
        (["death_threat"], Severity.CRITICAL),
        (["smear_campaign", "torture"], Severity.CRITICAL),
        (["arbitrary_detention"], Severity.HIGH),
        (["travel_ban"], Severity.HIGH),
        (["surveillance"], Severity.MEDIUM),
        (["online_harassment"], Severity.MEDIUM),
    ],
)
def test_severity_is_derived_from_the_threats_when_not_given(
    world: World, threats: list[str], severity: Severity
) -> None:
    data = {"country": "HN", "threats": threats, "summary": "x"}
    assert parse_alert(data, world.countries).effective_severity is severity


def test_threat_spelled_with_spaces_or_capitals_is_understood(world: World) -> None:
    data = {"country": "HN", "threats": ["Arbitrary Detention"], "summary": "x"}
    assert parse_alert(data, world.countries).threats == (Threat.ARBITRARY_DETENTION,)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"country": "Atlantis"}, "country", ["not a country", "ISO code"]),
        ({"threats": ["tortur"]}, "threats[0]", ["did you mean 'torture'", "accepted: killing"]),
        ({"threats": []}, "threats", ["at least one threat"]),
        ({"profiles": ["blogger"]}, "profiles[0]", ["accepted: journalist"]),
        ({"severity": "urgent"}, "severity", ["accepted: critical, high, medium"]),
        ({"summary": "x" * (MAX_TEXT + 1)}, "summary", ["at most 20,000 characters"]),
        ({"contry": "HN"}, "contry", ["not an alert field", "accepted: country"]),
        ({"occurred_on": "yesterday"}, "occurred_on", ["date"]),
        ({"business": {"home_country": "Mars"}}, "business.home_country", ["not a country"]),
        ({"consent": {"press": True}}, "consent.press", ["accepted: government, un_public, media"]),
    ],
)
def test_bad_input_names_the_field_and_what_is_accepted(
    world: World, change: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(AlertError) as caught:
        parse_alert({**FULL_ALERT, **change}, world.countries)
    assert caught.value.field == field
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("missing", ["country", "threats", "summary"])
def test_required_fields_are_named_when_missing(world: World, missing: str) -> None:
    data = {k: v for k, v in FULL_ALERT.items() if k != missing}
    with pytest.raises(AlertError, match=f"^{missing}: is required$"):
        parse_alert(data, world.countries)


def test_an_alert_must_be_an_object(world: World) -> None:
    with pytest.raises(AlertError, match="JSON object"):
        parse_alert(["HN"], world.countries)
