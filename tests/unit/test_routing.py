"""UN mandates are chosen by threat and profile, each with a reason to paste."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.alert import parse_alert
from bot.domain.routing import route
from bot.domain.world import World

SR_DEFENDERS = "Special Rapporteur on the situation of human rights defenders"
WGAD = "Working Group on Arbitrary Detention"
WGEID = "Working Group on Enforced or Involuntary Disappearances"
SR_EXPRESSION = "Special Rapporteur on the promotion and protection of the right to freedom of opinion and expression"
SR_EXECUTIONS = "Special Rapporteur on extrajudicial, summary or arbitrary executions"
WG_BUSINESS = "Working Group on the issue of human rights and transnational corporations and other business enterprises"


def names(world: World, **alert: Any) -> list[str]:
    data = {"country": "HN", "summary": "fictional test case", **alert}
    return [t.name for t in route(parse_alert(data, world.countries), world)]


def test_detained_journalist_in_honduras_goes_to_wgad_and_expression(world: World) -> None:
    got = names(world, threats=["arbitrary_detention"], profiles=["journalist"])
    assert got == [SR_DEFENDERS, SR_EXPRESSION, WGAD]


def test_every_alert_goes_to_the_sr_on_defenders_with_the_country_in_the_reason(
    world: World,
) -> None:
    alert = parse_alert(
        {"country": "KE", "threats": ["surveillance"], "summary": "x"}, world.countries
    )
    first = route(alert, world)[0]
    assert first.name == SR_DEFENDERS
    assert "Kenya" in first.reason
    assert first.contact is not None and "hrc-sr-defenders@un.org" in first.contact


def test_abduction_goes_to_wgeid_only_when_state_agents_are_behind_it(world: World) -> None:
    assert WGEID in names(world, threats=["abduction"], perpetrators=["state"])
    assert WGEID not in names(world, threats=["abduction"], perpetrators=["non_state"])
    assert WGEID not in names(world, threats=["abduction"])


def test_company_involvement_brings_in_the_business_working_group(world: World) -> None:
    assert WG_BUSINESS in names(
        world, threats=["death_threat"], business={"company": "Example Mining"}
    )
    assert WG_BUSINESS not in names(
        world, threats=["death_threat"], business={"financiers": ["IFC"]}
    )


def test_a_reason_says_what_matched(world: World) -> None:
    alert = parse_alert(
        {"country": "CO", "threats": ["death_threat"], "profiles": ["land"], "summary": "x"},
        world.countries,
    )
    reasons = {t.name: t.reason for t in route(alert, world)}
    assert "death threat" in reasons[SR_EXECUTIONS]


@pytest.mark.parametrize(
    ("alert", "present", "absent"),
    [
        ({"threats": ["torture"]}, "Special Rapporteur on torture", WGAD),
        ({"threats": ["counter_terrorism_charges"]}, "while countering terrorism", WGAD),
        ({"threats": ["reprisal_for_cooperation"]}, "senior official on reprisals", WGAD),
        ({"threats": ["killing"], "profiles": ["journalist"]}, "UNESCO Director-General", WGAD),
        ({"threats": ["killing"], "profiles": ["lawyer"]}, "independence of judges", "UNESCO"),
        ({"threats": ["protest_crackdown"]}, "peaceful assembly", SR_EXPRESSION),
        ({"threats": ["sexual_violence"], "profiles": ["woman"]}, "violence against women", WGAD),
        (
            {"threats": ["surveillance"], "profiles": ["woman"]},
            "right to privacy",
            "violence against women",
        ),
        (
            {"threats": ["raid"], "profiles": ["lgbti"]},
            "sexual orientation and gender identity",
            WGAD,
        ),
        ({"threats": ["raid"], "profiles": ["indigenous"]}, "Indigenous Peoples", WGAD),
    ],
)
def test_thematic_mandates_follow_the_reference_table(
    world: World, alert: dict[str, Any], present: str, absent: str
) -> None:
    got = " | ".join(names(world, **alert))
    assert present in got
    assert absent not in got


def test_routing_is_deterministic(world: World) -> None:
    alert = {"threats": ["torture", "arbitrary_detention"], "profiles": ["lawyer", "woman"]}
    assert names(world, **alert) == names(world, **alert)
