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

    TRUSTED = "trusted"  # receives the room's keys
    AWAITING = "awaiting verification"  # an allowed user's device, held back until verified
    BLOCKED = "blocked"  # never receives keys


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What is known of a device when deciding whether to share keys with it."""

    user_allowed: bool
    verified: bool
    blocked: bool


def device_trust(device: DeviceFacts, *, require_verification: bool) -> DeviceTrust:
    """Trust on first use for allow-listed users' devices unless verification is required;
    a device blocked by hand, or of a user not allow-listed, never gets keys."""
    if device.blocked or not device.user_allowed:
        return DeviceTrust.BLOCKED
    if device.verified or not require_verification:
        return DeviceTrust.TRUSTED
    return DeviceTrust.AWAITING
