"""Whether a command may run where it was typed, by whom: binding first, then the role."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.access import DEFAULT_ROLE, Role, principal
from bot.domain.commands.forms import Bind, ParsedCommand
from bot.domain.commands.table import required_role
from bot.domain.messages import Message, error_message
from bot.domain.places import Place
from bot.store.access import bound_destination, stored_role
from handlers.context import Services

NOT_BOUND = "Tocsin is not active here. An admin turns it on by typing here: ua bind [team-name]"


@dataclass(frozen=True, slots=True)
class Standing:
    """Whether Tocsin is bound at a place, and the actor's role there (None: no role yet, as
    anyone but an admin has where Tocsin is not bound)."""

    bound: bool
    role: Role | None


def standing(*, actor: str, place: Place, services: Services) -> Standing:
    """Read both in one look at the database (a place always bound is its operator's, who is
    an admin there; TOCSIN_ADMINS are admins everywhere)."""
    if place.always_bound:
        return Standing(bound=True, role=Role.ADMIN)
    who = principal(place.platform, actor)
    admin = who in services.admins
    with services.transaction() as session:
        destination = bound_destination(session=session, place=place)
        if destination is None:
            return Standing(bound=False, role=Role.ADMIN if admin else None)
        stored = stored_role(destination=destination, principal=who)
    if admin:
        return Standing(bound=True, role=Role.ADMIN)
    return Standing(bound=True, role=Role(stored) if stored else DEFAULT_ROLE)


def is_bound(place: Place, services: Services) -> bool:
    """Whether Tocsin acts at this place (an always-bound one, the console, always)."""
    return standing(actor="", place=place, services=services).bound


def refusal(command: ParsedCommand, here: Standing) -> Message | None:
    """Why the command may not run, in one line; None when it may."""
    return refusal_for(required_role(command), here, binds=isinstance(command, Bind))


def refusal_for(needed: Role, here: Standing, *, binds: bool = False) -> Message | None:
    """Why something that needs the `needed` role may not be done; None when it may."""
    if not binds and not here.bound:
        return error_message(NOT_BOUND)
    if here.role is None:
        return error_message(f"Only an admin may bind Tocsin here. {NOT_BOUND}")
    if here.role.allows(needed):
        return None
    return error_message(
        f"That needs the {needed.value} role here; yours is {here.role.value}. "
        "An admin can change it with: ua role @you " + needed.value
    )
