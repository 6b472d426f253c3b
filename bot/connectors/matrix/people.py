"""How people are named in a Matrix command: their user ID (`@alice:example.org`)."""

from __future__ import annotations

import re

from bot.domain.access import principal
from bot.domain.commands.forms import CommandError

_USER_ID = re.compile(r"^@[^:\s]+:[^\s]+$")


class MatrixPeople:
    """Matrix users, named by their full user ID."""

    def principal(self, mention: str) -> str:
        """`matrix:@alice:example.org` for `@alice:example.org`."""
        mention = mention.strip()
        if not _USER_ID.match(mention):
            raise CommandError(
                f"'{mention}' is not a Matrix user id; write it as @alice:example.org."
            )
        return principal("matrix", mention)


MATRIX_PEOPLE = MatrixPeople()
