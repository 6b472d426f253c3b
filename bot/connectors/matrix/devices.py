"""Which devices get a room's keys, and `!ua devices` to see and change that."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom

from bot.connectors.matrix.policy import DeviceFacts, DeviceTrust, device_trust, is_allowed
from bot.connectors.matrix.trust import ManualTrust, same_fingerprint
from bot.domain.messages import Bullets, Heading, Message, Note, Paragraph, error_message

USAGE = (
    "!ua devices | !ua devices trust @user:example.org DEVICEID KEY | "
    "!ua devices block @user:example.org DEVICEID"
)


@dataclass(frozen=True, slots=True)
class Asker:
    """Who sent a `!ua devices` command, and from which device (None when not encrypted)."""

    user_id: str
    device_id: str | None


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
        self._manual.reload()
        for user_id in room.users:
            for device in client.device_store.active_user_devices(user_id):
                if device.id != client.device_id:
                    self._apply(device, self.trust_of(device))

    def trust_of(self, device: Any) -> DeviceTrust:
        """What the policy says of one device now."""
        if device.user_id == self._client.user_id:
            # Another login of the bot's own account would be sent every key it holds.
            return DeviceTrust.BLOCKED
        facts = DeviceFacts(
            user_allowed=is_allowed(device.user_id, self._allowed),
            verified=self._manual.is_trusted(device.user_id, device.id, device.ed25519),
            blocked=self._manual.is_blocked(device.user_id, device.id),
        )
        return device_trust(facts, require_verification=self._require_verification)

    def sending_device(self, user_id: str, sender_key: str | None) -> str | None:
        """The ID of the device whose identity key encrypted an event, if it is known."""
        if sender_key is None:
            return None
        for device in self._client.device_store.active_user_devices(user_id):
            if device.curve25519 == sender_key:
                return str(device.id)
        return None

    def is_trusted(self, user_id: str, device_id: str) -> bool:
        """Whether the policy trusts this device now."""
        self._manual.reload()
        device = self._known_device(user_id, device_id)
        return device is not None and self.trust_of(device) is DeviceTrust.TRUSTED

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

    async def command(self, words: str, *, room: MatrixRoom, asker: Asker) -> Message:
        """`!ua devices`, `!ua devices trust @user DEVICE KEY`, `!ua devices block @user DEVICE`."""
        args = words.split()[1:]
        if room.encrypted:
            await self.prepare(room)
        if not args:
            return self._listing(room)
        action = args[0].lower()
        if not ((action == "trust" and len(args) >= 4) or (action == "block" and len(args) == 3)):
            return error_message(f"Usage: {USAGE}")
        refusal = self._refusal(asker)
        if refusal:
            return error_message(refusal)
        user_id, device_id = args[1], args[2]
        device = self._known_device(user_id, device_id)
        if device is None:
            return error_message(
                f"{user_id} has no device {device_id} that Tocsin knows of: see !ua devices."
            )
        if action == "block":
            self._manual.block(user_id, device_id)
        else:
            if device_id == asker.device_id and user_id == asker.user_id:
                return error_message("A device cannot vouch for itself: trust it from another one.")
            if not same_fingerprint("".join(args[3:]), device.ed25519):
                return error_message(
                    f"That key is not {device_id}'s: compare it again with the one in its "
                    "owner's app (Settings → Security → Session key)."
                )
            self._manual.trust(user_id, device_id, device.ed25519)
        self._apply(device, self.trust_of(device))
        done = f"{user_id} {device_id} is now {self.trust_of(device).value} (by {asker.user_id})."
        return Message(fallback=done, blocks=(Paragraph(done),), public=True)

    def _refusal(self, asker: Asker) -> str | None:
        """Why this asker may not change trust, or None: only from a device that is trusted."""
        if asker.device_id is None:
            return "Trust can be changed only in an end-to-end-encrypted room."
        device = self._known_device(asker.user_id, asker.device_id)
        if device is None or self.trust_of(device) is not DeviceTrust.TRUSTED:
            return (
                "Only a trusted device can change trust: ask a teammate whose device is trusted, "
                "or your admin (tocsin matrix trust)."
            )
        return None

    def _known_device(self, user_id: str, device_id: str) -> Any | None:
        devices = {d.id: d for d in self._client.device_store.active_user_devices(user_id)}
        return devices.get(device_id)

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
                    f"key {fingerprint(device.ed25519)}"
                )
        policy = (
            "Explicit verification is required: compare a new device's key with the one in its "
            "owner's app, then from a trusted device: !ua devices trust @user DEVICEID KEY."
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


def fingerprint(key: str) -> str:
    """A device key in groups of four, as Element shows it."""
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
