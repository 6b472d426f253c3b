"""Matrix through matrix-nio: `!ua` in encrypted and plain rooms, replies and reminders out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    ForwardedRoomKeyEvent,
    InviteMemberEvent,
    JoinError,
    KeyVerificationEvent,
    MatrixRoom,
    MegolmEvent,
    ReactionEvent,
    RoomKeyEvent,
    RoomMemberEvent,
    RoomMessageText,
    RoomMessageUnknown,
    SyncError,
    SyncResponse,
    ToDeviceMessage,
    UnknownEvent,
    UnknownToDeviceEvent,
)

from bot.connectors.contract import ConnectorKit, DeliveryFailed
from bot.connectors.matrix import credentials, cross_signing
from bot.connectors.matrix.api import HomeserverError
from bot.connectors.matrix.bootstrap import (
    NeedsPassword,
    Outcome,
    bootstrap,
    write_recovery_key,
)
from bot.connectors.matrix.devices import Asker, DeviceRegistry, fingerprint
from bot.connectors.matrix.late_keys import WAIT_FOR_KEY_S, AwaitingKeys
from bot.connectors.matrix.login import log_in, secure_store
from bot.connectors.matrix.people import MATRIX_PEOPLE
from bot.connectors.matrix.policy import is_allowed
from bot.connectors.matrix.posting import Earlier, PostingError, Queued, RateLimited, RoomPoster
from bot.connectors.matrix.secret_storage import RecoveryKeyError
from bot.connectors.matrix.store_key import pickle_key
from bot.connectors.matrix.verifying import Verifications
from bot.domain import guided
from bot.domain.access import Role
from bot.domain.case import Disclosure
from bot.domain.commands.request import Command, Origin
from bot.domain.commands.words import strip_prefix
from bot.domain.messages import Message, Note, Paragraph, error_message
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
REQUEST_TYPE = "m.key.verification.request"
# A command from a plain (unencrypted) room: no device to name.
PLAIN_ROOM = Origin("", "unencrypted room")
UNENCRYPTED_REACTION = Origin("unknown", "unencrypted reaction")
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
        self._sealer = kit.sealer
        self._store = settings.matrix_store_path
        self._allowed = tuple(settings.matrix_allowed_inviters)
        secure_store(self._store)
        config = AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=False,
            max_timeout_retry_wait_time=max_retry_wait_s,
            request_timeout=SYNC_TIMEOUT_MS / 1000 + 30,
            pickle_key=pickle_key(self._store, kit.sealer),
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
        self.devices.on_identity_changed = self._identity_changed
        self.verifications = Verifications(
            self.client, self.devices, self._store, self._announce_verification
        )
        self._posted = kit.ledger
        self.synced_at = float("-inf")
        self._poster = RoomPoster(
            self.client, self.devices, kit.ledger, max_pause_s=max_retry_wait_s
        )
        self._guided: dict[tuple[str, str], tuple[guided.GuidedAlert, float]] = {}
        self._joined_at: dict[str, int] = {}
        self._seen: deque[str] = deque(maxlen=SEEN_EVENTS)
        self._awaiting_keys = AwaitingKeys()
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
            asyncio.create_task(self.verifications.watch_answers(), name="matrix-verify"),
        ]
        log.info("Matrix connected as %s (device %s)", self.user_id, self.device_id)

    async def _catch_up(self) -> None:
        # Tocsin answers verification itself (request/ready, in rooms too): nio's own handler
        # knows only the old start-first flow and would cancel what Element sends.
        self.client.olm.handle_key_verification = lambda event: None
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        await self._cross_sign()
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

    async def _cross_sign(self) -> None:
        """Sign Tocsin's device with the account's identity, creating it on a first start.
        Failing this is not fatal (clients that allow unsigned devices still work), but the log
        says what to do: Element's "exclude insecure devices" sends an unsigned bot nothing."""
        settings = self._settings
        password = settings.matrix_password.get_secret_value() if settings.matrix_password else None
        recovery = settings.matrix_recovery_key
        try:
            done = await bootstrap(
                self.client,
                self._store,
                self._sealer,
                password=password,
                recovery_key=recovery.get_secret_value() if recovery else None,
            )
        except NeedsPassword:
            log.warning(
                "Matrix: Tocsin's device is not cross-signed: the homeserver wants the account's "
                "password to publish its identity. Run `tocsin matrix bootstrap` once."
            )
            return
        except (RecoveryKeyError, HomeserverError) as error:
            log.warning("Matrix: Tocsin's device is not cross-signed: %s", error)
            return
        held = cross_signing.load(self._store, self._sealer)
        if held is not None and held.master.public == done.master_key:
            self.verifications.master_key = held.master.public
            self.verifications.user_signing = held.user_signing
        if done.outcome is Outcome.CREATED and done.recovery_key:
            path = write_recovery_key(self._store, done.recovery_key)
            log.warning(
                "Matrix: created Tocsin's cross-signing identity. Its recovery key is in %s: "
                "move it to your password manager and delete the file.",
                path,
            )
        elif done.outcome is Outcome.NOT_HELD:
            log.warning(
                "Matrix: the account %s has a cross-signing identity whose keys this store does "
                "not hold: set MATRIX_RECOVERY_KEY (or run `tocsin matrix bootstrap "
                "--recovery-key`) so Tocsin's device can sign itself",
                self.user_id,
            )

    async def stop(self) -> None:
        """Finish the batch of events in hand, post what is queued (a few seconds at most), close.

        A batch is never cut short: its sync position would not be saved and the next start
        would answer its commands again."""
        if self._tasks:
            sync_task, delivery_task, verify_task = self._tasks
            verify_task.cancel()
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
        self.client.add_to_device_callback(self._on_room_key, (RoomKeyEvent, ForwardedRoomKeyEvent))
        self.client.add_to_device_callback(
            self._on_other_to_device, (KeyVerificationEvent, UnknownToDeviceEvent)
        )
        for event_type in (RoomMessageUnknown, UnknownEvent):
            self.client.add_event_callback(self._guarded(self._on_verification), event_type)

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
        await self.devices.query_keys()
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
                if not room.members_synced and room.room_id in self.client.rooms:
                    # A room first seen after a restart comes without its members: who may
                    # give commands is decided on the full list, never on a partial one.
                    await self.client.joined_members(room.room_id)
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
        if not addressed:
            return
        origin = await self._trusted_origin(room, event)
        if origin is None:
            return
        if words is None:
            await self._continue_guided(conversation, place, event, text, origin)
            return
        verb = words.split(maxsplit=1)[0].lower() if words else ""
        answered_here = words.lower() == "new" or verb == "devices"
        if answered_here and await self._refused(event, place, words):
            return
        if words.lower() == "new":
            await self._start_guided(conversation, place, event)
        elif verb == "cancel" and (words.lower() == "cancel" or self._guided_active(conversation)):
            await self._continue_guided(conversation, place, event, "cancel", origin)
        elif verb == "verify":
            self._reply(place, await self._verify_command(words, event, place, origin), event)
        elif verb == "devices":
            asker = Asker(event.sender, self.devices.sending_device(event.sender, event.sender_key))
            reply = await self.devices.command(words, room=room, asker=asker)
            if _needed(words) is Role.ADMIN and not reply.is_error:
                await asyncio.to_thread(self._commands.audit, event.sender, place, words)
            self._reply(place, reply, event)
        else:
            await self._run(event.sender, place, words, event, origin)

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        if not self._listens_to(room, event):
            return
        self._awaiting_keys.hold(room.room_id, event, time.monotonic())
        await self._request_key_from_sender(room, event)
        notice = (
            f"I could not decrypt a message from {event.sender} yet: its key has not reached "
            f"Tocsin's device. I asked for it, and will act on the message if the key comes "
            f"within {WAIT_FOR_KEY_S // 60} minutes. If nothing happens, check that Tocsin is "
            "not blocked or unverified in your app, then send the message again."
        )
        await self._notice_if_bound(room, notice, event)

    async def _on_room_key(self, event: RoomKeyEvent) -> None:
        """A key came: handle, once, the commands that waited for it."""
        for held in self._awaiting_keys.take(event.session_id, time.monotonic()):
            room = self.client.rooms.get(held.room_id)
            if room is None:
                continue
            try:
                decrypted = self.client.decrypt_event(held.event)
            except EncryptionError:
                continue
            with contextlib.suppress(ValueError):
                self._seen.remove(held.event.event_id)  # seen undecryptable, not yet handled
            if isinstance(decrypted, RoomMessageText):
                await self._guarded(self._on_text)(room, decrypted)
            elif isinstance(decrypted, ReactionEvent):
                await self._guarded(self._on_reaction)(room, decrypted)

    async def _on_other_to_device(self, event: Any) -> None:
        """Verification events, and withheld keys."""
        event_type = str(event.source.get("type", ""))
        content = event.source.get("content", {})
        if event_type.startswith("m.key.verification.") and isinstance(content, dict):
            try:
                await self.verifications.to_device(event_type, event.sender, content)
            except Exception:
                log.exception("a verification event from %s failed", event.sender)
        elif event_type in ("m.room_key.withheld", "org.matrix.room_key.withheld"):
            await self._on_withheld(event)

    async def _on_verification(self, room: MatrixRoom, event: Any) -> None:
        """In-room verification: the request (an m.room.message) and what follows it."""
        source = event.source
        event_type = str(source.get("type", ""))
        content = source.get("content", {})
        is_request = event_type == "m.room.message" and content.get("msgtype") == REQUEST_TYPE
        if not (is_request or event_type.startswith("m.key.verification.")):
            return
        if not self._listens_to(room, event):
            return
        await self.verifications.in_room(room, event_type, event.event_id, event.sender, source)

    async def _verify_command(
        self, words: str, event: RoomMessageText, place: Place, origin: Origin
    ) -> Message:
        """`!ua verify` (what waits), `!ua verify confirm|reject @user`: a word on the emoji,
        from a trusted device in an encrypted room, by an admin or by the member themself
        from another device than the one being verified."""
        args = words.split()[1:]
        pending = {user: device for user, device, _ in self.verifications.pending()}
        if not args:
            if not pending:
                return _notice(
                    "No verification waits for a word. To verify Tocsin from Element: open "
                    "Tocsin's profile → Verify, then compare the emoji Tocsin posts here."
                )
            return _notice("Waiting for a word on the emoji of: " + ", ".join(sorted(pending)))
        if len(args) != 2 or args[0].lower() not in ("confirm", "reject"):
            return error_message("Usage: !ua verify | !ua verify confirm|reject @user:example.org")
        user_id = args[1]
        if origin is PLAIN_ROOM:
            return error_message("Emoji are confirmed only in an end-to-end-encrypted room.")
        if user_id not in pending:
            return error_message(f"No verification with {user_id} waits for a word.")
        if user_id == event.sender:
            if origin.device == pending[user_id]:
                return error_message(
                    "A device cannot confirm its own verification: confirm from another of "
                    "your devices, or ask an admin."
                )
        else:
            request = _command(event.sender, place, words, origin)
            refused = await asyncio.to_thread(self._commands.may_start, request, Role.ADMIN)
            if refused is not None:
                return refused
        matches = args[0].lower() == "confirm"
        await self.verifications.answer(user_id, matches)
        said = "confirmed" if matches else "rejected"
        text = f"The emoji for {user_id} are {said} by {event.sender}."
        return Message(fallback=text, blocks=(Paragraph(text),), public=True)

    async def _announce_verification(self, room_id: str | None, text: str) -> None:
        """Say in the verification's room what to compare and how to answer (to-device
        verifications have no room: the log says it, and `tocsin matrix verify` shows it)."""
        room = self.client.rooms.get(room_id) if room_id else None
        if room is None:
            log.warning("Matrix: %s", text)
            return
        self._poster.queue.put_nowait(Queued(_place(room), _notice(text)))

    async def _on_withheld(self, event: UnknownToDeviceEvent) -> None:
        """A sender's app refused Tocsin the key (`m.room_key.withheld`): say why, once."""
        content = event.source.get("content", {})
        session_id = content.get("session_id")
        if not isinstance(session_id, str):
            return
        for held in self._awaiting_keys.take(session_id, time.monotonic()):
            room = self.client.rooms.get(held.room_id)
            if room is None:
                continue
            why = content.get("reason") or content.get("code") or "no reason given"
            notice = (
                f"{held.event.sender}'s app will not give Tocsin the key to their message ({why}). "
                "In the app, verify Tocsin (its profile → Verify) or stop excluding it, then "
                "send the message again."
            )
            await self._notice_if_bound(room, notice, held.event)

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
        origin = await self._reaction_origin(room, event)
        if origin is None:
            return
        place = _place(room)
        key = await self._posted.key_of(place, event.reacts_to)
        # A reminder is remembered as `step:CODE:N EVENT_ID`, one key for each reminder posted.
        step = parse_step_key(key.split(" ")[0]) if key else None
        if step is not None:
            code, n = step
            # A reaction is no message to reply to: the answer goes to the room (or the card).
            await self._run(event.sender, place, f"done {code} {n}", None, origin)

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

    async def _trusted_origin(self, room: MatrixRoom, event: Any) -> Origin | None:
        """The device a command came from, when it counts; None when it does not. In an
        encrypted room only what a trusted device encrypted counts: not a plaintext event
        (anyone running the homeserver could forge one), nor a device its owner never signed,
        nor a blocked one. A refusal is said in the room, where the trusted members read it."""
        if not room.encrypted:
            return PLAIN_ROOM
        if not getattr(event, "decrypted", False):
            problem = "it was not encrypted"
        else:
            # Devices and identity as the homeserver has them now (a device new since the
            # sync, an identity not looked up since a restart); cached when nothing changed.
            await self.devices.query_keys([event.sender])
            device = self.devices.sending_device(event.sender, event.sender_key)
            verdict = self.devices.verdict_on(event.sender, device) if device else None
            if device and verdict and verdict.kind:
                return Origin(device, verdict.kind.value)
            reason = f": {verdict.reason}" if verdict and verdict.reason else ""
            problem = f"it came from a device Tocsin does not trust ({device or 'unknown'}{reason})"
        log.info("ignored an event in %s from %s: %s", room.room_id, event.sender, problem)
        notice = f"I ignored a command from {event.sender}: {problem}. See !ua devices."
        await self._notice_if_bound(room, notice, None)
        return None

    async def _reaction_origin(self, room: MatrixRoom, event: ReactionEvent) -> Origin | None:
        """Element sends reactions unencrypted even in encrypted rooms, so a ✅ there cannot
        prove its device. It counts only from a member with a trusted device in the room, and
        is recorded as an unencrypted reaction: the answer says so where the team reads it,
        and `ua log` keeps it apart from encrypted commands."""
        if not room.encrypted or getattr(event, "decrypted", False):
            return await self._trusted_origin(room, event)
        await self.devices.query_keys([event.sender])
        devices = self.client.device_store.active_user_devices(event.sender)
        if any(self.devices.is_trusted(event.sender, device.id) for device in devices):
            return UNENCRYPTED_REACTION
        notice = (
            f"I ignored a ✅ from {event.sender}: none of their devices is trusted here. "
            "See !ua devices."
        )
        await self._notice_if_bound(room, notice, None)
        return None

    def _identity_changed(self, room_id: str, user_id: str, master: str) -> None:
        """Tell the room, once, that a member's identity changed and their keys are withheld."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return
        text = (
            f"⚠ {user_id}'s Matrix identity changed (new master key {fingerprint(master)}). "
            "Until an admin checks with them, by phone or in person, that they reset it, Tocsin "
            "sends their devices no keys and obeys none of them. Then: "
            f"!ua devices accept {user_id}"
        )
        self._poster.queue.put_nowait(Queued(_place(room), error_message(text)))

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
        request = _command(event.sender, place, words, None)
        refused = await asyncio.to_thread(self._commands.may_start, request, _needed(words))
        if refused is not None:
            self._reply(place, refused, event)
        return refused is not None

    async def _run(
        self, sender: str, place: Place, words: str, answering: Any | None, origin: Origin
    ) -> None:
        request = _command(sender, place, words, origin)
        reply, earlier = await self._answer(place, lambda: self._commands.handle(request))
        if origin is UNENCRYPTED_REACTION and not reply.is_error:
            reply = _with_reaction_warning(reply, sender)
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
        self,
        conversation: tuple[str, str],
        place: Place,
        event: RoomMessageText,
        text: str,
        origin: Origin,
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
        request = _command(event.sender, place, "new", origin)
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


def _command(sender: str, place: Place, words: str, origin: Origin | None) -> Command:
    """What a member wrote in a room, as a platform-neutral command (with its device)."""
    device = origin if origin is not None and origin is not PLAIN_ROOM else None
    return Command(actor=sender, place=place, text=words, people=MATRIX_PEOPLE, origin=device)


def _with_reaction_warning(reply: Message, sender: str) -> Message:
    """The answer to a ✅, saying it was taken from an unencrypted reaction."""
    warning = Note(
        f"Taken from {sender}'s ✅ reaction. Reactions are not encrypted, so Tocsin cannot tell "
        "which device sent it; if it was not them, say so here and check !ua log."
    )
    return replace(reply, blocks=(*reply.blocks, warning))


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
