"""Members' cross-signing identities as the homeserver publishes them, checked signature by
signature: a device counts as signed by its owner only when the owner's self-signing key signed
it, and that key was signed by the owner's master key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.connectors.matrix.cross_signing import public_key_of
from bot.connectors.matrix.policy import Identity
from bot.connectors.matrix.signed_json import has_valid_signature


@dataclass(frozen=True, slots=True)
class Published:
    """One member's identity: the master key and the devices its self-signing key signed,
    each with the Ed25519 key it was signed with."""

    user_id: str
    master: str
    self_signing: str | None
    signed_devices: dict[str, str] = field(default_factory=dict)

    def signs(self, device_id: str, ed25519: str) -> bool:
        """Whether the device, with exactly this key, is signed by its owner."""
        return self.signed_devices.get(device_id) == ed25519


def published_identity(user_id: str, answer: dict[str, Any]) -> Published | None:
    """The member's identity in a `keys/query` answer, None when the member publishes none."""
    master_object = answer.get("master_keys", {}).get(user_id)
    master = public_key_of(master_object)
    if master is None or not _is_for(master_object, user_id, "master"):
        return None
    ssk_object = answer.get("self_signing_keys", {}).get(user_id)
    self_signing = public_key_of(ssk_object)
    if (
        self_signing is None
        or not _is_for(ssk_object, user_id, "self_signing")
        or not has_valid_signature(ssk_object, user_id=user_id, public_key=master)
    ):
        return Published(user_id, master, None)
    signed: dict[str, str] = {}
    for device_id, device in answer.get("device_keys", {}).get(user_id, {}).items():
        if not isinstance(device, dict):
            continue
        key = device.get("keys", {}).get(f"ed25519:{device_id}")
        if (
            isinstance(key, str)
            and device.get("user_id") == user_id
            and device.get("device_id") == device_id
            and has_valid_signature(device, user_id=user_id, public_key=self_signing)
        ):
            signed[device_id] = key
    return Published(user_id, master, self_signing, signed)


def identity_state(pinned: str | None, verified: bool, published: str | None) -> Identity:
    """Where a member's published master key stands against the one Tocsin pinned. A pinned
    identity that disappears counts as changed: hiding it must not fall back to first use."""
    if pinned is None:
        return Identity.NONE if published is None else Identity.PINNED
    if published != pinned:
        return Identity.CHANGED
    return Identity.VERIFIED if verified else Identity.PINNED


def _is_for(obj: Any, user_id: str, usage: str) -> bool:
    return isinstance(obj, dict) and obj.get("user_id") == user_id and usage in obj.get("usage", [])
