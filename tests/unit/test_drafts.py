"""Draft appeals: every letter in every language, consent and disclosure placeholders, and
templates that cannot start. All people and places here are fictional."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.dates import format_date

from bot.domain.case import CaseView, Disclosure, StepView, TargetView, disclose
from bot.domain.drafts import (
    LANGUAGES,
    DraftError,
    DraftScope,
    check_language,
    default_language,
    draft_variables,
    language_warning,
    pick_targets,
    step_targets,
)
from bot.domain.world import TargetCategory, World
from config.datafile import DataFileError
from config.letters import TEMPLATES, Letter, LetterTemplates, default_letters, load_letters

TODAY = date(2026, 11, 28)
OPENED = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)

TARGETS = {
    TargetCategory.UN_SPECIAL_PROCEDURE: (
        TargetView(
            "un_special_procedure",
            "Special Rapporteur on the situation of human rights defenders",
            "always",
            None,
            "pending",
            institution="sr_defenders",
        ),
        TargetView(
            "un_special_procedure",
            "Working Group on Arbitrary Detention",
            "detained",
            None,
            "pending",
            institution="wgad",
        ),
    ),
    TargetCategory.UN_REPRISALS: (
        TargetView(
            "un_reprisals",
            "Assistant Secretary-General for Human Rights, the UN senior official on reprisals",
            "reprisal",
            None,
            "pending",
            institution="un_reprisals",
        ),
    ),
    TargetCategory.REGIONAL_BODY: (
        TargetView(
            "regional_body",
            "Inter-American Commission on Human Rights (IACHR)",
            "OAS",
            None,
            "pending",
            institution="iachr",
        ),
    ),
    TargetCategory.EMBASSY: (
        TargetView(
            "embassy",
            "Embassy of Canada in Honduras",
            "guideline",
            None,
            "pending",
            institution="embassy:CA",
        ),
    ),
    TargetCategory.ACCOUNTABILITY_MECHANISM: (
        TargetView(
            "accountability_mechanism",
            "Compliance Advisor Ombudsman (CAO)",
            "IFC",
            None,
            "pending",
            institution="cao",
        ),
    ),
    TargetCategory.OECD_NCP: (
        TargetView(
            "oecd_ncp",
            "OECD National Contact Point of Canada",
            "home state",
            None,
            "pending",
            institution="oecd_ncp:CA",
        ),
    ),
    TargetCategory.EMERGENCY_SUPPORT: (
        TargetView(
            "emergency_support",
            "Front Line Defenders",
            "grants",
            None,
            "pending",
            institution="front_line_defenders",
        ),
    ),
    TargetCategory.JOURNALIST_SUPPORT: (
        TargetView(
            "journalist_support",
            "Committee to Protect Journalists (CPJ)",
            "journalist",
            None,
            "pending",
            institution="cpj",
        ),
    ),
}
SENSITIVE = {
    "defender_name": "Marisol Ejemplo",
    "defender_organisation": "Colectivo Río Claro (example)",
    "defender_gender": "woman (example)",
    "defender_work": "Defends the Río Claro community's land against a dam project",
    "summary": "Detained at dawn by police after a community assembly; no lawyer allowed.",
    "place": "Villa Ficticia, Colón",
    "domestic_actions": "Habeas corpus filed at the Villa Ficticia court",
    "earlier_incidents": "Threatening text messages in August",
}
CASE = CaseView(
    code="UA-2026-0042",
    status="open",
    country="HN",
    country_name="Honduras",
    severity="critical",
    profiles=("land", "woman"),
    threats=("arbitrary_detention", "death_threat"),
    opened_at=OPENED,
    targets=tuple(t for group in TARGETS.values() for t in group),
    steps=(
        StepView(1, "Reach the defender", "lead", None, "open", OPENED, None),
        StepView(
            2,
            "UN appeal",
            "legal",
            None,
            "open",
            OPENED,
            "government",
            key="un_urgent_appeal",
            target_name="; ".join(t.name for t in TARGETS[TargetCategory.UN_SPECIAL_PROCEDURE]),
        ),
        StepView(
            3,
            "Embassy",
            "responder",
            None,
            "open",
            OPENED,
            None,
            key="embassy_officer",
            target_name="Embassy of Canada in Honduras",
        ),
        StepView(4, "Ambassador", "lead", None, "open", OPENED, None, key="ambassador"),
    ),
    consents=(("government", True), ("un_public", False), ("media", False)),
    occurred_on=date(2026, 11, 2),
    perpetrators=("state",),
    company="Hidro Ejemplo S.A.",
    **SENSITIVE,
)
NO_CONSENT = replace(CASE, consents=(("government", False), ("un_public", False), ("media", False)))
# Letters whose subject says URGENT for a critical case (a request for precautionary measures
# and a specific instance have their own subject lines).
URGENT_SUBJECTS = set(TargetCategory) - {TargetCategory.REGIONAL_BODY, TargetCategory.OECD_NCP}
# Funds and press-freedom groups are not asked about domestic remedies.
SUPPORT = {TargetCategory.EMERGENCY_SUPPORT, TargetCategory.JOURNALIST_SUPPORT}
AMBASSADOR_WORD = {"en": "ambassador", "es": "embajador", "fr": "ambassadeur", "pt": "embaixador"}


@pytest.fixture(scope="module")
def letters() -> LetterTemplates:
    return default_letters()


def render(
    letters: LetterTemplates,
    world: World,
    category: TargetCategory,
    language: str,
    case: CaseView = CASE,
    level: Disclosure = Disclosure.FULL,
) -> Letter:
    targets = TARGETS[category]
    scope = DraftScope(
        case=disclose(case, level),
        targets=targets,
        language=language,
        level=level,
        today=TODAY,
        guideline=world.government("CA").guideline if category is TargetCategory.EMBASSY else "",
    )
    variables = draft_variables(scope, letters.terms[language], country_name="Honduras")
    return letters.render(category, language, variables)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("category", list(TargetCategory))
def test_every_letter_in_every_language_holds_the_facts(
    letters: LetterTemplates, world: World, category: TargetCategory, language: str
) -> None:
    letter = render(letters, world, category, language)
    terms = letters.terms[language]
    assert letter.subject and "\n" not in letter.subject
    assert "URGENT" in letter.subject.upper() or category not in URGENT_SUBJECTS
    assert "[" not in letter.subject, letter.subject
    for field, fact in SENSITIVE.items():
        if field == "domestic_actions" and category in SUPPORT:
            continue
        assert fact in letter.body, f"{fact!r} missing from {category} in {language}"
    assert format_date(date(2026, 11, 2), format="long", locale=language) in letter.body
    assert terms.threats["arbitrary_detention"] in letter.body
    assert terms.perpetrators["state"] in letter.body
    assert CASE.code in letter.body
    assert "{{" not in letter.body and "{%" not in letter.body
    for target in TARGETS[category]:
        assert target.name in letter.body


@pytest.mark.parametrize("language", ("en", "es", "fr"))
def test_un_letters_name_every_mandate_in_the_subject_and_give_both_consent_answers(
    letters: LetterTemplates, world: World, language: str
) -> None:
    letter = render(letters, world, TargetCategory.UN_SPECIAL_PROCEDURE, language)
    for target in TARGETS[TargetCategory.UN_SPECIAL_PROCEDURE]:
        assert target.name in letter.subject
    assert "spsubmission.ohchr.org" in letter.body
    withheld = render(letters, world, TargetCategory.UN_SPECIAL_PROCEDURE, language, NO_CONSENT)
    assert letter.body != withheld.body


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("category", sorted(set(TargetCategory) - SUPPORT))
def test_without_government_consent_a_state_facing_letter_holds_a_placeholder_for_the_identity(
    letters: LetterTemplates, world: World, category: TargetCategory, language: str
) -> None:
    letter = render(letters, world, category, language, NO_CONSENT)
    terms = letters.terms[language]
    assert terms.consent_not_given("name") in letter.body
    for field in ("defender_name", "defender_organisation", "defender_gender", "defender_work"):
        assert SENSITIVE[field] not in letter.body
    assert SENSITIVE["summary"] in letter.body


def test_the_english_consent_placeholder_reads_as_the_issue_asks(
    letters: LetterTemplates, world: World
) -> None:
    letter = render(letters, world, TargetCategory.EMBASSY, "en", NO_CONSENT)
    assert "Defender: [NAME — consent not given]" in letter.body


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("category", list(TargetCategory))
def test_a_minimal_draft_holds_nothing_sensitive(
    letters: LetterTemplates, world: World, category: TargetCategory, language: str
) -> None:
    letter = render(letters, world, category, language, level=Disclosure.MINIMAL)
    text = letter.subject + letter.body
    for fact in SENSITIVE.values():
        assert fact not in text, f"{fact!r} in a minimal {category} draft ({language})"
    assert letters.terms[language].not_shown("summary") in letter.body


def test_a_standard_place_gets_the_facts_but_not_the_identity(
    letters: LetterTemplates, world: World
) -> None:
    letter = render(letters, world, TargetCategory.EMBASSY, "en", level=Disclosure.STANDARD)
    assert SENSITIVE["summary"] in letter.body and SENSITIVE["place"] in letter.body
    assert SENSITIVE["defender_name"] not in letter.body
    assert letters.terms["en"].not_shown("name") in letter.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_embassy_letters_cite_the_government_guideline_and_ask_for_the_ambassador(
    letters: LetterTemplates, world: World, language: str
) -> None:
    letter = render(letters, world, TargetCategory.EMBASSY, language)
    assert world.government("CA").guideline in letter.body
    assert AMBASSADOR_WORD[language] in letter.body.lower()
    without = replace(CASE, steps=CASE.steps[:3])
    assert (
        AMBASSADOR_WORD[language]
        not in render(letters, world, TargetCategory.EMBASSY, language, without).body.lower()
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_iachr_letter_requests_precautionary_measures_under_article_25(
    letters: LetterTemplates, world: World, language: str
) -> None:
    letter = render(letters, world, TargetCategory.REGIONAL_BODY, language)
    assert "25" in letter.subject
    withheld = render(letters, world, TargetCategory.REGIONAL_BODY, language, NO_CONSENT)
    assert withheld.body != letter.body
    assert letters.terms[language].consent_not_given("name") in withheld.body


def test_facts_not_recorded_get_a_placeholder_not_a_blank(
    letters: LetterTemplates, world: World
) -> None:
    bare = replace(
        CASE, place=None, domestic_actions=None, earlier_incidents=None, occurred_on=None
    )
    body = render(letters, world, TargetCategory.UN_SPECIAL_PROCEDURE, "en", bare).body
    for field in ("PLACE", "ACTIONS TAKEN DOMESTICALLY", "EARLIER INCIDENTS", "DATE"):
        assert f"[{field} — not recorded]" in body


def test_html_part_escapes_what_people_typed(letters: LetterTemplates) -> None:
    letter = Letter(subject="S <b>", body="Line <script>alert(1)</script>\nsecond\n\nnext\n")
    html = letters.html(letter, "en")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<title>S &lt;b&gt;</title>" in html


def test_step_targets_and_target_choice() -> None:
    step, targets = step_targets(CASE, 2)
    assert step.n == 2 and [t.institution for t in targets] == ["sr_defenders", "wgad"]
    assert [t.institution for t in pick_targets(CASE, "wgad")] == ["sr_defenders", "wgad"]
    assert [t.institution for t in pick_targets(CASE, "T5")] == ["embassy:CA"]
    assert [t.institution for t in pick_targets(CASE, "front line")] == ["front_line_defenders"]
    with pytest.raises(DraftError, match=r"names no institution.*Steps with one: 2, 3"):
        step_targets(CASE, 1)
    with pytest.raises(DraftError, match="has no step 9"):
        step_targets(CASE, 9)
    with pytest.raises(DraftError, match="No target of UA-2026-0042 matches 'nobody'"):
        pick_targets(CASE, "nobody")
    with pytest.raises(DraftError, match="matches several targets"):
        pick_targets(CASE, "o")


def test_languages_default_by_target_and_are_checked() -> None:
    un = TargetCategory.UN_SPECIAL_PROCEDURE
    assert default_language(un, team="pt", un="en") == "en"
    assert default_language(TargetCategory.EMBASSY, team="pt", un="en") == "pt"
    assert check_language(" ES ") == "es"
    with pytest.raises(DraftError, match="en, es, fr, pt; 'de' is not one"):
        check_language("de")
    assert language_warning(un, "pt") is not None
    assert language_warning(un, "fr") is None
    assert language_warning(TargetCategory.EMBASSY, "pt") is None


def broken_copy(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES, root)
    return root


def test_a_template_with_an_unknown_variable_stops_the_start_naming_both(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    letter = root / "es" / "embassy.txt.j2"
    letter.write_text(
        letter.read_text(encoding="utf-8") + "\n{{ defendr_name }}\n", encoding="utf-8"
    )
    with pytest.raises(DataFileError, match=r"es/embassy\.txt\.j2:\d+: .*'defendr_name'"):
        load_letters(root)


def test_an_attribute_that_does_not_exist_stops_the_start(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    letter = root / "fr" / "un_special_procedure.txt.j2"
    text = letter.read_text(encoding="utf-8").replace("{{ country }}", "{{ country.nom }}", 1)
    letter.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"fr/un_special_procedure\.txt\.j2: .*nom"):
        load_letters(root)


def test_a_missing_letter_block_or_word_stops_the_start(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    (root / "pt" / "oecd_ncp.txt.j2").unlink()
    with pytest.raises(DataFileError, match=r"pt/oecd_ncp\.txt\.j2: missing"):
        load_letters(root)
    root = broken_copy(tmp_path / "2")
    terms = root / "fr" / "terms.yaml"
    terms.write_text(
        terms.read_text(encoding="utf-8").replace("  torture:", "  tortures:"), encoding="utf-8"
    )
    with pytest.raises(DataFileError, match=r"fr/terms\.yaml:\d+: .*torture"):
        load_letters(root)
    root = broken_copy(tmp_path / "3")
    letter = root / "en" / "embassy.txt.j2"
    letter.write_text(letter.read_text(encoding="utf-8").replace("block subject", "block subjet"))
    with pytest.raises(DataFileError, match=r"en/embassy\.txt\.j2: has no \{% block subject"):
        load_letters(root)
