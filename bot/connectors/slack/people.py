"""How people are named in a Slack command: the mention Slack sends (`<@U0123ABC|ana>`)."""

from __future__ import annotations

import re

from bot.domain.access import principal
from bot.domain.commands.forms import CommandError

_MEMBER = re.compile(r"^<?@?([UW][A-Z0-9]+)(?:\|[^>]*)?>?$")


class SlackPeople:
    """Slack members, named by the mention Slack sends when someone picks them (@name)."""

    def principal(self, mention: str) -> str:
        """`slack:U0123ABC` for `<@U0123ABC|ana>`, `<@U0123ABC>` or `U0123ABC`."""
        match = _MEMBER.match(mention.strip())
        if match is None:
            raise CommandError(
                f"'{mention}' is not a Slack member: mention them (@name) so Slack sends their id."
            )
        return principal("slack", match.group(1))


SLACK_PEOPLE = SlackPeople()
