"""Sending messages to places, through whichever connector serves the place's platform."""

from __future__ import annotations

import logging
from typing import Protocol

from bot.domain.case import Place
from bot.domain.messages import Message

log = logging.getLogger(__name__)


class Sender(Protocol):
    """A connector that can post to places of its platform."""

    async def send(self, place: Place, message: Message) -> None:
        """Post the message to the place."""


class Delivery:
    """Routes each message to the connector of its place's platform."""

    def __init__(self) -> None:
        self._senders: dict[str, Sender] = {}

    def register(self, platform: str, sender: Sender) -> None:
        """Let `sender` post to places of `platform`."""
        self._senders[platform] = sender

    async def send(self, place: Place, message: Message) -> bool:
        """Post the message; False (and a warning naming the place) when no connector serves it."""
        sender = self._senders.get(place.platform)
        if sender is None:
            log.warning(
                "no %s connector is running: a message for %s was not delivered",
                place.platform,
                place,
            )
            return False
        await sender.send(place, message)
        return True
