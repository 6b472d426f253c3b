"""Who may do what where: roles per destination, and the role each command needs."""

from __future__ import annotations

import re
from enum import StrEnum

from bot.domain.commands import (
    Bind,
    CaseChange,
    CommandError,
    Digest,
    Help,
    LeadsHere,
    ListCases,
    ParsedCommand,
    Purge,
    ReportRequest,
    Roles,
    RouteAlert,
    SetConsent,
    SetDisclosure,
    SetRole,
    ShowCase,
    Unbind,
    WeeklyReport,
)


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

_LEAD_CASE_ACTIONS = {"close", "reopen"}


def required_role(command: ParsedCommand) -> Role:
    """The least role that may run the command."""
    match command:
        case Bind() | Unbind() | SetRole() | Purge():
            return Role.ADMIN
        case SetDisclosure(level=level):
            return Role.OBSERVER if level is None else Role.ADMIN
        case SetConsent() | LeadsHere():
            return Role.LEAD
        case WeeklyReport():
            return Role.LEAD
        case ReportRequest():
            return Role.OBSERVER
        case Digest(at=at):
            return Role.RESPONDER if at is None else Role.LEAD
        case CaseChange(action=action) if action in _LEAD_CASE_ACTIONS:
            return Role.LEAD
        case CaseChange(action="log") | ListCases() | ShowCase() | Help() | RouteAlert() | Roles():
            return Role.OBSERVER
    return Role.RESPONDER


_SLACK_USER = re.compile(r"^<?@?([UW][A-Z0-9]+)(?:\|[^>]*)?>?$")
_MATRIX_USER = re.compile(r"^@[^:\s]+:[^\s]+$")


def person(platform: str, text: str) -> str:
    """The principal of a person named in a command (`<@U0123ABC>`, `@alice:example.org`), or
    CommandError saying how to name them on this platform."""
    text = text.strip()
    if text.lower() in ("everyone", "*"):
        return EVERYONE
    if platform == "slack":
        match = _SLACK_USER.match(text)
        if match is None:
            raise CommandError(
                f"'{text}' is not a Slack member: mention them (@name) so Slack sends their id."
            )
        return principal("slack", match.group(1))
    if platform == "matrix" and not _MATRIX_USER.match(text):
        raise CommandError(f"'{text}' is not a Matrix user id; write it as @alice:example.org.")
    return principal(platform, text.lstrip("@") if platform == "console" else text)


def principal(platform: str, actor: str) -> str:
    """One spelling for a person across Tocsin: `slack:U0123ABC`, `matrix:@alice:example.org`."""
    prefix = f"{platform}:"
    return actor if actor.startswith(prefix) else prefix + actor


def role_names() -> str:
    """The roles as a user types them."""
    return ", ".join(role.value for role in Role)
