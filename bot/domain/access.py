"""Who may do what where: the roles a person holds in a destination, and principals."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.commands.request import People


class Role(StrEnum):
    """A person's role in one destination, least first."""

    OBSERVER = "observer"  # reads cases; changes nothing
    RESPONDER = "responder"  # opens cases and works their steps
    LEAD = "lead"  # also records consent, closes and reopens, sets the digest and leads room
    ADMIN = "admin"  # also binds, unbinds, sets roles and disclosure, purges

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


# Members of a bound destination nobody has given a role: the team that was bound there.
DEFAULT_ROLE = Role.RESPONDER
# The principal that stands for "everyone else here" in `ua role everyone observer`.
EVERYONE = "*"


def person(mention: str, people: People) -> str:
    """The principal of the person a command names, read as the surface it came from names
    people; EVERYONE for `everyone` (or `*`): the members without a role of their own."""
    mention = mention.strip()
    if mention.lower() in ("everyone", EVERYONE):
        return EVERYONE
    return people.principal(mention)


def principal(platform: str, actor: str) -> str:
    """One spelling for a person across Tocsin: `slack:U0123ABC`, `matrix:@alice:example.org`."""
    prefix = f"{platform}:"
    return actor if actor.startswith(prefix) else prefix + actor


def is_principal_of(who: str, platform: str) -> bool:
    """Whether the principal names a person of that platform."""
    return who.startswith(f"{platform}:")


def role_names() -> str:
    """The roles as a user types them."""
    return ", ".join(role.value for role in Role)
