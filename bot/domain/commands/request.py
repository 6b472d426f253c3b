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
class Command:
    """A request: who asked (`actor`), where, the text after the `ua` prefix, and how the
    surface it came from names people."""

    actor: str
    place: Place
    text: str
    people: People = NO_MENTIONS
