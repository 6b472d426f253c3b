"""What a connector offers Tocsin, and how it says a delivery failed."""

from __future__ import annotations

from typing import Protocol

from bot.domain.case import Place
from bot.domain.messages import Message


class DeliveryFailed(Exception):
    """A connector could not post: for good (`permanent`: the channel archived, the bot
    removed), or for now, to be tried again (after `retry_after` seconds when the service
    said so)."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    """A connector that can post to places of its platform."""

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Post the message to the place, or raise DeliveryFailed. With a delivery `key`, a
        second send of the same key changes nothing already posted. `maybe_sent`: an earlier
        attempt may have posted it without recording so (a crash): look before posting."""
