"""Matrix through matrix-nio: `!ua` in encrypted and plain rooms, replies and reminders out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    MatrixRoom,
    MegolmEvent,
    ReactionEvent,
    RoomMemberEvent,
    RoomMessageText,
    SyncError,
    SyncResponse,
    ToDeviceMessage,
)

from bot.connectors.contract import ConnectorKit, DeliveryFailed
from bot.connectors.matrix import credentials
from bot.connectors.matrix.devices import Asker, DeviceRegistry
from bot.connectors.matrix.login import log_in, secure_store
from bot.connectors.matrix.people import MATRIX_PEOPLE
from bot.connectors.matrix.policy import is_allowed
from bot.connectors.matrix.posting import Earlier, PostingError, Queued, RateLimited, RoomPoster
from bot.domain import guided
from bot.domain.access import Role
from bot.domain.case import Disclosure
from bot.domain.commands.request import Command
from bot.domain.commands.words import strip_prefix
from bot.domain.messages import Message, Paragraph, error_message
from bot.domain.places import Place
from bot.domain.reminders import parse_step_key
from bot.errors import StartupError
from config.settings import Settings

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
# Events per room one sync returns: enough for everything a room says while Tocsin restarts.
TIMELINE_LIMIT = 100
# Presence, typing and read receipts are never read: not asked for, they cost no parsing.
SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "room": {"timeline": {"limit": TIMELINE_LIMIT}, "ephemeral": {"not_types": ["*"]}},
}
DONE_REACTIONS = frozenset({"✅", "✅️", "✔️", "✔", "☑️"})
GUIDED_EXPIRES_S = 30 * 60
SEEN_EVENTS = 2_000
STOP_WAIT_S = 5.0
MISSED_NOTICE = (
    f"Tocsin was offline and more than {TIMELINE_LIMIT} messages came here meanwhile; it read "
    f"only the last {TIMELINE_LIMIT}. If you sent a command before those, send it again."
)


class MatrixConnector:
    """One Matrix account: answers `!ua` in the rooms it was invited to, posts Tocsin's messages."""

    def __init__(
        self, settings: Settings, kit: ConnectorKit, *, max_retry_wait_s: float = 30.0
    ) -> None:
        assert settings.matrix_homeserver and settings.matrix_user_id
        self._settings = settings
        self._commands = kit.commands
        self._store = settings.matrix_store_path
        self._allowed = tuple(settings.matrix_allowed_inviters)
        secure_store(self._store)
        config = AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=False,
            max_timeout_retry_wait_time=max_retry_wait_s,
            request_timeout=SYNC_TIMEOUT_MS / 1000 + 30,
        )
        self.client = AsyncClient(
            settings.matrix_homeserver,
            settings.matrix_user_id,
            store_path=str(self._store),
            config=config,
        )
        self.devices = DeviceRegistry(
            self.client, self._store, self._allowed, settings.matrix_require_verification
        )
        self._posted = kit.ledger
        self.synced_at = float("-inf")
        self._poster = RoomPoster(
            self.client, self.devices, kit.ledger, max_pause_s=max_retry_wait_s
        )
        self._guided: dict[tuple[str, str], tuple[guided.GuidedAlert, float]] = {}
        self._joined_at: dict[str, int] = {}
        self._seen: deque[str] = deque(maxlen=SEEN_EVENTS)
        self._skip_history = False
        # Clear while the events of a sync batch are being handled, until its position is saved.
        self._between_batches = asyncio.Event()
        self._between_batches.set()
        self._joined_this_batch: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def user_id(self) -> str:
        """The bot's own Matrix user ID."""
        return str(self.client.user_id)

    @property
    def device_id(self) -> str:
        """The bot's one device: the same across restarts."""
        return str(self.client.device_id)

    @property
    def connected(self) -> bool:
        """Whether a sync succeeded lately (a long poll lasts SYNC_TIMEOUT_MS)."""
        return time.monotonic() - self.synced_at < SYNC_TIMEOUT_MS / 1000 * 2 + 30

    async def start(self) -> None:
        """Log in (or restore the saved device), catch up, then sync and deliver in the background.

        Raises StartupError, saying what to fix, when the homeserver refuses or cannot be reached.
        """
        try:
            await log_in(self.client, self._settings)
            await self._catch_up()
        except BaseException:
            await self.client.close()
            raise
        self._tasks = [
            asyncio.create_task(self._sync_forever(), name="matrix-sync"),
            asyncio.create_task(self._poster.run(), name="matrix-delivery"),
        ]
        log.info("Matrix connected as %s (device %s)", self.user_id, self.device_id)

    async def _catch_up(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self._register_callbacks()
        token = credentials.load_sync_token(self._store)
        # A store without a sync position has never handled anything: what the first sync
        # returns is history, and commands in it were meant for no one now listening.
        self._skip_history = token is None
        self.client.next_batch = token or ""
        try:
            await self._sync_once(timeout_ms=0)
        except RuntimeError as error:
            raise StartupError(
                f"the Matrix homeserver refused to sync ({error}): try again"
            ) from None
        finally:
            self._skip_history = False
        await self._leave_rooms_without_allies()

    async def stop(self) -> None:
        """Finish the batch of events in hand, post what is queued (a few seconds at most), close.

        A batch is never cut short: its sync position would not be saved and the next start
        would answer its commands again."""
        if self._tasks:
            sync_task, delivery_task = self._tasks
            deadline = time.monotonic() + STOP_WAIT_S
            while not self._between_batches.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            sync_task.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poster.queue.join(), timeout=STOP_WAIT_S)
            delivery_task.cancel()
            if not self._poster.queue.empty():
                log.warning(
                    "stopping with %d Matrix messages not posted (the homeserver is unreachable)",
                    self._poster.queue.qsize(),
                )
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        await self.client.close()

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Post a message from the outbox (`key` given) now, or DeliveryFailed saying whether
        to try again; without a key, queue it to be posted in order with retries."""
        if key is None:
            self._poster.queue.put_nowait(Queued(place, message))
            return
        try:
            await self._poster.post(Queued(place, message), {}, key)
        except PostingError as error:
            raise DeliveryFailed(str(error), permanent=True) from None
        except RateLimited as error:
            raise DeliveryFailed(str(error), retry_after=error.retry_after) from None

    # Sync ------------------------------------------------------------------------------------

    def _register_callbacks(self) -> None:
        callbacks: list[tuple[Callable[..., Awaitable[None]], type]] = [
            (self._on_invite, InviteMemberEvent),
            (self._on_member, RoomMemberEvent),
            (self._on_text, RoomMessageText),
            (self._on_undecryptable, MegolmEvent),
            (self._on_reaction, ReactionEvent),
        ]
        for callback, event_type in callbacks:
            self.client.add_event_callback(self._guarded(callback), event_type)

    async def _sync_forever(self) -> None:
        """Sync until cancelled; nio retries an unreachable homeserver with growing pauses."""
        pause = 1.0
        while True:
            try:
                await self._sync_once(timeout_ms=SYNC_TIMEOUT_MS)
                self.synced_at = time.monotonic()
                pause = 1.0
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Matrix sync failed; trying again in %.0f s", pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)

    async def _sync_once(self, *, timeout_ms: int) -> None:
        self._joined_this_batch.clear()
        try:
            response = await self.client.sync(
                timeout=timeout_ms, sync_filter=SYNC_FILTER, full_state=timeout_ms == 0 or None
            )
            if isinstance(response, SyncError):
                raise RuntimeError(f"{response.status_code}: {response.message}")
            # Saved once every event of the batch was handled, before anything that could wait
            # on the network: a crash replays at most this batch, never skips it.
            credentials.save_sync_token(self._store, response.next_batch)
            await self._warn_of_missed_messages(response)
        finally:
            self._between_batches.set()
        await self._exchange_keys()

    async def _exchange_keys(self) -> None:
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _warn_of_missed_messages(self, response: SyncResponse) -> None:
        """A room whose timeline was cut while Tocsin was away is told so, never left to guess;
        a room just joined shows history, not missed commands."""
        if self._skip_history:
            return
        for room_id, info in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if info.timeline.limited and room and room_id not in self._joined_this_batch:
                await self._notice_if_bound(room, MISSED_NOTICE, None)

    async def _leave_rooms_without_allies(self) -> None:
        for room in list(self.client.rooms.values()):
            await self._leave_if_no_ally(room)

    async def _leave_if_no_ally(self, room: MatrixRoom) -> None:
        members = set(room.users) - set(room.invited_users) - {self.user_id}
        if not any(is_allowed(user, self._allowed) for user in members):
            log.warning("leaving %s: no allowed member remains", room.room_id)
            await self.client.room_leave(room.room_id)

    # Events ----------------------------------------------------------------------------------

    def _guarded(
        self, callback: Callable[[MatrixRoom, Any], Awaitable[None]]
    ) -> Callable[[MatrixRoom, Any], Awaitable[None]]:
        """A callback whose failure is logged and answered, never aborting the batch it runs in."""

        async def run(room: MatrixRoom, event: Any) -> None:
            self._between_batches.clear()
            try:
                await callback(room, event)
            except Exception:
                incident = uuid.uuid4().hex[:8]
                log.exception("a Matrix event in %s failed (incident %s)", room.room_id, incident)
                if isinstance(event, RoomMessageText | ReactionEvent):
                    notice = (
                        f"Something went wrong on Tocsin's side (incident {incident}). Check the "
                        "case with !ua show, then try again."
                    )
                    self._reply(_place(room), error_message(notice), event)

        return run

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key != self.user_id or event.membership != "invite":
            return
        if room.room_id in self.client.rooms:
            return
        if not is_allowed(event.sender, self._allowed):
            log.warning("declined an invite to %s from %s", room.room_id, event.sender)
            await self.client.room_leave(room.room_id)
            return
        response = await self.client.join(room.room_id)
        if isinstance(response, JoinError):
            log.warning("could not join %s: %s", room.room_id, response.message)
            return
        self._joined_at[room.room_id] = int(time.time() * 1000)
        self._joined_this_batch.add(room.room_id)
        log.info("joined %s on the invitation of %s", room.room_id, event.sender)

    async def _on_member(self, room: MatrixRoom, event: RoomMemberEvent) -> None:
        if event.state_key == self.user_id:
            if event.membership == "join":
                self._joined_at[room.room_id] = event.server_timestamp
                self._joined_this_batch.add(room.room_id)
            return
        if event.membership in ("leave", "ban") and not self._is_history(room, event):
            await self._leave_if_no_ally(room)

    async def _on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if _is_edit(event) or not self._listens_to(room, event):
            return  # an edited message was handled (or not) as first sent
        place = _place(room)
        text = _without_reply_fallback(event.body)
        words = strip_prefix(text)
        conversation = (room.room_id, event.sender)
        addressed = words is not None or self._guided_active(conversation)
        if not addressed or not await self._from_trusted_device(room, event):
            return
        if words is None:
            await self._continue_guided(conversation, place, event, text)
            return
        verb = words.split(maxsplit=1)[0].lower() if words else ""
        answered_here = words.lower() == "new" or verb == "devices"
        if answered_here and await self._refused(event, place, words):
            return
        if words.lower() == "new":
            await self._start_guided(conversation, place, event)
        elif verb == "cancel" and (words.lower() == "cancel" or self._guided_active(conversation)):
            await self._continue_guided(conversation, place, event, "cancel")
        elif verb == "devices":
            asker = Asker(event.sender, self.devices.sending_device(event.sender, event.sender_key))
            reply = await self.devices.command(words, room=room, asker=asker)
            if _needed(words) is Role.ADMIN and not reply.is_error:
                await asyncio.to_thread(self._commands.audit, event.sender, place, words)
            self._reply(place, reply, event)
        else:
            await self._run(event.sender, place, words, event)

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        if not self._listens_to(room, event):
            return
        await self._request_key_from_sender(room, event)
        notice = (
            f"I could not decrypt a message from {event.sender}: its key did not reach Tocsin's "
            "device (is Tocsin blocked or unverified in your app?). I asked for the key; please "
            "send the message again."
        )
        await self._notice_if_bound(room, notice, event)

    async def _request_key_from_sender(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """Ask the sender's devices (not only our own, as nio would) for the missing room key."""
        request = {
            "action": "request",
            "body": {
                "algorithm": event.algorithm,
                "room_id": room.room_id,
                "sender_key": event.sender_key,
                "session_id": event.session_id,
            },
            "request_id": uuid.uuid4().hex,
            "requesting_device_id": self.device_id,
        }
        await self.client.to_device(
            ToDeviceMessage("m.room_key_request", event.sender, "*", request)
        )

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        if not self._listens_to(room, event) or event.key not in DONE_REACTIONS:
            return
        if not await self._from_trusted_device(room, event):
            return
        place = _place(room)
        key = await self._posted.key_of(place, event.reacts_to)
        # A reminder is remembered as `step:CODE:N EVENT_ID`, one key for each reminder posted.
        step = parse_step_key(key.split(" ")[0]) if key else None
        if step is not None:
            code, n = step
            # A reaction is no message to reply to: the answer goes to the room (or the card).
            await self._run(event.sender, place, f"done {code} {n}", None)

    def _listens_to(self, room: MatrixRoom, event: Any) -> bool:
        """Only commands from allow-listed members, never our own, each handled once."""
        if event.sender == self.user_id or self._skip_history or self._is_history(room, event):
            return False
        if event.sender not in room.users or not is_allowed(event.sender, self._allowed):
            log.info("ignored an event in %s from %s (not allowed)", room.room_id, event.sender)
            return False
        if event.event_id in self._seen:
            return False
        self._seen.append(event.event_id)
        return True

    async def _from_trusted_device(self, room: MatrixRoom, event: Any) -> bool:
        """In an encrypted room only what a trusted device encrypted counts: not a plaintext
        event (anyone running the homeserver could forge one), nor a blocked or unverified
        device. A refusal is said in the room, where the trusted members can read it."""
        if not room.encrypted:
            return True
        if not getattr(event, "decrypted", False):
            problem = "it was not encrypted"
        else:
            device = self.devices.sending_device(event.sender, event.sender_key)
            if device is None and self.client.should_query_keys:
                await self.client.keys_query()  # a device new since the last sync
                device = self.devices.sending_device(event.sender, event.sender_key)
            if device is not None and self.devices.is_trusted(event.sender, device):
                return True
            problem = f"it came from a device Tocsin does not trust ({device or 'unknown'})"
        log.info("ignored an event in %s from %s: %s", room.room_id, event.sender, problem)
        notice = f"I ignored a command from {event.sender}: {problem}. See !ua devices."
        await self._notice_if_bound(room, notice, None)
        return False

    def _is_history(self, room: MatrixRoom, event: Any) -> bool:
        """Whether the event was sent before Tocsin joined the room (what a join shows)."""
        return int(event.server_timestamp) < self._joined_at.get(room.room_id, 0)

    # Commands --------------------------------------------------------------------------------

    async def _notice_if_bound(self, room: MatrixRoom, text: str, event: Any | None) -> None:
        """Tell the room something went wrong, where Tocsin is bound (elsewhere it says only
        how to bind, and only when asked)."""
        place = _place(room)
        if await asyncio.to_thread(self._commands.is_bound, place):
            self._reply(place, error_message(text), event)

    async def _refused(self, event: RoomMessageText, place: Place, words: str) -> bool:
        """Whether a command this connector answers itself (a guided alert, devices) may not
        run here; the refusal is the reply."""
        request = _command(event.sender, place, words)
        refused = await asyncio.to_thread(self._commands.may_start, request, _needed(words))
        if refused is not None:
            self._reply(place, refused, event)
        return refused is not None

    async def _run(self, sender: str, place: Place, words: str, answering: Any | None) -> None:
        request = _command(sender, place, words)
        reply, earlier = await self._answer(place, lambda: self._commands.handle(request))
        self._reply(place, reply, answering, earlier)

    async def _answer(
        self, place: Place, work: Callable[[], Message]
    ) -> tuple[Message, Earlier | None]:
        """Run a command's `work` off the loop and, in the same thread, look up the event its
        answer builds on (its case's card), so posting it waits on no second look."""
        generation = self._poster.generation(place.address)

        def run() -> tuple[Message, Earlier | None]:
            reply = work()
            key = reply.replaces if reply.card and reply.replaces else reply.thread
            if key is None:
                return reply, None
            return reply, Earlier(key, self._posted.find_blocking(place, key), generation)

        return await asyncio.to_thread(run)

    def _guided_active(self, conversation: tuple[str, str]) -> bool:
        entry = self._guided.get(conversation)
        if entry is None:
            return False
        if time.monotonic() - entry[1] > GUIDED_EXPIRES_S:
            del self._guided[conversation]
            return False
        return True

    async def _start_guided(
        self, conversation: tuple[str, str], place: Place, event: RoomMessageText
    ) -> None:
        # Names are asked for only where the room will show them back.
        level = await asyncio.to_thread(self._commands.disclosure, place)
        step = guided.start(names_allowed=level is Disclosure.FULL)
        assert step.state is not None
        self._guided[conversation] = (step.state, time.monotonic())
        self._reply(place, _notice(step.say), event)

    async def _continue_guided(
        self, conversation: tuple[str, str], place: Place, event: RoomMessageText, text: str
    ) -> None:
        entry = self._guided.get(conversation)
        if entry is None:
            self._reply(place, _notice("Nothing to cancel."), event)
            return
        step = guided.answer(entry[0], text, self._commands.countries)
        if step.state is None:
            self._guided.pop(conversation, None)
        else:
            self._guided[conversation] = (step.state, time.monotonic())
        if step.alert is None:
            self._reply(place, _notice(step.say), event)
            return
        request = _command(event.sender, place, "new")
        alert = step.alert
        reply, earlier = await self._answer(place, lambda: self._commands.new_alert(alert, request))
        self._reply(place, reply, event, earlier)

    def _reply(
        self, place: Place, message: Message, event: Any | None, earlier: Earlier | None = None
    ) -> None:
        """Answer an event: in its thread when it was written in one, else as a reply."""
        if event is None:
            self._poster.queue.put_nowait(Queued(place, message, earlier=earlier))
            return
        relation = event.source.get("content", {}).get("m.relates_to") or {}
        root = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
        self._poster.queue.put_nowait(Queued(place, message, event.event_id, root, earlier))


def _command(sender: str, place: Place, words: str) -> Command:
    """What a member wrote in a room, as a platform-neutral command."""
    return Command(actor=sender, place=place, text=words, people=MATRIX_PEOPLE)


def _needed(words: str) -> Role:
    """The role the commands this connector answers itself need: trusting or blocking a device
    is an admin's, listing devices anyone's, a guided alert a responder's."""
    verb, *rest = words.lower().split()
    if verb == "devices":
        return Role.ADMIN if rest else Role.OBSERVER
    return Role.RESPONDER


def _is_edit(event: RoomMessageText) -> bool:
    relation = event.source.get("content", {}).get("m.relates_to") or {}
    return bool(relation.get("rel_type") == "m.replace")


def _without_reply_fallback(body: str) -> str:
    """A reply's own text, without the `> quoted` lines older clients put before it."""
    lines = body.splitlines()
    if not lines or not lines[0].startswith("> "):
        return body
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def _place(room: MatrixRoom) -> Place:
    return Place("matrix", room.room_id, encrypted=bool(room.encrypted))


def _notice(text: str) -> Message:
    return Message(fallback=text, blocks=(Paragraph(text),))
