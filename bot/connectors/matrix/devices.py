"""Which devices get a room's keys, and `!ua devices` to see and change that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom

from bot.connectors.matrix.policy import DeviceFacts, DeviceTrust, device_trust, is_allowed
from bot.connectors.matrix.trust import ManualTrust
from bot.domain.messages import Bullets, Heading, Message, Note, Paragraph, error_message

USAGE = "!ua devices [trust|block @user:example.org DEVICEID]"


class DeviceRegistry:
    """Applies the trust policy to the devices of a room's members before Tocsin encrypts."""

    def __init__(
        self,
        client: AsyncClient,
        store: Path,
        allowed: tuple[str, ...],
        require_verification: bool,
    ) -> None:
        self._client = client
        self._allowed = allowed
        self._require_verification = require_verification
        self._manual = ManualTrust.load(store)

    async def prepare(self, room: MatrixRoom) -> None:
        """Know every member's devices, then let exactly the trusted ones receive keys."""
        client = self._client
        if not room.members_synced:
            await client.joined_members(room.room_id)
        if client.should_query_keys:
            await client.keys_query()
        for user_id in room.users:
            # The bot's own other devices (a lost earlier store) are judged like anyone's.
            for device in client.device_store.active_user_devices(user_id):
                if device.id != client.device_id:
                    self._apply(device, self.trust_of(device))

    def trust_of(self, device: Any) -> DeviceTrust:
        """What the policy says of one device now."""
        pair = (device.user_id, device.id)
        facts = DeviceFacts(
            user_allowed=is_allowed(device.user_id, self._allowed),
            verified=pair in self._manual.trusted,
            blocked=pair in self._manual.blocked,
        )
        return device_trust(facts, require_verification=self._require_verification)

    def _apply(self, device: Any, trust: DeviceTrust) -> None:
        # nio's own states carry the decision; changing one makes nio rotate the room's
        # session, so a device that loses trust cannot read what follows.
        client = self._client
        if trust is DeviceTrust.TRUSTED:
            if client.olm.is_device_blacklisted(device):
                client.unblacklist_device(device)
            if not client.olm.is_device_verified(device):
                client.verify_device(device)
            return
        if client.olm.is_device_verified(device):
            client.unverify_device(device)
        if not client.olm.is_device_blacklisted(device):
            client.blacklist_device(device)

    async def command(self, words: str, *, room: MatrixRoom, actor: str) -> Message:
        """`!ua devices`, `!ua devices trust @user DEVICE`, `!ua devices block @user DEVICE`."""
        args = words.split()[1:]
        if not args:
            if room.encrypted:
                await self.prepare(room)
            return self._listing(room)
        if len(args) != 3 or args[0].lower() not in ("trust", "block"):
            return error_message(f"Usage: {USAGE}")
        action, user_id, device_id = args[0].lower(), args[1], args[2]
        device = self._client.device_store.active_user_devices(user_id)
        known = {d.id: d for d in device}
        if device_id not in known:
            return error_message(
                f"{user_id} has no device {device_id} that Tocsin knows of: see !ua devices."
            )
        if action == "trust":
            self._manual.trust(user_id, device_id)
        else:
            self._manual.block(user_id, device_id)
        self._apply(known[device_id], self.trust_of(known[device_id]))
        verb = "trusted" if action == "trust" else "blocked"
        return Message(
            fallback=f"{user_id} {device_id} is now {verb} (by {actor}).",
            blocks=(Paragraph(f"{user_id} {device_id} is now {verb} (by {actor})."),),
            public=True,
        )

    def _listing(self, room: MatrixRoom) -> Message:
        lines: list[str] = []
        for user_id in sorted(room.users):
            if user_id == self._client.user_id:
                continue
            devices = list(self._client.device_store.active_user_devices(user_id))
            if not devices:
                lines.append(f"{user_id}: no devices known yet")
            for device in sorted(devices, key=lambda d: d.id):
                name = f" “{device.display_name}”" if device.display_name else ""
                lines.append(
                    f"{user_id} {device.id}{name}: {self.trust_of(device).value} · "
                    f"key {_fingerprint(device.ed25519)}"
                )
        policy = (
            "Explicit verification is required: compare the key with the one in the person's "
            "own app, then !ua devices trust @user DEVICEID."
            if self._require_verification
            else "Devices of allowed users are trusted on first use; block a lost one with "
            "!ua devices block @user DEVICEID."
        )
        return Message(
            fallback=f"Devices in this room: {len(lines)}",
            blocks=(
                Heading("Devices that can read Tocsin's messages here"),
                Bullets(tuple(lines) or ("(no other members)",)),
                Note(policy),
            ),
        )


def _fingerprint(key: str) -> str:
    """A device key in groups of four, as Element shows it."""
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
