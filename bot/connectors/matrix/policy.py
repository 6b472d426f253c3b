"""Who Tocsin listens to on Matrix and whose devices get a room's keys: pure rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


def is_allowed(user_id: str, allowed: Iterable[str]) -> bool:
    """Whether `user_id` is listed in MATRIX_ALLOWED_INVITERS, by full ID or `:server` suffix."""
    for entry in allowed:
        if entry.startswith(":") and user_id.startswith("@") and user_id.endswith(entry):
            return True
        if user_id == entry:
            return True
    return False


class DeviceTrust(StrEnum):
    """What Tocsin does with one device of a room member."""

    TRUSTED = "trusted"  # receives the room's keys, its commands are obeyed
    AWAITING = "awaiting verification"  # held back until its owner or an admin vouches for it
    BLOCKED = "blocked"  # never receives keys


class TrustKind(StrEnum):
    """Why a device is trusted, strongest first; `ua log` records it with each command."""

    VERIFIED = "verified"  # its owner's identity, or the device itself, was verified
    CROSS_SIGNED = "cross-signed"  # signed by its owner's self-signing key, identity pinned
    FIRST_USE = "first use"  # an owner without cross-signing: trusted as first seen (weaker)


class Identity(StrEnum):
    """What Tocsin knows of a member's cross-signing identity."""

    NONE = "none"  # the member has no cross-signing keys
    PINNED = "pinned"  # the master key is the one first seen
    VERIFIED = "verified"  # the master key was verified (SAS, or an admin accepted it)
    CHANGED = "changed"  # the master key is not the pinned one: withheld until accepted


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What is known of a device when deciding whether to share keys with it."""

    user_allowed: bool
    verified: bool  # its key was compared by hand (`!ua devices trust`, `tocsin matrix trust`)
    blocked: bool
    identity: Identity = Identity.NONE
    signed_by_owner: bool = False  # by the self-signing key of the identity above


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on a device, and its reason in words for `!ua devices`."""

    trust: DeviceTrust
    kind: TrustKind | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        if self.kind is TrustKind.FIRST_USE:
            return "trusted on first use (weaker: its owner has no cross-signing)"
        if self.kind is not None:
            return f"trusted ({self.kind.value})"
        return f"{self.trust.value}: {self.reason}" if self.reason else self.trust.value


def device_trust(device: DeviceFacts, *, require_verification: bool) -> Verdict:
    """Cross-signing decides where the owner has it: a device is trusted when its owner's
    self-signing key signed it under the pinned master key. Owners without cross-signing fall
    back to trust on first use, unless verification is required. A device blocked by hand, or
    of a user not allow-listed, never gets keys."""
    if device.blocked:
        return Verdict(DeviceTrust.BLOCKED, reason="blocked by hand")
    if not device.user_allowed:
        return Verdict(DeviceTrust.BLOCKED, reason="its owner is not in MATRIX_ALLOWED_INVITERS")
    if device.identity is Identity.CHANGED:
        return Verdict(
            DeviceTrust.AWAITING,
            reason="its owner's identity changed: an admin must accept it (!ua devices accept)",
        )
    if device.verified:
        return Verdict(DeviceTrust.TRUSTED, TrustKind.VERIFIED)
    if device.identity is not Identity.NONE:
        if not device.signed_by_owner:
            return Verdict(DeviceTrust.AWAITING, reason="not signed by its owner")
        if device.identity is Identity.VERIFIED:
            return Verdict(DeviceTrust.TRUSTED, TrustKind.VERIFIED)
        if not require_verification:
            return Verdict(DeviceTrust.TRUSTED, TrustKind.CROSS_SIGNED)
        return Verdict(DeviceTrust.AWAITING, reason="its owner's identity is not verified yet")
    if not require_verification:
        return Verdict(DeviceTrust.TRUSTED, TrustKind.FIRST_USE)
    return Verdict(DeviceTrust.AWAITING, reason="not verified yet")
