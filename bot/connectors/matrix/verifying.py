"""SAS (emoji) verification with members' devices, to-device and in-room, around the pure
`sas.Verification`. The emoji are confirmed on Tocsin's side by an admin at the server
(`tocsin matrix verify`, through two small files in the store) or by a trusted member in an
encrypted room (`!ua verify confirm @user`); a verified member's identity is then pinned as
verified and signed with the bot's user-signing key."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom, ToDeviceMessage

from bot.connectors.matrix.api import ClientApi, HomeserverError
from bot.connectors.matrix.devices import DeviceRegistry
from bot.connectors.matrix.sas import (
    REQUEST,
    START,
    Outgoing,
    Party,
    State,
    Verification,
    VerificationIgnored,
    flow_id,
    unknown_transaction,
)
from bot.connectors.matrix.signed_json import SigningKey, signable, signed

log = logging.getLogger(__name__)

PENDING_FILE = "verifications.json"
ANSWERS_FILE = "verification-answers.json"
ANSWER_POLL_S = 0.5
# Tell the room (in-room flows) or the log (to-device) what to compare, and how to answer.
Announce = Callable[[str | None, str], Awaitable[None]]


@dataclass
class Flow:
    """One verification in progress: its machine, and the room it runs in (None: to-device)."""

    machine: Verification
    room_id: str | None
    announced: bool = False


class Verifications:
    """Every verification in progress, by flow (transaction or request event) ID."""

    def __init__(
        self,
        client: AsyncClient,
        devices: DeviceRegistry,
        store: Path,
        announce: Announce,
    ) -> None:
        self._client = client
        self._devices = devices
        self._store = store
        self._announce = announce
        self._flows: dict[str, Flow] = {}
        self.master_key: str | None = None
        self.user_signing: SigningKey | None = None

    # Events in ---------------------------------------------------------------------------

    async def to_device(self, event_type: str, sender: str, content: dict[str, Any]) -> None:
        """A verification event sent to Tocsin's device."""
        now = time.time()
        flow_key = flow_id(content)
        flow = self._flows.get(flow_key or "")
        if flow is not None:
            await self._send(flow, flow.machine.receive(event_type, content, now, sender=sender))
        elif event_type == REQUEST and flow_key:
            await self._answer(sender, content, flow_key, None, now, content.get("timestamp"))
        elif event_type == START and flow_key:
            await self._legacy_start(sender, content, flow_key, now)
        else:
            await self._refuse_unknown(event_type, sender, content, None)
            return
        await self._after(flow_key or "")

    async def in_room(
        self, room: MatrixRoom, event_type: str, event_id: str, sender: str, source: dict[str, Any]
    ) -> None:
        """A verification event in a room (the request is an m.room.message)."""
        content = source.get("content", {})
        now = time.time()
        if content.get("msgtype") == REQUEST:
            if content.get("to") != self._client.user_id:
                return
            timestamp = source.get("origin_server_ts")
            await self._answer(sender, content, event_id, room.room_id, now, timestamp)
            await self._after(event_id)
            return
        flow_key = flow_id(content)
        flow = self._flows.get(flow_key or "")
        if flow is None:
            await self._refuse_unknown(event_type, sender, content, room.room_id)
            return
        await self._send(flow, flow.machine.receive(event_type, content, now, sender=sender))
        await self._after(flow_key or "")

    # What people say -----------------------------------------------------------------------

    def pending(self) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        """The flows whose emoji wait for a person's word: (user, device, emoji)."""
        waiting = []
        for flow in self._flows.values():
            machine = flow.machine
            if machine.state is State.KEYS_EXCHANGED and machine.emoji:
                waiting.append((machine.other_user, machine.other_device_id or "?", machine.emoji))
        return waiting

    async def answer(self, user_id: str, matches: bool) -> bool:
        """A person's word on the emoji shown for `user_id`; False when none are waiting."""
        for key, flow in list(self._flows.items()):
            machine = flow.machine
            if machine.other_user == user_id and machine.state is State.KEYS_EXCHANGED:
                outgoing = machine.confirm(time.time()) if matches else machine.reject(time.time())
                await self._send(flow, outgoing)
                await self._after(key)
                return True
        return False

    async def watch_answers(self) -> None:
        """Take the admin's answers from `tocsin matrix verify` while Tocsin runs."""
        path = self._store / ANSWERS_FILE
        while True:
            await asyncio.sleep(ANSWER_POLL_S)
            for key, flow in list(self._flows.items()):
                expired = flow.machine.expire(time.time())
                if expired:
                    await self._send(flow, expired)
                    await self._after(key)
            if not path.exists():
                continue
            try:
                answers = json.loads(path.read_text())
                path.unlink()
            except (OSError, ValueError):
                continue
            for user_id, matches in answers.items():
                await self.answer(str(user_id), bool(matches))

    # Inside --------------------------------------------------------------------------------

    def _own(self) -> Party:
        keys = self._client.olm.account.identity_keys
        return Party(
            str(self._client.user_id), str(self._client.device_id), keys["ed25519"], self.master_key
        )

    def _device_key(self, user_id: str, device_id: str) -> str | None:
        for device in self._client.device_store.active_user_devices(user_id):
            if device.id == device_id:
                return str(device.ed25519)
        return None

    async def _answer(
        self,
        sender: str,
        content: dict[str, Any],
        flow_key: str,
        room_id: str | None,
        now: float,
        timestamp: Any,
    ) -> None:
        if not self._may_verify(sender, content.get("from_device")):
            return
        await self._devices.query_keys([sender])
        try:
            machine, outgoing = Verification.answering(
                self._own(),
                content,
                other_user=sender,
                transaction_id=flow_key,
                in_room=room_id is not None,
                now=now,
                device_key=self._device_key,
                master_key=self._devices.published_master,
                timestamp_ms=timestamp if isinstance(timestamp, int) else None,
            )
        except VerificationIgnored as why:
            log.info("ignored a verification request from %s: %s", sender, why)
            return
        flow = Flow(machine, room_id)
        self._flows[flow_key] = flow
        await self._send(flow, outgoing)

    async def _legacy_start(
        self, sender: str, content: dict[str, Any], flow_key: str, now: float
    ) -> None:
        if not self._may_verify(sender, content.get("from_device")):
            return
        await self._devices.query_keys([sender])
        machine, outgoing = Verification.from_start(
            self._own(),
            content,
            other_user=sender,
            transaction_id=flow_key,
            now=now,
            device_key=self._device_key,
            master_key=self._devices.published_master,
        )
        flow = Flow(machine, None)
        self._flows[flow_key] = flow
        await self._send(flow, outgoing)

    def _may_verify(self, sender: str, device_id: Any) -> bool:
        """Only members Tocsin listens to, from a device it has not blocked."""
        if sender == self._client.user_id or not isinstance(device_id, str):
            return False
        verdict = self._devices.verdict_on(sender, device_id)
        if not self._devices.allows(sender) or verdict.reason == "blocked by hand":
            log.info("ignored a verification request from %s %s", sender, device_id)
            return False
        return True

    async def _refuse_unknown(
        self, event_type: str, sender: str, content: dict[str, Any], room_id: str | None
    ) -> None:
        cancel = unknown_transaction(event_type, content)
        device = content.get("from_device")
        if cancel is None or sender == self._client.user_id:
            return
        to_device = None if room_id else (device if isinstance(device, str) else None)
        if room_id is None and to_device is None:
            return
        await self._deliver(sender, room_id, [Outgoing(cancel.type, cancel.content, to_device)])

    async def _after(self, flow_key: str) -> None:
        flow = self._flows.get(flow_key)
        if flow is None:
            return
        machine = flow.machine
        if machine.emoji and not flow.announced and machine.state is State.KEYS_EXCHANGED:
            flow.announced = True
            await self._announce(flow.room_id, _emoji_notice(machine))
        if machine.done:
            del self._flows[flow_key]
            await self._verified(flow)
        elif machine.state is State.CANCELLED:
            del self._flows[flow_key]
            code, reason = machine.cancelled or ("", "")
            log.info("verification with %s cancelled: %s %s", machine.other_user, code, reason)
            if flow.announced:
                await self._announce(
                    flow.room_id,
                    f"The verification with {machine.other_user} was cancelled ({reason or code}).",
                )
        self._write_pending()

    async def _verified(self, flow: Flow) -> None:
        machine = flow.machine
        if machine.verified_device is None:
            return
        user_id, device_id, ed25519 = machine.verified_device
        master = machine.verified_master_key
        if master is not None:
            self._devices.accept_identity(user_id, master, verified=True)
            await self._sign_identity(user_id, master)
        else:
            self._devices.trust_verified_device(user_id, device_id, ed25519)
        what = f"{user_id}'s identity" if master else f"{user_id}'s device {device_id}"
        await self._announce(flow.room_id, f"✅ Verified {what} by emoji.")

    async def _sign_identity(self, user_id: str, master: str) -> None:
        """Sign the member's master key with Tocsin's user-signing key, as clients do."""
        if self.user_signing is None:
            return
        api = ClientApi(self._client)
        try:
            answer = await api.query_keys([user_id])
            obj = answer.get("master_keys", {}).get(user_id)
            if not isinstance(obj, dict) or obj.get("keys", {}).get(f"ed25519:{master}") != master:
                return
            body = {
                user_id: {
                    master: signed(
                        signable(obj), user_id=str(self._client.user_id), key=self.user_signing
                    )
                }
            }
            await api.ok("POST", "/keys/signatures/upload", body)
        except HomeserverError as error:
            log.warning("could not sign %s's identity: %s", user_id, error)

    async def _send(self, flow: Flow, outgoing: list[Outgoing]) -> None:
        await self._deliver(flow.machine.other_user, flow.room_id, outgoing, flow.machine)

    async def _deliver(
        self,
        user_id: str,
        room_id: str | None,
        outgoing: list[Outgoing],
        machine: Verification | None = None,
    ) -> None:
        for out in outgoing:
            if room_id is not None:
                await self._send_in_room(room_id, out, machine)
            else:
                await self._send_to_devices(user_id, out)

    async def _send_in_room(
        self, room_id: str, out: Outgoing, machine: Verification | None
    ) -> None:
        room = self._client.rooms.get(room_id)
        if room is None:
            return
        if room.encrypted:
            await self._devices.prepare(room)
        response = await self._client.room_send(
            room.room_id, out.type, out.content, ignore_unverified_devices=True
        )
        event_id = getattr(response, "event_id", None)
        if machine is not None and out.type == "m.room.message" and isinstance(event_id, str):
            machine.request_sent(event_id)

    async def _send_to_devices(self, user_id: str, out: Outgoing) -> None:
        if out.device_id is not None:
            targets = [out.device_id]
        else:
            targets = [
                d.id
                for d in self._client.device_store.active_user_devices(user_id)
                if d.id != out.except_device
            ]
        for device_id in targets:
            await self._client.to_device(ToDeviceMessage(out.type, user_id, device_id, out.content))

    def _write_pending(self) -> None:
        """Leave the emoji waiting for a word where `tocsin matrix verify` reads them."""
        entries = [
            {"user": user, "device": device, "emoji": [list(e) for e in emoji]}
            for user, device, emoji in self.pending()
        ]
        descriptor, temporary = tempfile.mkstemp(dir=self._store, prefix=".verifications-")
        with os.fdopen(descriptor, "w") as out:
            json.dump(entries, out)
        os.replace(temporary, self._store / PENDING_FILE)


