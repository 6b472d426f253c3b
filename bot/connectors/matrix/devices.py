"""Which devices get a room's keys, and `!ua devices` to see and change that."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom

from bot.connectors.matrix.api import ClientApi, HomeserverError
from bot.connectors.matrix.identities import Published, identity_state, published_identity
from bot.connectors.matrix.policy import (
    DeviceFacts,
    DeviceTrust,
    Identity,
    Verdict,
    device_trust,
    is_allowed,
)
from bot.connectors.matrix.trust import ManualTrust, same_fingerprint
from bot.domain.messages import Bullets, Heading, Message, Note, Paragraph, error_message

log = logging.getLogger(__name__)

USAGE = (
    "!ua devices | !ua devices trust @user:example.org DEVICEID KEY | "
    "!ua devices block @user:example.org DEVICEID | !ua devices accept @user:example.org"
)
# Called with (room ID, user ID, new master key) when a member's identity changes.
IdentityChanged = Callable[[str, str, str], None]


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
        self._api = ClientApi(client)
        self._allowed = allowed
        self._require_verification = require_verification
        self._manual = ManualTrust.load(store)
        self._published: dict[str, Published | None] = {}
        self._announced: set[tuple[str, str, str]] = set()
        self.on_identity_changed: IdentityChanged | None = None

    async def query_keys(self, users: Iterable[str] = ()) -> None:
        """Bring devices and cross-signing identities up to date: those nio knows changed,
        and `users` Tocsin has not looked up yet."""
        client = self._client
        stale = {u for u in users if u not in self._published}
        if client.should_query_keys:
            stale |= set(client.users_for_key_query)
            await client.keys_query()
        stale.discard(str(client.user_id))
        if not stale:
            return
        try:
            answer = await self._api.query_keys(sorted(stale))
        except HomeserverError as error:
            log.warning("could not look up cross-signing keys: %s", error)
            return
        for user_id in stale:
            published = published_identity(user_id, answer)
            self._published[user_id] = published
            if published is not None and is_allowed(user_id, self._allowed):
                self._manual.pin_first_seen(user_id, published.master)

    async def prepare(self, room: MatrixRoom) -> None:
        """Know every member's devices, then let exactly the trusted ones receive keys."""
        client = self._client
        if not room.members_synced:
            await client.joined_members(room.room_id)
        await self.query_keys(room.users)
        self._manual.reload()
        for user_id in room.users:
            self._announce_if_changed(room.room_id, user_id)
            for device in client.device_store.active_user_devices(user_id):
                if device.id != client.device_id:
                    self._apply(device, self.trust_of(device).trust)

    def trust_of(self, device: Any) -> Verdict:
        """What the policy says of one device now."""
        if device.user_id == self._client.user_id:
            # Another login of the bot's own account would be sent every key it holds.
            return Verdict(DeviceTrust.BLOCKED, reason="another login of Tocsin's own account")
        published = self._published.get(device.user_id)
        facts = DeviceFacts(
            user_allowed=is_allowed(device.user_id, self._allowed),
            verified=self._manual.is_trusted(device.user_id, device.id, device.ed25519),
            blocked=self._manual.is_blocked(device.user_id, device.id),
            identity=self.identity_of(device.user_id),
            signed_by_owner=published is not None and published.signs(device.id, device.ed25519),
        )
        return device_trust(facts, require_verification=self._require_verification)

    def identity_of(self, user_id: str) -> Identity:
        """Where the member's cross-signing identity stands against the pinned one."""
        pin = self._manual.pinned(user_id)
        if user_id not in self._published:  # not looked up yet (a restart): nothing changed
            pinned_key = pin[0] if pin else None
            return identity_state(pinned_key, bool(pin and pin[1]), pinned_key)
        published = self._published[user_id]
        return identity_state(
            pin[0] if pin else None,
            bool(pin and pin[1]),
            published.master if published else None,
        )

    def published_master(self, user_id: str) -> str | None:
        """The member's master key as last looked up."""
        published = self._published.get(user_id)
        return published.master if published else None

    def accept_identity(self, user_id: str, master: str, *, verified: bool) -> None:
        """Pin a member's master key (an admin accepted it, or SAS verified it)."""
        self._manual.accept_identity(user_id, master, verified=verified)

    def allows(self, user_id: str) -> bool:
        """Whether Tocsin listens to this user at all (MATRIX_ALLOWED_INVITERS)."""
        return is_allowed(user_id, self._allowed)

    def trust_verified_device(self, user_id: str, device_id: str, ed25519: str) -> None:
        """A device verified by emoji, of a member without cross-signing: trusted by its key."""
        self._manual.trust(user_id, device_id, ed25519)

    def sending_device(self, user_id: str, sender_key: str | None) -> str | None:
        """The ID of the device whose identity key encrypted an event, if it is known."""
        if sender_key is None:
            return None
        for device in self._client.device_store.active_user_devices(user_id):
            if device.curve25519 == sender_key:
                return str(device.id)
        return None

    def verdict_on(self, user_id: str, device_id: str) -> Verdict:
        """What the policy says now of the device that sent a command."""
        self._manual.reload()
        device = self._known_device(user_id, device_id)
        if device is None:
            return Verdict(DeviceTrust.AWAITING, reason="a device Tocsin does not know yet")
        return self.trust_of(device)

    def is_trusted(self, user_id: str, device_id: str) -> bool:
        """Whether the policy trusts this device now."""
        return self.verdict_on(user_id, device_id).trust is DeviceTrust.TRUSTED

    def _announce_if_changed(self, room_id: str, user_id: str) -> None:
        """Say once per room and key that a member's identity changed (keys are withheld)."""
        master = self.published_master(user_id) or "(none)"
        mark = (room_id, user_id, master)
        if self.identity_of(user_id) is not Identity.CHANGED or mark in self._announced:
            return
        self._announced.add(mark)
        if self.on_identity_changed is not None:
            self.on_identity_changed(room_id, user_id, master)

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
        """`!ua devices`, `... trust @user DEVICE KEY`, `... block @user DEVICE`,
        `... accept @user` (a member's new identity)."""
        args = words.split()[1:]
        if room.encrypted:
            await self.prepare(room)
        if not args:
            return self._listing(room)
        action = args[0].lower()
        arity = {"trust": len(args) >= 4, "block": len(args) == 3, "accept": len(args) == 2}
        if not arity.get(action, False):
            return error_message(f"Usage: {USAGE}")
        refusal = self._refusal(asker)
        if refusal:
            return error_message(refusal)
        if action == "accept":
            return self._accept(args[1], asker)
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
        verdict = self.trust_of(device)
        self._apply(device, verdict.trust)
        done = f"{user_id} {device_id} is now {verdict.trust.value} (by {asker.user_id})."
        return Message(fallback=done, blocks=(Paragraph(done),), public=True)

    def _accept(self, user_id: str, asker: Asker) -> Message:
        """Pin the identity a member publishes now, after an admin checked it with them."""
        master = self.published_master(user_id)
        if master is None:
            return error_message(f"{user_id} has no cross-signing identity to accept.")
        if self.identity_of(user_id) is not Identity.CHANGED:
            return error_message(f"{user_id}'s identity has not changed: nothing to accept.")
        self.accept_identity(user_id, master, verified=False)
        done = (
            f"{user_id}'s new identity (master key {fingerprint(master)}) is accepted by "
            f"{asker.user_id}; their signed devices get keys again."
        )
        return Message(fallback=done, blocks=(Paragraph(done),), public=True)

    def _refusal(self, asker: Asker) -> str | None:
        """Why this asker may not change trust, or None: only from a device that is trusted."""
        if asker.device_id is None:
            return "Trust can be changed only in an end-to-end-encrypted room."
        if not self.is_trusted(asker.user_id, asker.device_id):
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
            lines.append(f"{user_id}: {self._identity_line(user_id)}")
            devices = list(self._client.device_store.active_user_devices(user_id))
            if not devices:
                lines.append(f"{user_id}: no devices known yet")
            for device in sorted(devices, key=lambda d: d.id):
                name = f" “{device.display_name}”" if device.display_name else ""
                lines.append(
                    f"{user_id} {device.id}{name}: {self.trust_of(device).label} · "
                    f"key {fingerprint(device.ed25519)}"
                )
        policy = (
            "Only verified identities are trusted: verify a member with SAS (Element: their "
            "profile → Verify), or compare a device's key and, from a trusted device: "
            "!ua devices trust @user DEVICEID KEY."
            if self._require_verification
            else "A member's devices are trusted when the member signed them (cross-signing); "
            "members without cross-signing are trusted on first use. Block a lost device with "
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

    def _identity_line(self, user_id: str) -> str:
        identity = self.identity_of(user_id)
        master = self.published_master(user_id)
        if identity is Identity.NONE:
            return "no cross-signing (each device trusted on its own: weaker)"
        if identity is Identity.CHANGED:
            return (
                f"identity CHANGED (master key now {fingerprint(master) if master else 'gone'}): "
                "keys withheld until an admin checks with them and says "
                f"!ua devices accept {user_id}"
            )
        return f"identity {identity.value}, master key {fingerprint(master or '')}"


def fingerprint(key: str) -> str:
    """A device key in groups of four, as Element shows it."""
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
