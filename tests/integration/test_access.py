"""Access control and disclosure: Tocsin acts only where bound, by role, and shows each place
only what its disclosure level allows; every change and every read of names is audited."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli.audit import audit_lines
from bot.connectors.console.render import render_text
from bot.connectors.matrix.people import MATRIX_PEOPLE
from bot.connectors.slack.people import SLACK_PEOPLE
from bot.domain.commands.request import NO_MENTIONS, Command, People
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.store.models import AuditEvent, Case, Destination, DestinationRole
from handlers.commands import handle
from handlers.context import Services
from handlers.reminders import run_due
from tests.conftest import FrozenClock

ADMIN = "slack:U0ADMIN"
CHANNEL = Place("slack", "C100")
SECRET_ROOM = Place("matrix", "!secret:example.org", encrypted=True)
PLAIN_ROOM = Place("matrix", "!plain:example.org", encrypted=False)
NAME = "Bea Fictional-Access"
PEOPLE: dict[str, People] = {"slack": SLACK_PEOPLE, "matrix": MATRIX_PEOPLE}
NEW = (
    "new country=GT threats=death_threat profiles=land "
    f'summary="threatened after the land hearing" defender="{NAME}" organisation="Tierra Ejemplo"'
)


@pytest.fixture
def team(services: Services) -> Services:
    return replace(services, admins=frozenset({ADMIN, "matrix:@admin:example.org"}))


def say(services: Services, place: Place, text: str, actor: str = ADMIN) -> Message:
    """The command as the place's connector hands it over, naming people its way."""
    people = PEOPLE.get(place.platform, NO_MENTIONS)
    return handle(Command(actor=actor, place=place, text=text, people=people), services)


def text_of(message: Message) -> str:
    return render_text(message)


def counts(session: Session) -> tuple[int, ...]:
    tables = (Case, Destination, DestinationRole, AuditEvent)
    return tuple(session.scalar(select(func.count()).select_from(t)) or 0 for t in tables)


def bound(services: Services, place: Place, actor: str = ADMIN) -> None:
    reply = say(services, place, "bind Fictional team", actor)
    assert not reply.is_error, reply.fallback


def test_an_unbound_place_answers_one_line_and_stores_nothing(team: Services) -> None:
    with team.transaction() as session:
        before = counts(session)
    for text in (NEW, "list", "show UA-2026-0001", "digest", "role", "help", "fly", "new x"):
        reply = say(team, CHANNEL, text, actor="slack:U0OTHER")
        assert reply.is_error and "ua bind" in reply.fallback and "\n" not in reply.fallback
    refused = say(team, CHANNEL, "bind Night shift", actor="slack:U0OTHER")
    assert "Only an admin may bind" in refused.fallback
    with team.transaction() as session:
        assert counts(session) == before


def test_an_admin_binds_and_roles_decide_who_may_do_what(team: Services) -> None:
    bound(team, CHANNEL)
    code = say(team, CHANNEL, NEW, actor="slack:U0RESP").fallback.split()[1].rstrip(":")
    assert code == "UA-2026-0001"
    assert (
        "needs the lead role"
        in say(team, CHANNEL, f"close {code} resolved", "slack:U0RESP").fallback
    )
    assert (
        "needs the lead role"
        in say(team, CHANNEL, f"consent {code} media=yes", "slack:U0RESP").fallback
    )
    assert (
        "needs the admin role"
        in say(team, CHANNEL, "role <@U0RESP> admin", "slack:U0RESP").fallback
    )

    assert "is now observer" in say(team, CHANNEL, "role <@U0OBS|obs> observer").fallback
    assert "is now lead" in say(team, CHANNEL, "role <@U0LEAD> lead").fallback
    observed = say(team, CHANNEL, f"claim {code} 1", "slack:U0OBS")
    assert "needs the responder role here; yours is observer" in observed.fallback
    assert not say(team, CHANNEL, f"show {code}", "slack:U0OBS").is_error
    assert not say(team, CHANNEL, f"consent {code} media=yes", "slack:U0LEAD").is_error
    assert (
        "needs the admin role" in say(team, CHANNEL, "disclosure standard", "slack:U0LEAD").fallback
    )
    assert (
        "needs the admin role"
        in say(team, CHANNEL, f"purge {code} confirm", "slack:U0LEAD").fallback
    )

    listed = say(team, CHANNEL, "role", "slack:U0OBS").fallback
    assert "slack:U0LEAD: lead" in listed and "everyone else: responder" in listed
    say(team, CHANNEL, "role everyone observer")
    assert "yours is observer" in say(team, CHANNEL, f"claim {code} 1", "slack:U0NEW").fallback

    with team.transaction() as session:
        lines = audit_lines(session, code=None, limit=100)
    trail = "\n".join(lines)
    assert f"{ADMIN}  bind" in trail and '"who": "slack:U0OBS"' in trail
    consent = next(line for line in lines if "consent" in line)
    assert consent.split("  ")[1:3] == [code, "slack:U0LEAD"]  # who recorded the consent
    assert NAME not in trail


