"""Commands whose room key has not arrived yet, held so they are handled when it comes (Element
often sends the key a moment after the message), for a window, then forgotten."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

WAIT_FOR_KEY_S = 10 * 60
MOST_HELD = 500


@dataclass(frozen=True, slots=True)
class Held:
    """An undecryptable event and the room it came in."""

    room_id: str
    event: Any
    since: float


class AwaitingKeys:
    """Undecryptable events by the Megolm session whose key they wait for."""

    def __init__(self, window_s: float = WAIT_FOR_KEY_S, most: int = MOST_HELD) -> None:
        self._window_s = window_s
        self._most = most
        self._held: OrderedDict[str, Held] = OrderedDict()  # by event ID, oldest first

    def hold(self, room_id: str, event: Any, now: float) -> None:
        """Keep the event until its key comes or the window passes (the oldest go first)."""
        self._held[event.event_id] = Held(room_id, event, now)
        while len(self._held) > self._most:
            self._held.popitem(last=False)

    def take(self, session_id: str, now: float) -> list[Held]:
        """The events still within the window that wait for this session's key; forgotten here."""
        self._expire(now)
        taken = [h for h in self._held.values() if h.event.session_id == session_id]
        for held in taken:
            del self._held[held.event.event_id]
        return taken

    def _expire(self, now: float) -> None:
        for event_id, held in list(self._held.items()):
            if now - held.since > self._window_s:
                del self._held[event_id]
