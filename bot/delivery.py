"""Sending messages to places, through whichever connector serves the place's platform."""

from __future__ import annotations

import logging
from typing import Protocol

from bot.domain.case import Place
from bot.domain.messages import Message

log = logging.getLogger(__name__)


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


class NoConnector(DeliveryFailed):
    """No running connector serves the place's platform (yet)."""


class Sender(Protocol):
    """A connector that can post to places of its platform."""

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Post the message to the place; with a delivery `key`, a second send of the same
        key changes nothing already posted. `maybe_sent`: an earlier attempt may have posted
        it without recording so (a crash): look before posting."""


class Delivery:
    """Routes each message to the connector of its place's platform."""

    def __init__(self) -> None:
        self._senders: dict[str, Sender] = {}

    def register(self, platform: str, sender: Sender) -> None:
        """Let `sender` post to places of `platform`."""
        self._senders[platform] = sender

    def serves(self, platform: str) -> bool:
        """Whether a connector for the platform is registered."""
        return platform in self._senders

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> bool:
        """Post the message; False (and a warning naming the place) when no connector serves it."""
        sender = self._senders.get(place.platform)
        if sender is None:
            log.warning(
                "no %s connector is running: a message for %s was not delivered",
                place.platform,
                place,
            )
            return False
        await sender.send(place, message, key, maybe_sent=maybe_sent)
        return True
