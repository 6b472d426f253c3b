"""Matrix through matrix-nio: `!ua` in encrypted and plain rooms, replies and reminders out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    LoginError,
    MatrixRoom,
    MegolmEvent,
    ReactionEvent,
    RoomMemberEvent,
    RoomMessageText,
    RoomSendError,
    SyncError,
    WhoamiError,
)

from bot.connectors.matrix import credentials, render
from bot.connectors.matrix.devices import DeviceRegistry
from bot.connectors.matrix.policy import is_allowed
from bot.domain import guided
from bot.domain.case import Place
from bot.domain.commands import strip_prefix
from bot.domain.messages import Message, Paragraph, error_message
from bot.domain.reminders import parse_step_key
from bot.errors import StartupError
from bot.store.posted import find_posted, find_posted_key, remember_posted
from config.settings import Settings
from handlers.context import Services
from handlers.dispatch import Command, handle, handle_new_alert

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
LOGIN_TIMEOUT_S = 30.0
DEVICE_NAME = "Tocsin"
DONE_REACTIONS = frozenset({"✅", "✅️", "✔️", "✔", "☑️"})
GUIDED_EXPIRES_S = 30 * 60
SEEN_EVENTS = 2_000


@dataclass(frozen=True, slots=True)
class Queued:
    """A message waiting to be posted, in order, by the one delivery task."""

    place: Place
    message: Message
    reply_to: str | None = None


class MatrixConnector:
    """One Matrix account: answers `!ua` in the rooms it was invited to, posts Tocsin's messages."""

    def __init__(
        self, settings: Settings, services: Services, *, max_retry_wait_s: float = 30.0
    ) -> None:
        assert settings.matrix_homeserver and settings.matrix_user_id
        self._settings = settings
        self._services = services
        self._store = settings.matrix_store_path
        self._allowed = tuple(settings.matrix_allowed_inviters)
        config = AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=False,
            max_timeout_retry_wait_time=max_retry_wait_s,
            request_timeout=SYNC_TIMEOUT_MS / 1000 + 30,
        )
        self._store.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.client = AsyncClient(
            settings.matrix_homeserver,
            settings.matrix_user_id,
            store_path=str(self._store),
            config=config,
        )
        self.devices = DeviceRegistry(
            self.client, self._store, self._allowed, settings.matrix_require_verification
        )
        self._outbox: asyncio.Queue[Queued] = asyncio.Queue()
        self._guided: dict[tuple[str, str], tuple[guided.GuidedAlert, float]] = {}
        self._joined_at: dict[str, int] = {}
        self._asked_keys: set[str] = set()
        self._seen: deque[str] = deque(maxlen=SEEN_EVENTS)
        self._skip_history = False
        self._tasks: list[asyncio.Task[None]] = []
        self.synced = asyncio.Event()

    @property
    def user_id(self) -> str:
        """The bot's own Matrix user ID."""
        return str(self.client.user_id)

    @property
    def device_id(self) -> str:
        """The bot's one device: the same across restarts."""
        return str(self.client.device_id)

    async def start(self) -> None:
        """Log in (or restore the saved device), catch up, then sync and deliver in the background.

        Raises StartupError, saying what to fix, when the homeserver refuses or cannot be reached.
        """
        try:
            await self._log_in()
        except StartupError:
            await self.client.close()
            raise
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self._register_callbacks()
        token = credentials.load_sync_token(self._store)
        # A store without a sync position has never handled anything: what the first sync
        # returns is history, and commands in it were meant for no one now listening.
        self._skip_history = token is None
        self.client.next_batch = token or ""
        await self._sync_once(full_state=True)
        self._skip_history = False
        self._tasks = [
            asyncio.create_task(self._sync_forever(), name="matrix-sync"),
            asyncio.create_task(self._deliver_forever(), name="matrix-delivery"),
        ]
        log.info("Matrix connected as %s (device %s)", self.user_id, self.device_id)

    async def stop(self) -> None:
        """Stop syncing, post what is still queued (for a few seconds at most), and close."""
        if self._tasks:
            self._tasks[0].cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), timeout=5)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        await self.client.close()

    async def send(self, place: Place, message: Message) -> None:
        """Queue a message for a room; the delivery task posts it, in order, once reachable."""
        self._outbox.put_nowait(Queued(place, message))

    async def idle(self) -> None:
        """Wait until everything queued has been posted (for tests and an orderly stop)."""
        await self._outbox.join()

    # Login -----------------------------------------------------------------------------------

    async def _check_reachable(self) -> None:
        url = f"{self._settings.matrix_homeserver}/_matrix/client/versions"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=LOGIN_TIMEOUT_S)) as http,
                http.get(url) as response,
            ):
                reachable = response.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError):
            reachable = False
        if not reachable:
            raise StartupError(
                f"no Matrix homeserver answers at {self._settings.matrix_homeserver}: check "
                "MATRIX_HOMESERVER (https://matrix.example.org) and the network"
            )

    async def _log_in(self) -> None:
        await self._check_reachable()
        settings = self._settings
        assert settings.matrix_user_id is not None
        if settings.matrix_access_token is not None:
            assert settings.matrix_device_id is not None
            self.client.restore_login(
                settings.matrix_user_id,
                settings.matrix_device_id,
                settings.matrix_access_token.get_secret_value(),
            )
            await self._check_token("MATRIX_ACCESS_TOKEN")
            return
        saved = credentials.load(self._store, settings.matrix_user_id)
        if saved is not None:
            self.client.restore_login(saved.user_id, saved.device_id, saved.access_token)
            if await self._token_valid():
                return
            log.warning("the saved Matrix login was revoked: logging in again as a new device")
        await self._password_login()

    async def _password_login(self) -> None:
        assert self._settings.matrix_password is not None
        password = self._settings.matrix_password.get_secret_value()
        response = await self._within_timeout(self.client.login(password, device_name=DEVICE_NAME))
        if isinstance(response, LoginError):
            raise StartupError(
                f"the Matrix homeserver refused the login of {self._settings.matrix_user_id} "
                f"({response.status_code}: {response.message}): check MATRIX_USER_ID and "
                "MATRIX_PASSWORD"
            )
        credentials.save(
            self._store,
            credentials.Credentials(
                user_id=self.user_id,
                device_id=self.device_id,
                access_token=str(self.client.access_token),
            ),
        )

    async def _check_token(self, variable: str) -> None:
        if not await self._token_valid():
            raise StartupError(
                f"the Matrix homeserver refused {variable}: log in again and set a fresh token, "
                "or use MATRIX_PASSWORD"
            )

    async def _token_valid(self) -> bool:
        response = await self._within_timeout(self.client.whoami())
        return not isinstance(response, WhoamiError)

    async def _within_timeout(self, call: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(call, timeout=LOGIN_TIMEOUT_S)
        except TimeoutError:
            raise StartupError(
                f"the Matrix homeserver at {self._settings.matrix_homeserver} cannot be reached: "
                "check MATRIX_HOMESERVER and the network"
            ) from None

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
            self.client.add_event_callback(_guarded(callback), event_type)

    async def _sync_forever(self) -> None:
        """Sync until cancelled; nio retries an unreachable homeserver with growing pauses."""
        pause = 1.0
        while True:
            try:
                await self._sync_once(full_state=False)
                pause = 1.0
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Matrix sync failed; trying again in %.0f s", pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)

    async def _sync_once(self, *, full_state: bool) -> None:
        timeout = 0 if full_state else SYNC_TIMEOUT_MS
        response = await self.client.sync(timeout=timeout, full_state=full_state or None)
        if isinstance(response, SyncError):
            raise RuntimeError(f"sync refused: {response.status_code} {response.message}")
        await self._exchange_keys()
        # Saved only now that every event of the batch was handled: a crash replays at most
        # this batch, never skips it.
        credentials.save_sync_token(self._store, response.next_batch)
        self.synced.set()
        self.synced.clear()

    async def _exchange_keys(self) -> None:
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    # Events ----------------------------------------------------------------------------------

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key != self.user_id or event.membership != "invite":
            return
        if not is_allowed(event.sender, self._allowed):
            log.warning(
                "declined an invite to %s from %s (not allowed)", room.room_id, event.sender
            )
            await self.client.room_leave(room.room_id)
            return
        response = await self.client.join(room.room_id)
        if isinstance(response, JoinError):
            log.warning("could not join %s: %s", room.room_id, response.message)
            return
        self._joined_at[room.room_id] = int(time.time() * 1000)
        log.info("joined %s on the invitation of %s", room.room_id, event.sender)

    async def _on_member(self, room: MatrixRoom, event: RoomMemberEvent) -> None:
        if event.state_key == self.user_id:
            if event.membership == "join":
                self._joined_at[room.room_id] = event.server_timestamp
            return
        if event.membership not in ("leave", "ban") or self._is_history(room, event):
            return
        if not any(is_allowed(user, self._allowed) for user in room.users if user != self.user_id):
            log.warning("leaving %s: no allowed member remains", room.room_id)
            await self.client.room_leave(room.room_id)

    async def _on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if not self._listens_to(room, event):
            return
        if _is_edit(event):
            return  # an edited message was handled (or not) as first sent
        place = _place(room)
        words = strip_prefix(_without_reply_fallback(event.body))
        conversation = (room.room_id, event.sender)
        if words is None:
            if self._guided_active(conversation):
                await self._continue_guided(conversation, place, event)
            return
        verb = words.split(maxsplit=1)[0].lower() if words else ""
        if words.lower() == "new":
            await self._start_guided(conversation, place, event)
        elif words.lower() == "cancel" or (self._guided_active(conversation) and verb == "cancel"):
            await self._continue_guided(conversation, place, event, text="cancel")
        elif verb == "devices":
            reply = await self.devices.command(words, room=room, actor=event.sender)
            self._reply(place, reply, event.event_id)
        else:
            await self._run(event.sender, place, words, event.event_id)

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        if not self._listens_to(room, event) or event.session_id in self._asked_keys:
            return
        self._asked_keys.add(event.session_id)
        with contextlib.suppress(LocalProtocolError):  # already asked for this session
            await self.client.request_room_key(event)
        notice = (
            f"I could not decrypt a message from {event.sender}: its key has not reached my "
            "device yet. I asked for it; if I do not answer within a minute, send it again."
        )
        self._reply(_place(room), error_message(notice), event.event_id)

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        if not self._listens_to(room, event) or event.key not in DONE_REACTIONS:
            return
        place = _place(room)
        about = await asyncio.to_thread(self._posted_key, place, event.reacts_to)
        step = parse_step_key(about) if about else None
        if step is not None:
            code, n = step
            await self._run(event.sender, place, f"done {code} {n}", event.event_id)

    def _listens_to(self, room: MatrixRoom, event: Any) -> bool:
        """Only commands from allow-listed members, never our own, each handled once."""
        if event.sender == self.user_id or self._skip_history or self._is_history(room, event):
            return False
        if event.sender not in room.users or not is_allowed(event.sender, self._allowed):
            log.info(
                "ignored an event in %s from %s (not an allowed member)", room.room_id, event.sender
            )
            return False
        if event.event_id in self._seen:
            return False
        self._seen.append(event.event_id)
        return True

    def _is_history(self, room: MatrixRoom, event: Any) -> bool:
        """Whether the event was sent before Tocsin joined the room (what a join shows)."""
        return int(event.server_timestamp) < self._joined_at.get(room.room_id, 0)

    # Commands --------------------------------------------------------------------------------

    async def _run(self, sender: str, place: Place, words: str, event_id: str) -> None:
        request = Command(actor=sender, place=place, text=words)
        reply = await asyncio.to_thread(handle, request, self._services)
        self._reply(place, reply, event_id)

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
        step = guided.start()
        assert step.state is not None
        self._guided[conversation] = (step.state, time.monotonic())
        self._reply(place, _notice(step.say), event.event_id)

    async def _continue_guided(
        self,
        conversation: tuple[str, str],
        place: Place,
        event: RoomMessageText,
        text: str | None = None,
    ) -> None:
        entry = self._guided.pop(conversation, None)
        if entry is None:
            self._reply(place, _notice("Nothing to cancel."), event.event_id)
            return
        countries = self._services.world.countries
        step = guided.answer(entry[0], event.body if text is None else text, countries)
        if step.state is not None:
            self._guided[conversation] = (step.state, time.monotonic())
        if step.alert is None:
            self._reply(place, _notice(step.say), event.event_id)
            return
        request = Command(actor=event.sender, place=place, text="new")
        reply = await asyncio.to_thread(handle_new_alert, step.alert, request, self._services)
        self._reply(place, reply, event.event_id)

    # Delivery --------------------------------------------------------------------------------

    def _reply(self, place: Place, message: Message, event_id: str) -> None:
        self._outbox.put_nowait(Queued(place, message, reply_to=event_id))

    async def _deliver_forever(self) -> None:
        while True:
            item = await self._outbox.get()
            try:
                await self._post(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Logged without the text: it may name a defender.
                log.exception("a message for %s could not be posted", item.place)
            finally:
                self._outbox.task_done()

    async def _post(self, item: Queued) -> None:
        place, message = item.place, item.message
        if place.address not in self.client.rooms:
            log.warning("not a member of %s: a message for it was not posted", place)
            return
        if message.card and message.replaces:
            await self._refresh_card(place, message)
            return
        content = render.content(message)
        if message.thread:
            root = await asyncio.to_thread(self._posted, place, message.thread)
            if root is not None:
                content = render.in_thread(root, content)
        elif item.reply_to is not None:
            content = render.in_reply_to(item.reply_to, content)
        event_id = await self._room_send(place.address, content)
        if message.about:
            await asyncio.to_thread(self._remember, place, f"{message.about} {event_id}", event_id)

    async def _refresh_card(self, place: Place, message: Message) -> None:
        """Post the case card once, then edit it in place and say what changed in its thread."""
        assert message.replaces is not None
        card = render.content(message, blocks=message.card)
        original = await asyncio.to_thread(self._posted, place, message.replaces)
        if original is None:
            event_id = await self._room_send(place.address, card)
            await asyncio.to_thread(self._remember, place, message.replaces, event_id)
            return
        await self._room_send(place.address, render.edit(original, card))
        await self._room_send(place.address, render.in_thread(original, render.content(message)))

    async def _room_send(self, room_id: str, content: dict[str, Any]) -> str:
        room = self.client.rooms[room_id]
        if room.encrypted:
            await self.devices.prepare(room)
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=False
        )
        if isinstance(response, RoomSendError):
            raise RuntimeError(f"the homeserver refused a message: {response.status_code}")
        return str(response.event_id)

    def _posted(self, place: Place, key: str) -> str | None:
        with self._services.transaction() as session:
            return find_posted(session=session, place=place, key=key)

    def _posted_key(self, place: Place, event_id: str) -> str | None:
        with self._services.transaction() as session:
            key = find_posted_key(session=session, place=place, message_id=event_id)
            return key.split(" ")[0] if key else None

    def _remember(self, place: Place, key: str, message_id: str) -> None:
        with self._services.transaction() as session:
            remember_posted(session=session, place=place, key=key, message_id=message_id)


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


def _guarded(
    callback: Callable[[MatrixRoom, Any], Awaitable[None]],
) -> Callable[[MatrixRoom, Any], Awaitable[None]]:
    """A callback that logs its failure instead of aborting the sync batch it runs in."""

    async def run(room: MatrixRoom, event: Any) -> None:
        try:
            await callback(room, event)
        except Exception:
            log.exception("handling a Matrix event in %s failed", room.room_id)

    return run
