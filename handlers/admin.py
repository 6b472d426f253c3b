"""Admin commands: bind and unbind a place, set its disclosure, give roles; all audited."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain.access import DEFAULT_ROLE, EVERYONE, is_principal_of, person, principal
from bot.domain.case import Disclosure
from bot.domain.commands.forms import Bind, CommandError, Roles, SetDisclosure, SetRole, Unbind
from bot.domain.commands.request import Command
from bot.domain.messages import Message, Paragraph
from bot.domain.places import Place
from bot.store.access import bound_destination, set_role
from bot.store.changes import record
from bot.store.models import Destination
from handlers.context import Services
from handlers.digest import ensure_destination
from handlers.loading import queued
from handlers.registry import handles
from handlers.reminders import next_digest

LEVEL_MEANINGS = {
    Disclosure.MINIMAL: "case codes, countries, categories, targets and steps; "
    "no names, summary or notes",
    Disclosure.STANDARD: "adds the summary and notes; no names",
    Disclosure.FULL: "adds the defender's name and organisation",
}
FULL_REFUSED = (
    "Full disclosure (the defender's name) is allowed only in an end-to-end-encrypted Matrix "
    "room or at the console: {where} is not end-to-end encrypted, so whoever runs its server "
    "(or exports the workspace) could read it."
)


@handles(Bind)
def bind(command: Bind, request: Command, services: Services) -> Message:
    """`ua bind [team]`: Tocsin acts here from now on."""
    actor, place = request.actor, request.place
    if place.always_bound:
        return _said(
            f"{_capitalised(place.label)} is always bound: it is the operator's own terminal."
        )
    now = services.clock()
    with services.transaction() as session:
        destination = ensure_destination(session=session, place=place, services=services, now=now)
        if destination is None:
            raise CommandError("Only a chat channel or room can be bound.")
        already = destination.bound_at is not None
        destination.bound_at = destination.bound_at or now
        destination.bound_by = destination.bound_by if already else principal(place.platform, actor)
        destination.team = command.team or destination.team
        destination.encrypted = place.encrypted
        if destination.digest_time and destination.next_digest_at is None:  # bound again
            destination.next_digest_at = next_digest(destination, now)
        _audit(session, services, actor, place, "bind", {"team": destination.team})
        level = services.disclosure_for(session, place)
        team = f" for team {destination.team}" if destination.team else ""
        opening = "Tocsin was already bound here" if already else "Tocsin is now bound here"
        return _announced(
            session,
            services,
            place,
            f"{opening}{team}. Disclosure: {level.value} ({LEVEL_MEANINGS[level]}). "
            f"Everyone here is a {DEFAULT_ROLE.value} unless an admin sets a role (ua role).",
        )


@handles(Unbind)
def unbind(command: Unbind, request: Command, services: Services) -> Message:
    """`ua unbind`: Tocsin stops acting and posting here; the cases stay."""
    actor, place = request.actor, request.place
    if place.always_bound:
        return _said(f"{_capitalised(place.label)} cannot be unbound.")
    with services.transaction() as session:
        destination = _bound(session, place, services)
        destination.bound_at = None
        destination.is_lead = False
        destination.next_digest_at = None
        # Opt-in: binding again brings the daily digest back, not the weekly summary.
        destination.next_weekly_report_at = None
        _audit(session, services, actor, place, "unbind", {"team": destination.team})
        return _announced(
            session,
            services,
            place,
            "Tocsin is no longer bound here: it will answer only how to bind it again. "
            "Reminders of cases opened here go to the leads' room.",
        )


@handles(SetDisclosure)
def disclosure(command: SetDisclosure, request: Command, services: Services) -> Message:
    """`ua disclosure [level]`: what this place sees, or (admins) set it."""
    actor, place = request.actor, request.place
    with services.transaction() as session:
        current = services.disclosure_for(session, place)
        if command.level is None:
            return _said(
                f"Disclosure here: {current.value} ({LEVEL_MEANINGS[current]}). "
                "Admins change it with: ua disclosure minimal|standard|full"
            )
        wanted = Disclosure(command.level)
        if wanted is Disclosure.FULL and not place.may_see_names:
            raise CommandError(FULL_REFUSED.format(where=place.label))
        destination = _bound(session, place, services)
        destination.disclosure = wanted.value
        _audit(
            session, services, actor, place, "disclosure", {"level": [current.value, wanted.value]}
        )
        return _announced(
            session,
            services,
            place,
            f"Disclosure here is now {wanted.value} ({LEVEL_MEANINGS[wanted]}).",
        )


@handles(SetRole)
def give_role(command: SetRole, request: Command, services: Services) -> Message:
    """`ua role @person role`: that person's role here."""
    actor, place = request.actor, request.place
    if not place.is_chat:
        raise CommandError(f"Roles belong to chat channels and rooms; {place.label} is an admin.")
    who = person(command.who, request.people)
    with services.transaction() as session:
        destination = _bound(session, place, services)
        before = set_role(
            session=session,
            destination=destination,
            principal=who,
            role=command.role,
            granted_by=principal(place.platform, actor),
            now=services.clock(),
        )
        _audit(
            session, services, actor, place, "role", {"who": who, "role": [before, command.role]}
        )
        named = "Everyone here without a role of their own" if who == EVERYONE else who
        note = " (TOCSIN_ADMINS stay admins everywhere)" if who in services.admins else ""
        return _announced(session, services, place, f"{named} is now {command.role} here{note}.")


@handles(Roles)
def list_roles(command: Roles, request: Command, services: Services) -> Message:
    """`ua role`: who holds which role here."""
    place = request.place
    if not place.is_chat:
        return _said(f"At {place.label} you are an admin; roles belong to channels and rooms.")
    with services.transaction() as session:
        destination = _bound(session, place, services)
        roles = {row.principal: row.role for row in destination.roles}
    everyone = roles.pop(EVERYONE, DEFAULT_ROLE.value)
    lines = [f"{who}: {role}" for who, role in sorted(roles.items())]
    admins = sorted(a for a in services.admins if is_principal_of(a, place.platform))
    lines.append(f"everyone else: {everyone}")
    if admins:
        lines.append(f"admins everywhere (TOCSIN_ADMINS): {', '.join(admins)}")
    return _said("Roles here — " + "; ".join(lines) + ".")


def audit_place_change(services: Services, actor: str, place: Place, command: str) -> None:
    """Audit a change a connector made itself at this place (a device trusted or blocked)."""
    with services.transaction() as session:
        _audit(session, services, actor, place, command.split()[0], {"command": command})


def _bound(session: Session, place: Place, services: Services) -> Destination:
    if place.always_bound:
        console = ensure_destination(
            session=session, place=place, services=services, now=services.clock()
        )
        assert console is not None
        return console
    destination = bound_destination(session=session, place=place)
    if destination is None:
        raise CommandError("Tocsin is not bound here. An admin binds it with: ua bind [team-name]")
    return destination


def _audit(
    session: Session,
    services: Services,
    actor: str,
    place: Place,
    action: str,
    detail: dict[str, object],
) -> None:
    record(
        session=session,
        case=None,
        actor=principal(place.platform, actor),
        place=place,
        action=action,
        now=services.clock(),
        detail=detail,
    )


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _announced(session: Session, services: Services, place: Place, text: str) -> Message:
    """A change everyone here should see, written to the outbox with the change itself."""
    return queued(session, services, place, _said(text, public=True), None)


def _said(text: str, *, public: bool = False) -> Message:
    return Message(fallback=text, blocks=(Paragraph(text),), public=public)
