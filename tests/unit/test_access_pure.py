"""Roles, disclosure levels and redaction, without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.connectors.matrix.people import MATRIX_PEOPLE
from bot.connectors.slack.people import SLACK_PEOPLE
from bot.domain.access import EVERYONE, Role, person
from bot.domain.case import CaseView, Disclosure, StepView, TargetView, disclose
from bot.domain.commands.forms import CommandError
from bot.domain.commands.request import People
from bot.domain.commands.table import parse_command, required_role
from bot.domain.places import Place

AT = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
# How each connector reads the people a command names.
PEOPLE: dict[str, People] = {"slack": SLACK_PEOPLE, "matrix": MATRIX_PEOPLE}
CASE = CaseView(
    code="UA-2026-0007",
    status="open",
    country="GT",
    country_name="Guatemala",
    severity="critical",
    profiles=("land",),
    threats=("death_threat",),
    summary="threatened after the hearing",
    opened_at=AT,
    targets=(TargetView("embassy", "Embassy of Norway", "why", None, "replied", "will call"),),
    steps=(StepView(1, "Call", "lead", None, "done", AT, None, "family reached"),),
    defender_name="Dana Fictional",
    defender_organisation="Tierra Ejemplo",
)


def test_minimal_keeps_codes_categories_targets_and_steps_only() -> None:
    shown = disclose(CASE, Disclosure.MINIMAL)
    assert shown.defender_name is None and shown.defender_organisation is None
    assert shown.summary == "" and shown.steps[0].note is None and shown.targets[0].reply is None
    assert (shown.code, shown.country, shown.threats, shown.profiles) == (
        CASE.code,
        "GT",
        ("death_threat",),
        ("land",),
    )
    assert shown.targets[0].name == "Embassy of Norway" and shown.steps[0].title == "Call"


def test_standard_adds_the_summary_and_notes_and_full_the_name() -> None:
    standard = disclose(CASE, Disclosure.STANDARD)
    assert standard.summary == CASE.summary and standard.steps[0].note == "family reached"
    assert standard.defender_name is None
    assert disclose(CASE, Disclosure.FULL) == CASE


@pytest.mark.parametrize(
    ("place", "chosen", "level"),
    [
        (Place("slack", "C1"), None, Disclosure.MINIMAL),
        (Place("slack", "C1"), Disclosure.FULL, Disclosure.STANDARD),
        (Place("matrix", "!r:x", encrypted=False), None, Disclosure.MINIMAL),
        (Place("matrix", "!r:x", encrypted=False), Disclosure.FULL, Disclosure.STANDARD),
        (Place("matrix", "!r:x", encrypted=True), None, Disclosure.STANDARD),
        (Place("matrix", "!r:x", encrypted=True), Disclosure.FULL, Disclosure.FULL),
        (Place("console", "stdin"), None, Disclosure.STANDARD),
        (Place("console", "stdin"), Disclosure.FULL, Disclosure.FULL),
        (Place("slack", "C1"), Disclosure.STANDARD, Disclosure.STANDARD),
    ],
)
def test_the_level_in_force_never_puts_names_where_they_may_not_go(
    place: Place, chosen: Disclosure | None, level: Disclosure
) -> None:
    assert place.disclosure(chosen) is level


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("list", Role.OBSERVER),
        ("show UA-2026-0001", Role.OBSERVER),
        ("log UA-2026-0001", Role.OBSERVER),
        ("disclosure", Role.OBSERVER),
        ("role", Role.OBSERVER),
        ("new country=HN threats=raid summary=x", Role.RESPONDER),
        ("done UA-2026-0001 1", Role.RESPONDER),
        ("digest", Role.RESPONDER),
        ("consent UA-2026-0001 media=yes", Role.LEAD),
        ("close UA-2026-0001 released", Role.LEAD),
        ("digest at 09:00", Role.LEAD),
        ("leads here", Role.LEAD),
        ("bind", Role.ADMIN),
        ("unbind", Role.ADMIN),
        ("disclosure full", Role.ADMIN),
        ("role @a:example.org lead", Role.ADMIN),
        ("purge UA-2026-0001", Role.ADMIN),
    ],
)
def test_each_command_needs_its_role(text: str, role: Role) -> None:
    assert required_role(parse_command(text)) is role


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.LEAD) and Role.LEAD.allows(Role.RESPONDER)
    assert not Role.OBSERVER.allows(Role.RESPONDER) and not Role.LEAD.allows(Role.ADMIN)


@pytest.mark.parametrize(
    ("platform", "text", "principal"),
    [
        ("slack", "<@U0123ABC|alice>", "slack:U0123ABC"),
        ("slack", "<@U0123ABC>", "slack:U0123ABC"),
        ("slack", "U0123ABC", "slack:U0123ABC"),
        ("matrix", "@alice:example.org", "matrix:@alice:example.org"),
        ("matrix", "everyone", EVERYONE),
    ],
)
def test_people_are_named_as_each_platform_sends_them(
    platform: str, text: str, principal: str
) -> None:
    assert person(text, PEOPLE[platform]) == principal


@given(platform=st.sampled_from(["slack", "matrix"]), text=st.text(max_size=60))
def test_anything_else_is_refused_with_how_to_name_someone(platform: str, text: str) -> None:
    try:
        assert person(text, PEOPLE[platform])
    except CommandError as error:
        assert "Slack member" in str(error) or "Matrix user id" in str(error)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("disclosure secret", "minimal, standard, full"),
        ("role @a:example.org boss", "observer, responder, lead, admin"),
        ("purge UA-2026-0001 now", "ua purge UA-2026-0042 [confirm]"),
        ("unbind here", "ua unbind"),
    ],
)
def test_bad_admin_commands_say_how_to_write_them(text: str, hint: str) -> None:
    with pytest.raises(CommandError, match=hint.replace("[", r"\[").replace("]", r"\]")):
        parse_command(text)


@pytest.mark.parametrize(
    ("words", "role"),
    [
        ("devices", Role.OBSERVER),
        ("devices trust @a:example.org DEVICE KEY", Role.ADMIN),
        ("devices block @a:example.org DEVICE", Role.ADMIN),
        ("new", Role.RESPONDER),
    ],
)
def test_matrix_commands_answered_by_the_connector_need_their_role(words: str, role: Role) -> None:
    from bot.connectors.matrix.connector import _needed

    assert _needed(words) is role
