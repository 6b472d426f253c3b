"""A responder's own Matrix client (matrix-nio with encryption), as the tests' other party."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    Event,
    MatrixRoom,
    MegolmEvent,
    RoomCreateError,
    RoomSendError,
    RoomSendResponse,
    SyncResponse,
)

from tests.synapse_server import SynapseServer

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@dataclass(frozen=True)
class Seen:
    """An event the responder's client received (decrypted when it could be)."""

    room_id: str
    event: Event

    @property
    def content(self) -> dict[str, Any]:
        """The event's content as sent (decrypted, relations included)."""
        return dict(self.event.source.get("content", {}))

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def relation(self) -> dict[str, Any]:
        return dict(self.content.get("m.relates_to") or {})


class Responder:
    """One person with one encrypted device: creates rooms, talks, reads Tocsin's answers.

    Each sync asks for the rooms' full state unless `full_state_always` is False: then only the
    first does, and later ones get what changed, as an app does (cheaper, for the benches)."""

    def __init__(
        self,
        server: SynapseServer,
        localpart: str,
        folder: Path,
        *,
        register: bool = True,
        full_state_always: bool = True,
    ) -> None:
        self.server = server
        self.full_state_always = full_state_always
        self._synced = False
        self.password = f"pw-{localpart}"
        self.user_id = (
            server.register(localpart, self.password) if register else server.user_id(localpart)
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            server.url,
            self.user_id,
            store_path=str(folder),
            config=AsyncClientConfig(encryption_enabled=True, max_timeout_retry_wait_time=1),
        )
        self.seen: list[Seen] = []
        self.to_device: list[Any] = []
        self.client.add_event_callback(self._collect, Event)

    async def _collect(self, room: MatrixRoom, event: Event) -> None:
        self.seen.append(Seen(room.room_id, event))

    async def log_in(self) -> None:
        await self.client.login(self.password, device_name="responder phone")
        await self.sync()

    async def close(self) -> None:
        await self.client.close()

    async def sync(self, timeout_ms: int = 0) -> None:
        """One sync, then the key traffic nio's sync_forever would do."""
        full_state = self.full_state_always or not self._synced
        response = await self.client.sync(timeout=timeout_ms, full_state=full_state)
        if isinstance(response, SyncResponse):
            self._synced = True
            # nio drops other people's key requests before any callback: read them here.
            self.to_device.extend(response.to_device_events)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()

    async def create_room(self, *, invite: list[str], encrypted: bool = True) -> str:
        response = await self.client.room_create(
            name="Rapid response (fictional)",
            invite=invite,
            initial_state=[ENCRYPTION] if encrypted else [],
        )
        assert not isinstance(response, RoomCreateError), response
        await self.sync()
        return str(response.room_id)

    async def say(self, room_id: str, text: str, *, thread: str | None = None) -> str:
        """Send a message (encrypted in an encrypted room, to every device), in a thread when
        given its root; its event ID."""
        await self.sync()
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if thread is not None:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread}
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert not isinstance(response, RoomSendError), response
        return str(response.event_id)

    async def react(
        self, room_id: str, event_id: str, key: str, *, encrypted: bool = False
    ) -> None:
        """React to an event; `encrypted` as Element does in encrypted rooms (nio never does)."""
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        if not encrypted:
            response = await self.client.room_send(room_id, "m.reaction", content)
            assert not isinstance(response, RoomSendError), response
            return
        await self._send_as_is(room_id, *self.client.encrypt(room_id, "m.reaction", content))

    async def say_in_plaintext(self, room_id: str, text: str) -> None:
        """Send an unencrypted message even in an encrypted room (what a forger would do)."""
        await self._send_as_is(room_id, "m.room.message", {"msgtype": "m.text", "body": text})

    async def _send_as_is(self, room_id: str, event_type: str, content: dict[str, Any]) -> None:
        """Send an event exactly as given: nio's room_send would encrypt it (or not) itself."""
        method, path, data = Api.room_send(
            self.client.access_token, room_id, event_type, content, str(uuid.uuid4())
        )
        response = await self.client._send(RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(response, RoomSendResponse), response

    def device_key(self) -> str:
        """This device's ed25519 key, as its owner's app shows it."""
        return str(self.client.olm.account.identity_keys["ed25519"])

    async def wait_for(
        self, matches: Callable[[Seen], bool], *, timeout: float = 20.0, after: int = 0
    ) -> Seen:
        """The first event (from index `after` on) that matches, syncing until it comes."""
        deadline = time.monotonic() + timeout
        while True:
            for seen in self.seen[after:]:
                if matches(seen):
                    return seen
            if time.monotonic() > deadline:
                bodies = [s.body[:80] for s in self.seen[after:] if s.body]
                raise AssertionError(f"nothing matched in {timeout} s; saw {bodies}")
            await self.sync(timeout_ms=500)

    async def quiet_for(self, seconds: float, *, sender: str, after: int) -> list[Seen]:
        """Everything `sender` posted during `seconds` of syncing (expected: nothing)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self.sync(timeout_ms=300)
            await asyncio.sleep(0)
        return [s for s in self.seen[after:] if s.event.sender == sender and s.body]

    def undecrypted(self) -> list[Seen]:
        return [s for s in self.seen if isinstance(s.event, MegolmEvent)]
