"""Whether a command may run where it was typed, by whom: binding first, then the role."""

from __future__ import annotations

from bot.domain.access import DEFAULT_ROLE, Role, principal, required_role
from bot.domain.case import Place
from bot.domain.commands import Bind, ParsedCommand
from bot.domain.messages import Message, error_message
from bot.store.access import bound_destination, stored_role
from handlers.context import Services

NOT_BOUND = "Tocsin is not active here. An admin turns it on by typing here: ua bind [team-name]"


def role_here(*, actor: str, place: Place, services: Services) -> Role | None:
    """The actor's role at the place; None where Tocsin is not bound (admins from
    TOCSIN_ADMINS are admins everywhere, the console's operator is an admin)."""
    if place.platform == "console":
        return Role.ADMIN
    if principal(place.platform, actor) in services.admins:
        return Role.ADMIN
    with services.transaction() as session:
        destination = bound_destination(session=session, place=place)
        if destination is None:
            return None
        stored = stored_role(destination=destination, principal=principal(place.platform, actor))
        return Role(stored) if stored else DEFAULT_ROLE


def is_bound(place: Place, services: Services) -> bool:
    """Whether Tocsin acts at this place (the console always)."""
    if place.platform == "console":
        return True
    with services.transaction() as session:
        return bound_destination(session=session, place=place) is not None


def refusal(
    command: ParsedCommand, *, actor: str, place: Place, services: Services
) -> Message | None:
    """Why the command may not run here, in one line; None when it may."""
    return refusal_for(
        required_role(command),
        binds=isinstance(command, Bind),
        actor=actor,
        place=place,
        services=services,
    )


def refusal_for(
    needed: Role, *, binds: bool = False, actor: str, place: Place, services: Services
) -> Message | None:
    """Why something that needs the `needed` role may not be done here; None when it may."""
    if not binds and not is_bound(place, services):
        return error_message(NOT_BOUND)
    role = role_here(actor=actor, place=place, services=services)
    if role is None:
        return error_message(f"Only an admin may bind Tocsin here. {NOT_BOUND}")
    if role.allows(needed):
        return None
    return error_message(
        f"That needs the {needed.value} role here; yours is {role.value}. "
        "An admin can change it with: ua role @you " + needed.value
    )
