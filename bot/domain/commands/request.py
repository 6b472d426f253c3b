"""The platform-neutral request a connector hands over: who asked, where, and what they typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.commands.forms import CommandError
from bot.domain.places import Place


class People(Protocol):
    """How a surface names people in a command; each connector reads its own mention syntax."""

    def principal(self, mention: str) -> str:
        """The principal (`slack:U0123ABC`, `matrix:@alice:example.org`) of the person that
        `mention` names, or CommandError saying how to name someone there."""


class NoMentions:
    """A surface where nobody can be named (the console, the command line)."""

    def principal(self, mention: str) -> str:
        """Always CommandError: people are named in a chat channel or room."""
        raise CommandError(f"'{mention}' cannot be named here; name people in a chat room.")


NO_MENTIONS = NoMentions()


@dataclass(frozen=True, slots=True)
class Origin:
    """The device a command came from and why Tocsin trusted it (`cross-signed`, `verified`,
    `first use`), recorded with every change the command makes."""

    device: str
    trust: str


@dataclass(frozen=True, slots=True)
class Command:
    """A request: who asked (`actor`), where, the text after the `ua` prefix, how the surface
    it came from names people, and from which device when the surface knows it."""

    actor: str
    place: Place
    text: str
    people: People = NO_MENTIONS
    origin: Origin | None = None
