"""Routing: from an alert to every institution to engage, each present or absent for a reason.

Each row is a fictional alert; `present` and `absent` are parts of target names.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.alert import parse_alert
from bot.domain.routing import Target, route
from bot.domain.world import TargetCategory, World

SRD = "Special Rapporteur on the situation of human rights defenders"
EXPRESSION = "freedom of opinion and expression"
ASSEMBLY = "peaceful assembly and of association"
JUDGES = "independence of judges and lawyers"
WGAD = "Working Group on Arbitrary Detention"
WGEID = "Enforced or Involuntary Disappearances"
TORTURE = "Special Rapporteur on torture"
EXECUTIONS = "extrajudicial, summary or arbitrary executions"
INDIGENOUS = "rights of Indigenous Peoples"
ENVIRONMENT = "clean, healthy and sustainable environment"
VAW = "violence against women and girls"
SOGI = "sexual orientation and gender identity"
BUSINESS = "transnational corporations"
PRIVACY = "right to privacy"
COUNTER_TERRORISM = "while countering terrorism"
REPRISALS = "senior official on reprisals"
UNESCO = "UNESCO"
IACHR = "Inter-American Commission"
ACHPR = "African Commission"
COE = "Council of Europe Commissioner"
ODIHR = "ODIHR"
ESCAZU = "Escazú"
EU_DELEGATION = "Delegation of the European Union"
US_EMBASSY = "Embassy of the United States"
CA_EMBASSY = "Embassy of Canada"
NO_EMBASSY = "Embassy of Norway"
CH_EMBASSY = "Embassy of Switzerland"
UK_EMBASSY = "British Embassy"
NL_EMBASSY = "Embassy of the Netherlands"
FI_EMBASSY = "Embassy of Finland"
CAO = "Compliance Advisor Ombudsman"
WORLD_BANK = "World Bank Accountability Mechanism"
MICI = "(MICI)"
NCP = "National Contact Point"
FLD = "Front Line Defenders"
UAF = "Urgent Action Fund"
CPJ = "Committee to Protect Journalists"
RSF = "Reporters Without Borders"
NEVER = ["ASEAN", "Arab Human Rights Committee"]
REGIONAL = [IACHR, ACHPR, COE, ODIHR, ESCAZU]

CASES: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    (
        "detained journalist in Honduras",
        {"country": "HN", "threats": ["arbitrary_detention"], "profiles": ["journalist"]},
        [SRD, EXPRESSION, WGAD, IACHR, EU_DELEGATION, CA_EMBASSY, US_EMBASSY, CPJ, RSF, FLD],
        [ACHPR, COE, ODIHR, ESCAZU, UNESCO, EXECUTIONS, NCP],
    ),
    (
        "land defender threatened in Venezuela, which withdrew from the OAS",
        {"country": "VE", "threats": ["death_threat"], "profiles": ["land"]},
        [IACHR, EXECUTIONS, ENVIRONMENT],
        [ESCAZU, COE, ODIHR],
    ),
    (
        "environmental defender killed in Nicaragua, an Escazú party that left the OAS",
        {"country": "NI", "threats": ["killing"], "profiles": ["environmental"]},
        [IACHR, ESCAZU, EXECUTIONS, ENVIRONMENT],
        [UNESCO],
    ),
    (
        "journalist detained in Morocco, the one AU member outside the African Charter",
        {"country": "MA", "threats": ["arbitrary_detention"], "profiles": ["journalist"]},
        [WGAD, EU_DELEGATION, CPJ],
        [ACHPR, IACHR, COE],
    ),
    (
        "defender attacked in Algeria",
        {"country": "DZ", "threats": ["physical_attack"]},
        [ACHPR, EU_DELEGATION],
        [IACHR, COE, ODIHR],
    ),
    (
        "lawyer harassed in Russia, no longer in the Council of Europe",
        {"country": "RU", "threats": ["judicial_harassment"], "profiles": ["lawyer"]},
        [ODIHR, JUDGES, EU_DELEGATION, US_EMBASSY],
        [COE, ACHPR, WGAD],
    ),
    (
        "journalist detained in Türkiye",
        {"country": "Turkey", "threats": ["arbitrary_detention"], "profiles": ["journalist"]},
        [COE, ODIHR, EU_DELEGATION, WGAD, EXPRESSION],
        [IACHR],
    ),
    (
        "LGBTI defender smeared in Hungary, an EU member: no EU delegation",
        {"country": "HU", "threats": ["smear_campaign"], "profiles": ["lgbti"]},
        [
            COE,
            ODIHR,
            SOGI,
            US_EMBASSY,
            CA_EMBASSY,
            NO_EMBASSY,
            CH_EMBASSY,
            UK_EMBASSY,
            UAF,
            NL_EMBASSY,
            FI_EMBASSY,
        ],
        [EU_DELEGATION],
    ),
    (
        "defender raided in the Netherlands",
        {"country": "Netherlands", "threats": ["raid"]},
        [COE, ODIHR, US_EMBASSY],
        [NL_EMBASSY, EU_DELEGATION],
    ),
    (
        "protester beaten in the United States",
        {"country": "USA", "threats": ["physical_attack", "protest_crackdown"]},
        [IACHR, ODIHR, ASSEMBLY, CA_EMBASSY, EU_DELEGATION],
        [US_EMBASSY, COE],
    ),
    (
        "indigenous defender threatened in Canada",
        {"country": "CA", "threats": ["death_threat"], "profiles": ["indigenous"]},
        [IACHR, ODIHR, INDIGENOUS, EXECUTIONS],
        [CA_EMBASSY, ESCAZU],
    ),
    (
        "student under surveillance in the United Kingdom",
        {"country": "United Kingdom", "threats": ["surveillance"], "profiles": ["student"]},
        [COE, ODIHR, PRIVACY, EU_DELEGATION],
        [UK_EMBASSY],
    ),
    (
        "defender harassed online in Norway",
        {"country": "Norway", "threats": ["online_harassment"]},
        [COE, EXPRESSION, EU_DELEGATION],
        [NO_EMBASSY],
    ),
    (
        "defender with a travel ban in Switzerland",
        {"country": "CH", "threats": ["travel_ban"]},
        [COE, ODIHR],
        [CH_EMBASSY],
    ),
    (
        "environmental defender killed in Brazil, an Escazú signatory but not a party",
        {"country": "Brasil", "threats": ["killing"], "profiles": ["environmental"]},
        [IACHR, EXECUTIONS, ENVIRONMENT],
        [ESCAZU],
    ),
    (
        "indigenous defender threatened in Costa Rica, an Escazú signatory",
        {"country": "CR", "threats": ["death_threat"], "profiles": ["indigenous"]},
        [IACHR, INDIGENOUS],
        [ESCAZU],
    ),
    (
        "indigenous defender threatened in Colombia, an Escazú party",
        {"country": "Colombia", "threats": ["death_threat"], "profiles": ["indigenous"]},
        [IACHR, ESCAZU, INDIGENOUS, EXECUTIONS],
        [ACHPR],
    ),
    (
        "journalist killed in Mexico",
        {"country": "México", "threats": ["killing"], "profiles": ["journalist"]},
        [UNESCO, EXECUTIONS, EXPRESSION, CPJ, RSF, IACHR],
        [ESCAZU, WGAD],
    ),
    (
        "activist under surveillance in the Philippines, an ASEAN member",
        {"country": "PH", "threats": ["surveillance"]},
        [PRIVACY, EU_DELEGATION, US_EMBASSY],
        [*REGIONAL, *NEVER],
    ),
    (
        "woman defender banned from travel in Saudi Arabia",
        {"country": "SA", "threats": ["travel_ban"], "profiles": ["woman"]},
        [UAF, EU_DELEGATION],
        [*REGIONAL, *NEVER, VAW],
    ),
    (
        "defender facing counter-terrorism charges in China",
        {"country": "CN", "threats": ["counter_terrorism_charges"]},
        [COUNTER_TERRORISM],
        [*REGIONAL, WGAD],
    ),
    (
        "environmental defender threatened over an IFC-financed Canadian mine in Kenya",
        {
            "country": "KE",
            "threats": ["death_threat"],
            "profiles": ["environmental"],
            "business": {
                "company": "Example Mining Ltd",
                "home_country": "CA",
                "financiers": ["IFC"],
            },
        },
        [ACHPR, CAO, BUSINESS, "National Contact Point of Canada"],
        ["National Contact Point of Kenya", WORLD_BANK, ESCAZU],
    ),
    (
        "land defender harassed over an IDB Invest project in Peru",
        {
            "country": "PE",
            "threats": ["judicial_harassment"],
            "profiles": ["land"],
            "business": {"company": "Ejemplo Energía", "financiers": ["IDB Invest"]},
        },
        [IACHR, MICI, "National Contact Point of Peru", BUSINESS],
        [ESCAZU, CAO],
    ),
    (
        "defender disappeared in Uzbekistan",
        {"country": "UZ", "threats": ["enforced_disappearance"]},
        [WGEID, ODIHR],
        [COE, ACHPR],
    ),
    (
        "protest crackdown in Belarus, an OSCE state outside the Council of Europe",
        {"country": "BY", "threats": ["protest_crackdown", "arbitrary_detention"]},
        [ODIHR, ASSEMBLY, WGAD],
        [COE],
    ),
    (
        "trade unionist attacked in Ukraine",
        {"country": "UA", "threats": ["physical_attack"], "profiles": ["trade_unionist"]},
        [COE, ODIHR, ASSEMBLY, EU_DELEGATION],
        [IACHR],
    ),
    (
        "reprisal for cooperating with the UN in Egypt",
        {"country": "EG", "threats": ["reprisal_for_cooperation", "travel_ban"]},
        [REPRISALS, ACHPR],
        [COE, ODIHR],
    ),
    (
        "journalist abducted by state agents in Bangladesh",
        {
            "country": "BD",
            "threats": ["abduction"],
            "profiles": ["journalist"],
            "perpetrators": ["state"],
        },
        [WGEID, EXPRESSION, CPJ],
        [*REGIONAL],
    ),
    (
        "journalist abducted by a criminal group in Honduras",
        {
            "country": "HN",
            "threats": ["abduction"],
            "profiles": ["journalist"],
            "perpetrators": ["non_state"],
        },
        [IACHR, EXPRESSION],
        [WGEID],
    ),
    (
        "lawyer tortured in India",
        {"country": "IN", "threats": ["torture"], "profiles": ["lawyer"]},
        [TORTURE, JUDGES],
        [*REGIONAL, *NEVER],
    ),
    (
        "woman defender sexually assaulted in Ivory Coast",
        {"country": "Ivory Coast", "threats": ["sexual_violence"], "profiles": ["woman"]},
        [ACHPR, VAW, UAF],
        [IACHR],
    ),
    (
        "same case spelled Cote d'Ivoire",
        {"country": "Cote d'Ivoire", "threats": ["sexual_violence"], "profiles": ["woman"]},
        [ACHPR, VAW, UAF],
        [IACHR],
    ),
    (
        "World Bank named twice over, and IBRD: one mechanism",
        {
            "country": "GT",
            "threats": ["death_threat"],
            "profiles": ["environmental"],
            "business": {"financiers": ["world bank", "IBRD", "International Finance Corporation"]},
        },
        [WORLD_BANK, CAO, IACHR],
        [ESCAZU, MICI],
    ),
    (
        "Chinese company in Honduras: neither state adheres to the OECD Guidelines",
        {
            "country": "HN",
            "threats": ["raid"],
            "business": {"company": "Example Hydro", "home_country": "CN"},
        },
        [BUSINESS],
        [NCP],
    ),
    (
        "environmental defender threatened in Argentina, an Escazú party",
        {"country": "AR", "threats": ["death_threat"], "profiles": ["environmental"]},
        [ESCAZU, IACHR],
        [ACHPR],
    ),
    (
        "Russia spelled as ISO writes it",
        {"country": "Russian Federation", "threats": ["raid"]},
        [ODIHR],
        [COE],
    ),
]


def targets_for(world: World, alert: dict[str, Any]) -> list[Target]:
    data = {"summary": "fictional test case", **alert}
    return route(parse_alert(data, world.countries), world)


@pytest.mark.parametrize(("case", "alert", "present", "absent"), CASES, ids=[c[0] for c in CASES])
def test_routing_table(
    world: World, case: str, alert: dict[str, Any], present: list[str], absent: list[str]
) -> None:
    names = [t.name for t in targets_for(world, alert)]
    joined = " | ".join(names)
    assert names[0] == SRD
    for part in present:
        assert part in joined, f"{case}: expected {part!r}"
    for part in absent:
        assert part not in joined, f"{case}: did not expect {part!r}"
    assert len(names) == len(set(names)), f"{case}: a target is listed twice"


def test_the_table_covers_at_least_thirty_alerts() -> None:
    assert len(CASES) >= 30


def test_every_target_has_a_reason_and_a_contact_or_how_to_add_one(world: World) -> None:
    for _, alert, _, _ in CASES:
        for target in targets_for(world, alert):
            assert target.reason.endswith((".", ")")), target
            assert target.contact, target


def test_iachr_reason_names_the_country_the_profile_and_the_risk(world: World) -> None:
    alert = {"country": "HN", "threats": ["arbitrary_detention"], "profiles": ["journalist"]}
    iachr = next(t for t in targets_for(world, alert) if IACHR in t.name)
    assert iachr.category is TargetCategory.REGIONAL_BODY
    assert iachr.reason.startswith(
        "Honduras is an OAS member; a journalist faces arbitrary detention, a serious and urgent risk"
    )
    assert "precautionary measures" in iachr.reason


def test_embassies_cite_the_governments_guidelines(world: World) -> None:
    alert = {"country": "GT", "threats": ["raid"]}
    canada = next(t for t in targets_for(world, alert) if CA_EMBASSY in t.name)
    assert canada.category is TargetCategory.EMBASSY
    assert '"Voices at Risk" (2019)' in canada.reason
    assert "tocsin contacts import" in (canada.contact or "")


def test_critical_case_in_a_most_dangerous_country_asks_for_the_ambassador(world: World) -> None:
    critical = {"country": "CO", "threats": ["death_threat"]}
    high = {"country": "CO", "threats": ["arbitrary_detention"]}
    elsewhere = {"country": "KE", "threats": ["death_threat"]}
    assert (
        "ambassador-level"
        in next(t for t in targets_for(world, critical) if t.category == "embassy").reason
    )
    assert (
        "ambassador-level"
        not in next(t for t in targets_for(world, high) if t.category == "embassy").reason
    )
    assert (
        "ambassador-level"
        not in next(t for t in targets_for(world, elsewhere) if t.category == "embassy").reason
    )


def test_eu_member_embassies_inside_the_eu_say_the_guidelines_cover_non_eu_posts(
    world: World,
) -> None:
    inside = {"country": "HU", "threats": ["raid"]}
    outside = {"country": "GT", "threats": ["raid"]}
    dutch_inside = next(t for t in targets_for(world, inside) if NL_EMBASSY in t.name)
    dutch_outside = next(t for t in targets_for(world, outside) if NL_EMBASSY in t.name)
    assert "formally cover missions in non-EU countries" in dutch_inside.reason
    assert "formally cover" not in dutch_outside.reason


def test_a_financed_project_counts_as_business_involvement(world: World) -> None:
    names = [
        t.name
        for t in targets_for(
            world,
            {"country": "PE", "threats": ["raid"], "business": {"financiers": ["Banco Mundial"]}},
        )
    ]
    assert any(BUSINESS in n for n in names)
    assert any(WORLD_BANK in n for n in names)
    assert any("National Contact Point of Peru" in n for n in names)


def test_critical_case_in_a_deteriorating_country_asks_for_the_ambassador(world: World) -> None:
    alert = {"country": "EG", "threats": ["torture"]}
    embassy = next(t for t in targets_for(world, alert) if t.category is TargetCategory.EMBASSY)
    assert "ambassador-level" in embassy.reason


def test_supportive_governments_come_from_the_setting(world: World) -> None:
    from dataclasses import replace

    only_two = replace(world, supportive=("CA", "CH"))
    alert = parse_alert({"country": "HN", "threats": ["raid"], "summary": "x"}, world.countries)
    embassies = [t.name for t in route(alert, only_two) if t.category is TargetCategory.EMBASSY]
    assert embassies == ["Embassy of Canada in Honduras", "Embassy of Switzerland in Honduras"]


def test_routing_is_deterministic(world: World) -> None:
    alert = {
        "country": "PE",
        "threats": ["torture", "arbitrary_detention"],
        "profiles": ["lawyer", "woman"],
    }
    assert targets_for(world, alert) == targets_for(world, alert)
