"""The Matrix connector's pure parts: HTML rendering, the allow-list and trust rules, guided alerts."""

from __future__ import annotations

import pytest

from bot.connectors.matrix import render
from bot.connectors.matrix.policy import DeviceFacts, DeviceTrust, device_trust, is_allowed
from bot.domain import guided
from bot.domain.countries import CountryIndex
from bot.domain.messages import Bullets, Fields, Heading, Message, Paragraph, error_message
from bot.domain.reminders import parse_step_key, step_key
from bot.domain.world import World


def test_user_text_is_escaped_and_never_pings_anyone() -> None:
    message = Message(
        fallback="x",
        blocks=(
            Heading("UA-2026-0001 <b>"),
            Fields((("Summary", "@room <script>alert(1)</script>"),)),
            Bullets(("a & b",)),
        ),
    )
    content = render.content(message)
    html = content["formatted_body"]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a &amp; b" in html
    assert content["m.mentions"] == {}
    assert content["msgtype"] == "m.notice"
    assert "@room <script>" in content["body"]


def test_only_the_addressed_matrix_user_is_mentioned() -> None:
    message = Message(
        fallback="Reminder", blocks=(Paragraph("Reminder"),), mentions=("@ana:example.org",)
    )
    content = render.content(message)
    assert content["m.mentions"] == {"user_ids": ["@ana:example.org"]}
    assert 'href="https://matrix.to/#/@ana:example.org"' in content["formatted_body"]
    not_matrix = Message(fallback="r", blocks=(Paragraph("r"),), mentions=("lead", "slack:U1"))
    assert render.content(not_matrix)["m.mentions"] == {}


def test_an_edit_replaces_the_card_and_a_thread_reply_falls_back() -> None:
    new = render.content(Message(fallback="card", blocks=(Paragraph("card"),)))
    edit = render.edit("$card", new, summary="Step 1 <done>")
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$card"}
    assert edit["m.new_content"] == new and edit["body"] == "* Step 1 <done>"
    assert edit["formatted_body"] == "* Step 1 &lt;done&gt;"
    threaded = render.in_thread("$card", new)
    assert threaded["m.relates_to"]["rel_type"] == "m.thread"
    assert threaded["m.relates_to"]["m.in_reply_to"] == {"event_id": "$card"}


def test_errors_are_marked_and_overlong_bodies_cut_without_breaking_html() -> None:
    assert render.content(error_message("Bad input"))["body"].startswith("⚠️ Bad input")
    long = Message(fallback="x", blocks=(Bullets(tuple("<i>x</i>" * 50 for _ in range(200))),))
    content = render.content(long)
    assert content["body"].endswith(render.CUT_NOTE)
    assert content["formatted_body"].startswith("<p>") and "<i>" not in content["formatted_body"]


@pytest.mark.parametrize(
    ("user", "allowed", "expected"),
    [
        ("@lead:example.org", ["@lead:example.org"], True),
        ("@other:example.org", ["@lead:example.org"], False),
        ("@anyone:example.org", [":example.org"], True),
        ("@anyone:evilexample.org", [":example.org"], False),
        ("@anyone:example.org.evil", [":example.org"], False),
        ("@lead:example.org", [], False),
    ],
)
def test_the_allow_list_matches_whole_ids_and_whole_servers(
    user: str, allowed: list[str], expected: bool
) -> None:
    assert is_allowed(user, allowed) is expected


@pytest.mark.parametrize(
    ("facts", "require", "expected"),
    [
        (DeviceFacts(user_allowed=True, verified=False, blocked=False), False, DeviceTrust.TRUSTED),
        (DeviceFacts(user_allowed=True, verified=False, blocked=False), True, DeviceTrust.AWAITING),
        (DeviceFacts(user_allowed=True, verified=True, blocked=False), True, DeviceTrust.TRUSTED),
        (DeviceFacts(user_allowed=True, verified=True, blocked=True), False, DeviceTrust.BLOCKED),
        (DeviceFacts(user_allowed=False, verified=True, blocked=False), False, DeviceTrust.BLOCKED),
    ],
)
def test_device_trust(facts: DeviceFacts, require: bool, expected: DeviceTrust) -> None:
    assert device_trust(facts, require_verification=require).trust is expected


def test_step_keys_round_trip() -> None:
    assert parse_step_key(step_key("UA-2026-0042", 3)) == ("UA-2026-0042", 3)
    assert parse_step_key("checklist:UA-2026-0042") is None


@pytest.fixture
def countries(world: World) -> CountryIndex:
    return world.countries


def test_a_guided_alert_checks_each_answer_and_opens_with_extras(countries: CountryIndex) -> None:
    step = guided.start(names_allowed=True)
    assert step.state is not None and "1/5" in step.say
    state = step.state
    for text, expect in [
        ("Atlantis", "Not accepted"),
        ("Honduras", "2/5"),
        ("shouting", "Not accepted"),
        ("arbitrary_detention, death_threat", "3/5"),
        ("journalist", "4/5"),
        ("Fictional journalist held overnight", "5/5"),
        ("nonsense=1", "Not accepted"),
        ("country=GT", "asked already"),
        ("defender='Ana Fictional' severity=critical", None),
    ]:
        step = guided.answer(state, text, countries)
        if expect is None:
            break
        assert expect in step.say, (text, step.say)
        assert step.state is not None
        state = step.state
    assert step.state is None and step.alert is not None
    assert step.alert["country"] == "Honduras"
    assert step.alert["threats"] == ["arbitrary_detention", "death_threat"]
    assert step.alert["defender"] == {"name": "Ana Fictional"}
    assert step.alert["severity"] == "critical"


def test_a_guided_alert_can_be_cancelled_or_finished_early(countries: CountryIndex) -> None:
    first = guided.start(names_allowed=False).state
    assert first is not None
    cancelled = guided.answer(first, "cancel", countries)
    assert cancelled.cancelled and cancelled.state is None and cancelled.alert is None
    state = first
    for text in ("HN", "arbitrary_detention", "journalist", "Fictional"):
        following = guided.answer(state, text, countries).state
        assert following is not None
        state = following
    assert "defender=" not in state.prompt
    refused = guided.answer(state, "defender='Ana Fictional'", countries)
    assert refused.state == state and "not end-to-end encrypted" in refused.say
    done = guided.answer(state, "done", countries)
    assert done.alert == {
        "country": "HN",
        "threats": ["arbitrary_detention"],
        "profiles": ["journalist"],
        "summary": "Fictional",
    }


def test_a_reply_is_read_without_the_quoted_lines_older_clients_add() -> None:
    from bot.connectors.matrix.connector import _without_reply_fallback

    body = "> <@tocsin:example.org> Reminder for lead: step 2\n> second line\n\n!ua done UA-2026-0001 2"
    assert _without_reply_fallback(body) == "!ua done UA-2026-0001 2"
    assert _without_reply_fallback("!ua list") == "!ua list"
