"""Whole cases walked through the command grammar, on SQLite and PostgreSQL, with their audit log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.connectors.console.render import render_text
from bot.domain.places import Place
from bot.store.models import AuditEvent, Case, ChecklistStep, Destination
from handlers.commands import handle_line
from handlers.context import Services
from tests.conftest import FrozenClock

ROOM = Place(platform="console", address="test-room")
NEW = 'ua new country=HN threats=arbitrary_detention profiles=journalist summary="held at a police station"'
CODE = "UA-2026-0001"

Say = Callable[..., str]


@pytest.fixture
def say(services: Services) -> Say:
    def send(line: str, actor: str = "console:ana") -> str:
        reply = handle_line(line, actor=actor, place=ROOM, services=services)
        assert reply is not None
        return render_text(reply)

    return send


def step_line(text: str, n: int) -> str:
    return next(line for line in text.splitlines() if f" {n}. " in line)


def snapshot(services: Services) -> tuple[object, ...]:
    """Everything a refused command must leave as it was."""
    with services.transaction() as session:
        case = session.scalars(select(Case)).one()
        steps = session.execute(
            select(
                ChecklistStep.n,
                ChecklistStep.status,
                ChecklistStep.assignee,
                ChecklistStep.due_at,
                ChecklistStep.note,
            ).order_by(ChecklistStep.n)
        ).all()
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        consents = (case.consent_government, case.consent_un_public, case.consent_media)
        return case.status, case.outcome, consents, tuple(steps), events


def public_step(services: Services) -> int:
    with services.transaction() as session:
        return session.scalars(
            select(ChecklistStep.n).where(ChecklistStep.key == "public_statement")
        ).one()


def test_a_case_from_alert_to_close(say: Say, services: Services, clock: FrozenClock) -> None:
    assert f"Opened {CODE}" in say(NEW)
    assert "Step 1 is console:ana's." in say(f"ua claim {CODE} 1")
    clock.advance(minutes=10)
    out = say(f"ua done {CODE} 1 reached her lawyer; she agrees to government contacts")
    assert out.startswith("Step 1 done.")
    assert "[x] 1." in step_line(out, 1) and "she agrees" in step_line(out, 1)

    out = say(f"ua consent {CODE} government=yes")
    assert out.startswith("Consent recorded: government=yes. Steps 3, 4")
    assert "[ ] 3. Alert the human rights officer" in out

    assert "Step 2 is @bea's." in say(f"ua assign {CODE} 2 @bea", actor="console:lead")
    out = say(f"ua skip {CODE} 4 the delegation is already briefed")
    assert "[-] 4." in step_line(out, 4) and "already briefed" in step_line(out, 4)
    out = say(f"ua snooze {CODE} 3 1d")
    assert "due Sat 28 Nov 12:30 CST" in step_line(out, 3)

    assert "Reply from Special Rapporteur" in say(f"ua reply {CODE} T1 acknowledged, will act")
    assert say(f"ua note {CODE} family moved to a safe house").startswith("Note added.")
    shown = say(f"ua show {CODE}")
    assert "T1 Special Rapporteur on the situation of human rights defenders" in shown
    assert "Replied: acknowledged, will act" in shown

    out = say(f"ua close {CODE} released after 3 days")
    assert out.startswith(f"{CODE} closed: released.") and "closed (released)" in out
    assert "(closed)" in say("ua list all") and "No open cases." in say("ua list")

    log = say(f"ua log {CODE}")
    for entry in (
        "console:ana  case opened",
        "step claim: n: 1; assignee: console:ana",
        "step done: n: 1; open → done",
        "consent: government=yes; opened 3",
        "console:lead  step assign: n: 2; assignee: @bea",
        "step skip: n: 4; open → skipped",
        "step snooze: n: 3; due Sat 28 Nov 12:30 CST",
        "target replied",
        "case note: text: family moved",
        "case close: outcome: released; note: after 3 days",
        "(from console:test-room)",
    ):
        assert entry in log, entry
    assert log.index("case opened") < log.index("step claim") < log.index("case close")


def test_media_consent_opens_the_public_statement(say: Say, services: Services) -> None:
    say(NEW)
    n = public_step(services)
    assert "waiting for consent media" in step_line(say(f"ua show {CODE}"), n)
    assert "waits for the defender's consent (media)" in say(f"ua done {CODE} {n}")
    out = say(f"ua consent {CODE} media=yes")
    assert f"Step {n} opened." in out
    assert "[ ] " in step_line(out, n) and "waiting" not in step_line(out, n)
    assert f"Step {n} done." in say(f"ua done {CODE} {n} statement published")
    assert "blocked" not in say(f"ua consent {CODE} media=no").split("\n")[0]


def test_a_closing_note_may_be_quoted_and_follow_any_space(say: Say) -> None:
    say(NEW)
    assert say(f'ua close {CODE}\treleased   "on bail"').startswith(f"{CODE} closed: released.")
    assert "note: on bail" in say(f"ua log {CODE}")


def test_reopen_a_closed_case(say: Say) -> None:
    say(NEW)
    say(f"ua close {CODE} ongoing_risk")
    assert say(f"ua reopen {CODE}").startswith(f"{CODE} is open again.")
    assert "Step 1 done." in say(f"ua done {CODE} 1")


@pytest.mark.parametrize(
    ("setup", "line", "message"),
    [
        ([f"ua done {CODE} 1"], f"ua done {CODE} 1", "! Step 1 is already done"),
        ([], f"ua skip {CODE} 2", "! Usage: ua skip"),
        ([], f"ua done {CODE} 99", f"! {CODE} has no step 99; its steps are 1 to"),
        ([], "ua done UA-2026-0077 1", "! No case UA-2026-0077"),
        (
            [f"ua close {CODE} released"],
            f"ua claim {CODE} 1",
            f"! {CODE} is closed (released); reopen it first",
        ),
        ([f"ua close {CODE} released"], f"ua close {CODE} released", f"! {CODE} is closed"),
        ([f"ua close {CODE} released"], f"ua note {CODE} more", f"! {CODE} is closed"),
        ([], f"ua close {CODE} fine", "! 'fine' is not an outcome; accepted: released"),
        ([], f"ua reopen {CODE}", f"! {CODE} is not closed."),
        ([], f"ua snooze {CODE} 1 later", "! 'later' is not a duration"),
        ([], f"ua consent {CODE} press=yes", "! consent: 'press' is not a use"),
        ([], f"ua consent {CODE} media=maybe", "! consent: say media=yes or media=no."),
        ([], f"ua reply {CODE} T99 thanks", f"! {CODE} has no target T99"),
        ([f"ua skip {CODE} 2 not needed"], f"ua done {CODE} 2", "! Step 2 was skipped"),
        ([f"ua claim {CODE} 2"], f"ua claim {CODE} 2", "! Step 2 is already yours."),
        ([], f"ua claim {CODE} two", "! 'two' is not a step number"),
        ([f"ua assign {CODE} 2 @bea"], f"ua assign {CODE} 2 @bea", "! Step 2 is already @bea's."),
        ([], f"ua assign {CODE} 2 @bea please call", "! Name one person"),
        (
            [f"ua consent {CODE} media=yes"],
            f"ua consent {CODE} media=yes",
            "! That consent is already recorded",
        ),
    ],
)
def test_invalid_transitions_say_why_and_change_nothing(
    say: Say, services: Services, setup: list[str], line: str, message: str
) -> None:
    say(NEW)
    for command in setup:
        assert not say(command).startswith("!"), command
    before = snapshot(services)
    out = say(line)
    assert out.startswith(message), out
    assert "\n" not in out
    assert snapshot(services) == before


def test_a_blocked_step_cannot_be_done_and_stays_blocked(say: Say, services: Services) -> None:
    say(NEW)
    before = snapshot(services)
    out = say(f"ua done {CODE} 3")
    assert out.startswith("! Step 3 waits for the defender's consent (government)")
    assert f"ua consent {CODE} government=yes" in out
    assert snapshot(services) == before


def test_times_show_in_the_destinations_own_time_zone(say: Say, services: Services) -> None:
    with services.transaction() as session:
        session.add(
            Destination(
                platform=ROOM.platform,
                address=ROOM.address,
                timezone="Europe/Madrid",
                created_at=services.clock(),
            )
        )
    say(NEW)
    # Opened 14:30 UTC; the safety step is due 30 minutes later: 16:00 in Madrid (CET).
    assert "due Fri 27 Nov 16:00 CET" in step_line(say(f"ua show {CODE}"), 1)


def test_checklist_updates_carry_a_key_so_chat_can_edit_in_place(services: Services) -> None:
    handle_line(NEW, actor="a", place=ROOM, services=services)
    reply = handle_line(f"ua claim {CODE} 1", actor="a", place=ROOM, services=services)
    assert reply is not None and reply.replaces == f"checklist:{CODE}"


def test_control_characters_are_dropped_and_overlong_commands_refused(say: Say) -> None:
    opened = say(
        "ua new country=HN threats=arbitrary_detention profiles=journalist "
        'summary="Held\x00 at\u202e dawn\x1b[31m"'
    )
    assert "Opened UA-2026-0001" in opened
    shown = say("ua show UA-2026-0001")
    assert "Held at dawn[31m" in shown and "\x00" not in shown and "\u202e" not in shown
    refused = say("ua note UA-2026-0001 " + "x" * 30_000)
    assert "at most 25,000" in refused
    assert "x" * 100 not in say("ua log UA-2026-0001")