def _emoji_notice(machine: Verification) -> str:
    emoji = " · ".join(f"{symbol} {name}" for symbol, name in machine.emoji or ())
    return (
        f"Verification with {machine.other_user} (device {machine.other_device_id}): compare "
        f"these emoji with the ones their app shows: {emoji}. If they match, an admin says "
        f"!ua verify confirm {machine.other_user} here (from a trusted device) or runs "
        f"tocsin matrix verify {machine.other_user} at the server; if not, "
        f"!ua verify reject {machine.other_user}."
    )


def write_answer(store: Path, user_id: str, matches: bool) -> None:
    """The admin's word on the emoji for `user_id`, for the running Tocsin to take."""
    path = store / ANSWERS_FILE
    answers: dict[str, bool] = {}
    if path.exists():
        try:
            answers = json.loads(path.read_text())
        except ValueError:
            answers = {}
    answers[user_id] = matches
    descriptor, temporary = tempfile.mkstemp(dir=store, prefix=".answers-")
    with os.fdopen(descriptor, "w") as out:
        json.dump(answers, out)
    os.replace(temporary, path)


def read_pending(store: Path) -> list[dict[str, Any]]:
    """The emoji the running Tocsin waits for a word on."""
    path = store / PENDING_FILE
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text())
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)]