def test_minimal_shows_no_name_summary_or_notes_and_standard_adds_the_summary(
    team: Services,
) -> None:
    bound(team, CHANNEL)
    say(team, CHANNEL, NEW)
    say(team, CHANNEL, "done UA-2026-0001 1 spoke with the Fictional-Access family")
    say(team, CHANNEL, "reply UA-2026-0001 T1 acknowledged by the Fictional-Access desk")
    minimal = text_of(say(team, CHANNEL, "show UA-2026-0001")) + text_of(
        say(team, CHANNEL, "log UA-2026-0001")
    )
    assert "Fictional-Access" not in minimal and "land hearing" not in minimal
    assert (
        "Guatemala" in minimal and "death threat" in minimal and "disclosure is minimal" in minimal
    )

    say(team, CHANNEL, "disclosure standard")
    standard = text_of(say(team, CHANNEL, "show UA-2026-0001"))
    assert "land hearing" in standard and "Fictional-Access family" in standard
    assert NAME not in standard


def test_full_is_refused_where_names_may_not_go_and_shown_in_an_encrypted_room(
    team: Services,
) -> None:
    for place in (CHANNEL, PLAIN_ROOM):
        bound(team, place, "matrix:@admin:example.org" if place.platform == "matrix" else ADMIN)
    refused = say(team, CHANNEL, "disclosure full")
    assert refused.is_error and "end-to-end-encrypted Matrix room" in refused.fallback
    admin = "matrix:@admin:example.org"
    assert say(team, PLAIN_ROOM, "disclosure full", admin).is_error
    bound(team, SECRET_ROOM, admin)
    say(team, SECRET_ROOM, NEW, admin)
    assert NAME not in text_of(say(team, SECRET_ROOM, "show UA-2026-0001", admin))  # standard
    assert not say(team, SECRET_ROOM, "disclosure full", admin).is_error
    shown = text_of(say(team, SECRET_ROOM, "show UA-2026-0001", admin))
    assert any(line.split() == ["Defender:", *NAME.split()] for line in shown.splitlines())
    # Should the room ever be seen unencrypted, names stop at once.
    downgraded = replace(SECRET_ROOM, encrypted=False)
    assert NAME not in text_of(say(team, downgraded, "show UA-2026-0001", admin))
    with team.transaction() as session:
        reads = [line for line in audit_lines(session, code="UA-2026-0001", limit=50)]
    assert sum("read_full" in line for line in reads) == 1
    assert any("disclosure" in line and '"full"' in line for line in audit_lines_all(team))


def audit_lines_all(services: Services) -> list[str]:
    with services.transaction() as session:
        return audit_lines(session, code=None, limit=500)


def test_unbinding_stops_tocsin_and_sends_reminders_to_a_bound_room(
    team: Services, clock: FrozenClock
) -> None:
    bound(team, CHANNEL)
    team_room = Place("slack", "C200")
    bound(team, team_room)
    say(team, CHANNEL, NEW)
    assert "no longer bound" in say(team, CHANNEL, "unbind").fallback
    assert "ua bind" in say(team, CHANNEL, "list").fallback
    clock.advance(minutes=31)
    places = [str(item.place) for item in run_due(team, clock(), started_at=clock())]
    assert places and set(places) == {str(team_room)}


def test_binding_again_brings_the_daily_digest_back(team: Services, clock: FrozenClock) -> None:
    bound(team, CHANNEL)
    say(team, CHANNEL, "unbind")
    bound(team, CHANNEL)
    clock.advance(days=1)
    places = [str(item.place) for item in run_due(team, clock(), started_at=clock())]
    assert str(CHANNEL) in places
