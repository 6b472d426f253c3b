"""Properties of routing over random valid alerts: never raises, always the SR on defenders,
never a body the country is not under, deterministic."""

from __future__ import annotations

from typing import Any

import pycountry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.alert import parse_alert
from bot.domain.routing import route
from bot.domain.text import clean
from bot.domain.vocabulary import Perpetrator, Profile, Threat
from bot.domain.world import TargetCategory, World
from config.world import load_world

WORLD = load_world()
ISO_CODES = sorted(c.alpha_2 for c in pycountry.countries)
FINANCIERS = [alias for m in WORLD.mechanisms.mechanisms for alias in m.aliases]

# The facts of REFERENCE.md section 3, restated here so the test does not trust the router's data
# wiring: which membership each regional target requires.
REGIONAL_REQUIRES = {
    "iachr": "oas",
    "achpr_sr_defenders": "african_charter",
    "coe_commissioner": "council_of_europe",
    "osce_odihr": "osce",
    "escazu_article_9": "escazu",
}
ENVIRONMENTAL = {Profile.ENVIRONMENTAL, Profile.LAND, Profile.INDIGENOUS}


def alerts() -> st.SearchStrategy[dict[str, Any]]:
    business = st.fixed_dictionaries(
        {},
        optional={
            # Valid names: what is left once control characters are dropped is not blank.
            "company": st.text(min_size=1, max_size=30).filter(lambda t: clean(t).strip()),
            "home_country": st.sampled_from(ISO_CODES),
            "financiers": st.lists(st.sampled_from([*FINANCIERS, "Banco Ejemplo"]), max_size=3),
        },
    )
    return st.fixed_dictionaries(
        {
            "country": st.sampled_from(ISO_CODES),
            "threats": st.lists(st.sampled_from(list(Threat)), min_size=1, max_size=4),
            "summary": st.just("fictional"),
        },
        optional={
            "profiles": st.lists(st.sampled_from(list(Profile)), max_size=3),
            "perpetrators": st.lists(st.sampled_from(list(Perpetrator)), max_size=2),
            "severity": st.sampled_from(["critical", "high", "medium"]),
            "business": business,
        },
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=alerts())
def test_routing_properties_hold_for_any_valid_alert(data: dict[str, Any]) -> None:
    world: World = WORLD
    alert = parse_alert(data, world.countries)
    targets = route(alert, world)
    country = alert.country

    assert targets[0].name == "Special Rapporteur on the situation of human rights defenders"
    assert targets == route(alert, world)
    for target in targets:
        assert target.reason and target.contact
        assert "ASEAN" not in target.name and "Arab Human Rights" not in target.name
        if target.category is TargetCategory.REGIONAL_BODY:
            assert country in world.groups[REGIONAL_REQUIRES[target.institution]], target.name
            if target.institution == "escazu_article_9":
                assert ENVIRONMENTAL & set(alert.profiles)
        if target.category is TargetCategory.EMBASSY:
            government = world.government(target.institution.split(":")[1])
            assert government.home != country, target.name
            if government.id == "EU":
                assert country not in world.groups["eu"], target.name
        if target.category is TargetCategory.OECD_NCP:
            assert target.institution.split(":")[1] in world.groups["oecd_guidelines"]
