"""Places: where a command came from or a message goes, and what each kind of place can do.

Handlers ask a place what it can do; none compares platform names. The platforms are named
here once, with what their places can do; a connector for a new platform adds its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.domain.case import Disclosure


class Names(Enum):
    """Where a place of the platform may ever be set to show the defender's name."""

    NEVER = "never"
    IF_ENCRYPTED = "if end-to-end encrypted"
    ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the places of one platform can do."""

    # How a message refers to such a place ("a Slack channel").
    label: str
    # A connector posts to such places (the command line and a partner's form it does not).
    deliverable: bool = False
    # The operator's own terminal: always bound, and whoever types there is an admin.
    always_bound: bool = False
    names: Names = Names.NEVER


PLATFORMS: dict[str, Capabilities] = {
    "console": Capabilities("the console", deliverable=True, always_bound=True, names=Names.ALWAYS),
    "slack": Capabilities("a Slack channel", deliverable=True),
    "matrix": Capabilities("this Matrix room", deliverable=True, names=Names.IF_ENCRYPTED),
}
ALWAYS_BOUND_PLATFORMS = frozenset(name for name, can in PLATFORMS.items() if can.always_bound)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a command came from or a message goes: a channel, a room, the console."""

    platform: str
    address: str
    encrypted: bool = False

    @property
    def can(self) -> Capabilities:
        """What places of this platform can do (nothing, for a surface no connector serves)."""
        return PLATFORMS.get(self.platform) or Capabilities(self.platform)

    @property
    def deliverable(self) -> bool:
        """Whether Tocsin can post here."""
        return self.can.deliverable

    @property
    def always_bound(self) -> bool:
        """Whether Tocsin acts here without being bound (the operator's own terminal)."""
        return self.can.always_bound

    @property
    def is_chat(self) -> bool:
        """A channel or room people share: an admin binds Tocsin there and gives roles."""
        return self.deliverable and not self.always_bound

    @property
    def label(self) -> str:
        """How a message refers to this place."""
        return self.can.label

    @property
    def may_see_names(self) -> bool:
        """Only the console and end-to-end-encrypted Matrix rooms may ever be set to `full`."""
        names = self.can.names
        return names is Names.ALWAYS or (names is Names.IF_ENCRYPTED and self.encrypted)

    @property
    def default_disclosure(self) -> Disclosure:
        """The level of a place nobody has set: standard at the console (its output may end up
        in a platform's logs) and in an encrypted room, minimal everywhere else (Slack,
        unencrypted rooms)."""
        return Disclosure.STANDARD if self.may_see_names else Disclosure.MINIMAL

    def disclosure(self, chosen: Disclosure | None) -> Disclosure:
        """The level in force: the one chosen for the place, else its default, and never
        `full` where names may not go (a room's encryption is checked at each use)."""
        level = chosen or self.default_disclosure
        if level is Disclosure.FULL and not self.may_see_names:
            return Disclosure.STANDARD
        return level

    def __str__(self) -> str:
        return f"{self.platform}:{self.address}"
