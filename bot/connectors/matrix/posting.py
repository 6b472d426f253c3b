"""Posting to rooms: one queue, in order, retried through outages, cards edited in place."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, RoomSendError, UploadError

from bot.connectors.contract import Ledger
from bot.connectors.matrix import render
from bot.connectors.matrix.devices import DeviceRegistry
from bot.domain.messages import Chart, Message, charts_of, error_message
from bot.domain.places import Place
from bot.domain.report_chart import png_size, render_png

log = logging.getLogger(__name__)

ATTEMPTS = 6
# Synapse refuses events over 65,536 bytes; encryption adds about a third.
MAX_EVENT_BYTES = 45_000
FAILED_NOTICE = (
    "Tocsin could not post a message here ({problem}). Nothing was lost in the case itself: "
    "see it with !ua show CODE, or !ua list."
)


class PostingError(Exception):
    """The homeserver refused a message for a reason that waiting will not fix."""


class RateLimited(RuntimeError):
    """The homeserver asked to wait `retry_after` seconds."""

    def __init__(self, problem: str, retry_after: float | None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Earlier:
    """The event posted under `key` (a card, or the card a reminder's thread hangs from), looked
    up before the message was queued: None when there was none. It holds while the room's
    `RoomPoster.generation` is still `generation`; else it is looked up again when posting."""

    key: str
    event_id: str | None
    generation: int


@dataclass(frozen=True, slots=True)
class Queued:
    """A message waiting to be posted; `reply_to` is the command it answers, `thread_root` the
    thread that command was written in, `earlier` what it builds on, if already looked up."""

    place: Place
    message: Message
    reply_to: str | None = None
    thread_root: str | None = None
    earlier: Earlier | None = None


@dataclass(frozen=True, slots=True)
class _Parts:
    """The parts of one message already posted (a card, its edit, the thread note), and the
    delivery key that names each part's transaction."""

    done: dict[str, str]
    key: str | None

    def tx_id(self, part: str) -> str | None:
        """A transaction id the homeserver deduplicates: the same part is one event."""
        return f"tocsin-{self.key}-{part}".replace(":", "-") if self.key else None


class RoomPoster:
    """Turns neutral messages into room events and sends them, encrypted where the room is."""

    def __init__(
        self,
        client: AsyncClient,
        devices: DeviceRegistry,
        ledger: Ledger,
        *,
        max_pause_s: float,
    ) -> None:
        self._client = client
        self._devices = devices
        self._posted = ledger
        self._max_pause_s = max_pause_s
        self.queue: asyncio.Queue[Queued] = asyncio.Queue()
        # Per room, how many times an event was remembered under a key: a lookup made before
        # a change stands only while this has not moved.
        self._generations: dict[str, int] = {}

    def generation(self, room_id: str) -> int:
        """Read before looking up what a message builds on, to pass on with it in `Earlier`."""
        return self._generations.get(room_id, 0)

    async def run(self) -> None:
        """Post queued messages one at a time until cancelled."""
        while True:
            item = await self.queue.get()
            try:
                await self._post_with_retries(item)
            finally:
                self.queue.task_done()

    async def _post_with_retries(self, item: Queued) -> None:
        pause = 0.5
        # The parts already posted (a card, its edit, the thread note): a retry never repeats one.
        progress: dict[str, str] = {}
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self.post(item, progress)
                await self._posted.delivered(item.message.outbox_key)
                return
            except asyncio.CancelledError:
                raise
            except PostingError as error:
                self._give_up(item, str(error))
                return
            except Exception as error:
                # Logged without the text: it may name a defender.
                log.warning("posting to %s failed (attempt %d): %r", item.place, attempt, error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._max_pause_s)
        self._give_up(item, "the homeserver kept failing")

    def _give_up(self, item: Queued, problem: str) -> None:
        log.error("a message for %s was not posted: %s", item.place, problem)
        if not item.message.is_error:
            notice = error_message(FAILED_NOTICE.format(problem=problem))
            self.queue.put_nowait(Queued(item.place, notice, item.reply_to, item.thread_root))

    async def post(self, item: Queued, progress: dict[str, str], key: str | None = None) -> None:
        """Post one message: a card edit plus its thread note, or a reply, reminder or notice.
        With a delivery `key`, each part goes with a transaction id made from it, so the
        homeserver keeps one event per part however often it is sent."""
        place, message = item.place, item.message
        if place.address not in self._client.rooms:
            if key is not None and self._client.next_batch:
                raise PostingError("Tocsin is no longer in this room")
            if key is not None:
                raise RuntimeError("the room is not known yet (first sync)")
            log.warning("not a member of %s: a message for it was not posted", place)
            return
        parts = _Parts(progress, key if key is not None else message.outbox_key)
        if message.card and message.replaces:
            await self._refresh_card(item, parts)
            return
        relate = await self._relation(item)
        event_id = await self._send_once(
            parts, "message", place.address, relate(render.content(message))
        )
        if message.about:
            # One key for each reminder, so a reaction to any of them finds its step.
            await self._remember(place, f"{message.about} {event_id}", event_id)
        for index, chart in enumerate(charts_of(message)):
            part = f"chart-{index}"
            if part not in parts.done:
                image = await self._upload_chart(place.address, chart)
                await self._send_once(parts, part, place.address, relate(image))

    async def _relation(self, item: Queued) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """How the item's events relate to others: in its case's thread, in the thread of the
        command it answers, as a reply to that command, or not at all."""
        if item.message.thread:
            root = await self._find(item, item.message.thread)
            if root is not None:
                return functools.partial(render.in_thread, root)
        elif item.thread_root is not None:
            return functools.partial(render.in_thread, item.thread_root, reply_to=item.reply_to)
        elif item.reply_to is not None:
            return functools.partial(render.in_reply_to, item.reply_to)
        return lambda content: content

    async def _upload_chart(self, room_id: str, chart: Chart) -> dict[str, Any]:
        """Draw the chart and upload it (encrypted for an encrypted room); its image content."""
        png = await asyncio.to_thread(render_png, chart)
        encrypted = self._client.rooms[room_id].encrypted
        response, keys = await self._client.upload(
            io.BytesIO(png),
            content_type="image/png",
            filename=f"{chart.name}.png",
            encrypt=encrypted,
            filesize=len(png),
        )
        if isinstance(response, UploadError):
            status = response.transport_response.status if response.transport_response else 500
            problem = f"upload {response.status_code}: {response.message}"
            if status == 429:
                raise RateLimited(problem, None)
            raise (PostingError if 400 <= status < 500 else RuntimeError)(problem)
        width, height = png_size(png)
        return render.image(
            chart, size=len(png), width=width, height=height, url=response.content_uri, file=keys
        )

    async def _find(self, item: Queued, key: str) -> str | None:
        """The event posted under `key` in the item's room: as looked up before it was queued
        when nothing was remembered there since, else looked up now."""
        earlier = item.earlier
        if (
            earlier is not None
            and earlier.key == key
            and earlier.generation == self.generation(item.place.address)
        ):
            return earlier.event_id
        return await self._posted.find(item.place, key)

    async def _remember(self, place: Place, key: str, event_id: str) -> None:
        try:
            await self._posted.remember(place, key, event_id)
        finally:
            self._generations[place.address] = self.generation(place.address) + 1

    async def _refresh_card(self, item: Queued, parts: _Parts) -> None:
        """Post the case card once, then edit it in place and say what changed in its thread."""
        place, message = item.place, item.message
        key = message.replaces or ""
        card = render.content(message, blocks=message.card)
        original = await self._find(item, key)
        if original is None:
            event_id = await self._send_once(parts, "card", place.address, card)
            await self._remember(place, key, event_id)
            return
        edit = render.edit(original, card, summary=message.fallback)
        await self._send_once(parts, "edit", place.address, edit)
        note = render.in_thread(original, render.content(message))
        await self._send_once(parts, "note", place.address, note)

    async def _send_once(
        self, parts: _Parts, part: str, room_id: str, content: dict[str, Any]
    ) -> str:
        if part not in parts.done:
            parts.done[part] = await self.send(room_id, content, parts.tx_id(part))
        return parts.done[part]

    async def send(self, room_id: str, content: dict[str, Any], tx_id: str | None = None) -> str:
        """Send one event (encrypted for the trusted devices in an encrypted room); its ID."""
        if len(json.dumps(content).encode()) > MAX_EVENT_BYTES:
            raise PostingError("the message is too long for Matrix")
        room = self._client.rooms[room_id]
        if room.encrypted:
            await self._devices.prepare(room)
        response = await self._client.room_send(
            room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=False
        )
        if isinstance(response, RoomSendError):
            problem = f"{response.status_code}: {response.message}"
            status = response.transport_response.status if response.transport_response else 500
            if status == 429:
                wait = response.retry_after_ms / 1000 if response.retry_after_ms else None
                raise RateLimited(problem, wait)
            if status < 500:
                raise PostingError(problem)
            raise RuntimeError(problem)
        return str(response.event_id)
