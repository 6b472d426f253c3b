"""Matrix SAS (emoji) interactive key verification as a pure state machine: events in, events out.

One `Verification` is one flow (one transaction id, or one in-room request event id) between one
of our devices and one device of another user. It never touches the network or the clock: the
transport feeds it received events (`receive`) and user actions (`confirm`, `reject`, `cancel`),
passes the current POSIX time in seconds as `now`, and sends each returned `Outgoing`.

Transport contract (documented here because the machine relies on it):

* Every `Outgoing.content` is complete: the machine itself adds `transaction_id` (to-device) or
  `"m.relates_to": {"rel_type": "m.reference", "event_id": <request event id>}` (in-room), so
  that the start content it keeps for the commitment is byte-for-byte what the other side gets.
  The transport must send contents unchanged (for encrypted rooms `m.relates_to` stays in the
  cleartext part, which nio does) and must pass received contents unchanged, including the
  `transaction_id` / `m.relates_to` field (the commitment hashes the start content as received).
* Send the returned events in list order (confirm() may return mac then done).
* To-device: `Outgoing.device_id` is the other user's device to send to; None means every device
  of the other user (never our own device) except `Outgoing.except_device`. In-room: send the
  content as a room event of `Outgoing.type` (the request is `m.room.message`), ignore device_id,
  and after sending the request call `request_sent(event_id)`.
* Events we sent ourselves (in-room echoes) must not be fed back. Route events by `flow_id()`;
  for an unknown flow send `unknown_transaction()` if it returns something; a to-device start with
  an unknown transaction id is a legacy start without request: use `Verification.from_start`.

Sources: Matrix spec, client-server API "Key verification framework" and "Short Authentication
String (SAS) verification" (matrix-org/matrix-spec, content/client-server-api/modules/
end_to_end_encryption.md and data/event-schemas/schema/m.key.verification.*.yaml), and
matrix-rust-sdk crates/matrix-sdk-crypto/src/verification/ (sas/helpers.rs, sas/sas_state.rs,
sas/inner_sas.rs, requests.rs, machine.rs), which is what Element uses.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Final

import vodozemac

REQUEST: Final = "m.key.verification.request"
READY: Final = "m.key.verification.ready"
START: Final = "m.key.verification.start"
ACCEPT: Final = "m.key.verification.accept"
KEY: Final = "m.key.verification.key"
MAC: Final = "m.key.verification.mac"
DONE: Final = "m.key.verification.done"
CANCEL: Final = "m.key.verification.cancel"
ROOM_MESSAGE: Final = "m.room.message"

SAS_V1: Final = "m.sas.v1"
KEY_AGREEMENT: Final = "curve25519-hkdf-sha256"
HASH: Final = "sha256"
MAC_V2: Final = "hkdf-hmac-sha256.v2"
MAC_MSC3783: Final = "org.matrix.msc3783.hkdf-hmac-sha256"  # the unstable name of v2
MAC_LEGACY: Final = "hkdf-hmac-sha256"  # libolm's broken base64; deprecated
# What we choose from a start, best first (matrix-sdk-crypto's order), and what our start offers.
MAC_PREFERENCE: Final = (MAC_V2, MAC_MSC3783, MAC_LEGACY)
OFFERED_MACS: Final = (MAC_V2, MAC_LEGACY)
SAS_METHODS: Final = ("decimal", "emoji")

FLOW_TIMEOUT: Final = 600.0  # seconds: a flow must finish within 10 minutes (spec)
IDLE_TIMEOUT: Final = 600.0  # seconds: and may go unused at most 10 minutes (spec)
REQUEST_MAX_AGE: Final = 600.0  # a request older than this (timestamp) is ignored
REQUEST_MAX_FUTURE: Final = 300.0  # a request further than this in the future is ignored

DeviceKeys = Callable[[str, str], str | None]
"""Look up a device's ed25519 key: (user_id, device_id) -> unpadded base64 key, or None."""
MasterKeys = Callable[[str], str | None]
"""Look up a user's cross-signing master public key: user_id -> unpadded base64 key, or None."""

# The spec's table (matrix-spec data-definitions/sas-emoji.json), index = 6-bit number.
EMOJI: Final[tuple[tuple[str, str], ...]] = (
    ("🐶", "Dog"),
    ("🐱", "Cat"),
    ("🦁", "Lion"),
    ("🐎", "Horse"),
    ("🦄", "Unicorn"),
    ("🐷", "Pig"),
    ("🐘", "Elephant"),
    ("🐰", "Rabbit"),
    ("🐼", "Panda"),
    ("🐓", "Rooster"),
    ("🐧", "Penguin"),
    ("🐢", "Turtle"),
    ("🐟", "Fish"),
    ("🐙", "Octopus"),
    ("🦋", "Butterfly"),
    ("🌷", "Flower"),
    ("🌳", "Tree"),
    ("🌵", "Cactus"),
    ("🍄", "Mushroom"),
    ("🌏", "Globe"),
    ("🌙", "Moon"),
    ("☁️", "Cloud"),
    ("🔥", "Fire"),
    ("🍌", "Banana"),
    ("🍎", "Apple"),
    ("🍓", "Strawberry"),
    ("🌽", "Corn"),
    ("🍕", "Pizza"),
    ("🎂", "Cake"),
    ("❤️", "Heart"),
    ("😀", "Smiley"),
    ("🤖", "Robot"),
    ("🎩", "Hat"),
    ("👓", "Glasses"),
    ("🔧", "Spanner"),
    ("🎅", "Santa"),
    ("👍", "Thumbs Up"),
    ("☂️", "Umbrella"),
    ("⌛", "Hourglass"),
    ("⏰", "Clock"),
    ("🎁", "Gift"),
    ("💡", "Light Bulb"),
    ("📕", "Book"),
    ("✏️", "Pencil"),
    ("📎", "Paperclip"),
    ("✂️", "Scissors"),
    ("🔒", "Lock"),
    ("🔑", "Key"),
    ("🔨", "Hammer"),
    ("☎️", "Telephone"),
    ("🏁", "Flag"),
    ("🚂", "Train"),
    ("🚲", "Bicycle"),
    ("✈️", "Aeroplane"),
    ("🚀", "Rocket"),
    ("🏆", "Trophy"),
    ("⚽", "Ball"),
    ("🎸", "Guitar"),
    ("🎺", "Trumpet"),
    ("🔔", "Bell"),
    ("⚓", "Anchor"),
    ("🎧", "Headphones"),
    ("📁", "Folder"),
    ("📌", "Pin"),
)


class CancelCode(StrEnum):
    """The spec's m.key.verification.cancel codes."""

    USER = "m.user"
    TIMEOUT = "m.timeout"
    UNKNOWN_TRANSACTION = "m.unknown_transaction"
    UNKNOWN_METHOD = "m.unknown_method"
    UNEXPECTED_MESSAGE = "m.unexpected_message"
    KEY_MISMATCH = "m.key_mismatch"
    USER_MISMATCH = "m.user_mismatch"
    INVALID_MESSAGE = "m.invalid_message"
    ACCEPTED = "m.accepted"
    MISMATCHED_COMMITMENT = "m.mismatched_commitment"
    MISMATCHED_SAS = "m.mismatched_sas"


REASONS: Final[Mapping[str, str]] = {
    CancelCode.USER: "The user cancelled the verification",
    CancelCode.TIMEOUT: "The verification timed out",
    CancelCode.UNKNOWN_TRANSACTION: "Unknown transaction",
    CancelCode.UNKNOWN_METHOD: "No verification method in common",
    CancelCode.UNEXPECTED_MESSAGE: "Unexpected message",
    CancelCode.KEY_MISMATCH: "A key was not verified",
    CancelCode.USER_MISMATCH: "The user did not match",
    CancelCode.INVALID_MESSAGE: "Invalid message",
    CancelCode.ACCEPTED: "The request was accepted by another device",
    CancelCode.MISMATCHED_COMMITMENT: "The hash commitment did not match",
    CancelCode.MISMATCHED_SAS: "The short authentication strings did not match",
}


class State(Enum):
    """Where a verification flow stands."""

    REQUESTED = "requested"  # we sent a request; waiting for ready
    READY = "ready"  # request and ready exchanged; waiting for a start
    STARTED = "started"  # we sent start; waiting for accept
    ACCEPTED = "accepted"  # we accepted their start; waiting for their key
    KEY_SENT = "key_sent"  # we started, got accept, sent our key; waiting for theirs
    KEYS_EXCHANGED = "keys_exchanged"  # the SAS can be shown; waiting for the human
    CONFIRMED = "confirmed"  # the human confirmed, our mac is sent; waiting for their mac
    VERIFIED = "verified"  # both macs good, our done is sent; waiting for their done
    DONE = "done"
    CANCELLED = "cancelled"


_FINAL: Final = frozenset({State.DONE, State.CANCELLED})


class VerificationIgnored(ValueError):
    """A request the spec says to ignore silently (stale, not for us, no common method)."""


class VerificationStateError(RuntimeError):
    """A user action that makes no sense in the flow's current state."""


@dataclass(frozen=True)
class Party:
    """One side of a verification: a device, its ed25519 key, and optionally the master key."""

    user_id: str
    device_id: str
    ed25519: str
    master_key: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """An event to send; the content is complete (flow id included), see the module docstring."""

    type: str
    content: dict[str, Any]
    device_id: str | None = None
    except_device: str | None = None


def canonical_json(value: Any) -> bytes:
    """Matrix canonical JSON: sorted keys, no whitespace, UTF-8 (not \\u-escaped) text."""
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")


def unpadded_b64(data: bytes) -> str:
    """Standard base64 without the trailing '='."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def commitment(public_key: str, start_content: Mapping[str, Any]) -> str:
    """The accept's commitment: unpadded base64 sha256 of public key + canonical start content."""
    return unpadded_b64(
        hashlib.sha256(public_key.encode() + canonical_json(start_content)).digest()
    )


def sas_info(
    starter: tuple[str, str, str], accepter: tuple[str, str, str], transaction_id: str
) -> str:
    """The HKDF info for curve25519-hkdf-sha256; each side is (user_id, device_id, public key)."""
    return "|".join(("MATRIX_KEY_VERIFICATION_SAS", *starter, *accepter, transaction_id))


def mac_info(sender: tuple[str, str], receiver: tuple[str, str], transaction_id: str) -> str:
    """The MAC info prefix (the key id or KEY_IDS follows); each side is (user_id, device_id)."""
    return "".join(("MATRIX_KEY_VERIFICATION_MAC", *sender, *receiver, transaction_id))


def emoji_for(indices: Any) -> tuple[tuple[str, str], ...]:
    """The spec's (emoji, name) pairs for seven 6-bit indices."""
    return tuple(EMOJI[int(i)] for i in indices)


def flow_id(content: Mapping[str, Any]) -> str | None:
    """The flow a received content belongs to: its transaction_id, or the referenced event id."""
    txn = content.get("transaction_id")
    if isinstance(txn, str):
        return txn
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping) and relates.get("rel_type") == "m.reference":
        event_id = relates.get("event_id")
        if isinstance(event_id, str):
            return event_id
    return None


def unknown_transaction(type: str, content: Mapping[str, Any]) -> Outgoing | None:
    """The cancel to answer an event of an unknown flow with (none for start, cancel, request)."""
    if type in (START, CANCEL, REQUEST) or not type.startswith("m.key.verification."):
        return None
    body: dict[str, Any] = {
        "code": CancelCode.UNKNOWN_TRANSACTION.value,
        "reason": REASONS[CancelCode.UNKNOWN_TRANSACTION],
    }
    txn = content.get("transaction_id")
    if isinstance(txn, str):
        body["transaction_id"] = txn
    else:
        event_id = flow_id(content)
        if event_id is None:
            return None
        body["m.relates_to"] = {"rel_type": "m.reference", "event_id": event_id}
    return Outgoing(CANCEL, body)


def request_is_fresh(timestamp_ms: int, now: float) -> bool:
    """A request is valid from 10 minutes in the past to 5 minutes in the future (spec)."""
    age = now - timestamp_ms / 1000
    return -REQUEST_MAX_FUTURE <= age <= REQUEST_MAX_AGE


def _string(content: Mapping[str, Any], key: str) -> str | None:
    """The field if it is a string."""
    value = content.get(key)
    return value if isinstance(value, str) else None


def _strings(content: Mapping[str, Any], key: str) -> list[str] | None:
    """The field if it is a list of strings."""
    value = content.get(key)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


class _Cancel(Exception):
    """Internal: abort handling an event and cancel the flow with this code."""

    def __init__(self, code: CancelCode, reason: str | None = None) -> None:
        """Keep the code and an optional reason."""
        super().__init__(code.value)
        self.code = code
        self.reason = reason


class Verification:
    """One SAS verification flow with one device of another user (or of our own user)."""

    def __init__(
        self,
        own: Party,
        other_user: str,
        *,
        in_room: bool,
        transaction_id: str | None,
        now: float,
        device_key: DeviceKeys,
        master_key: MasterKeys | str | None = None,
        from_request: bool = True,
    ) -> None:
        """Use the classmethods; this only sets the common fields."""
        self.own = own
        self.other_user = other_user
        self.in_room = in_room
        self.transaction_id = transaction_id
        self.from_request = from_request
        self.state = State.REQUESTED
        self.emoji: tuple[tuple[str, str], ...] | None = None
        self.decimals: tuple[int, int, int] | None = None
        self.verified_device: tuple[str, str, str] | None = None
        self.verified_master_key: str | None = None
        self.cancelled: tuple[str, str] | None = None
        self.cancelled_by_us: bool | None = None
        self.we_started: bool | None = None
        self.mac_method: str | None = None
        self.sas_methods: tuple[str, ...] = ()
        self.other_device_id: str | None = None
        self.start_on_ready = False
        self._device_key = device_key
        self._master_key = master_key
        self._their_ed25519: str | None = None
        self._their_master: str | None = None
        self._created = now
        self._last_activity = now
        self._sas: vodozemac.Sas | None = None
        self._established: vodozemac.EstablishedSas | None = None
        self._our_key: str | None = None
        self._their_key: str | None = None
        self._start_content: dict[str, Any] | None = None
        self._commitment: str | None = None
        self._held_mac: dict[str, Any] | None = None
        self._done_received = False
        self._broadcast_request = False

    # ----------------------------------------------------------------- construction

    @classmethod
    def answering(
        cls,
        own: Party,
        request_content: Mapping[str, Any],
        *,
        other_user: str,
        transaction_id: str,
        in_room: bool,
        now: float,
        device_key: DeviceKeys,
        master_key: MasterKeys | str | None = None,
        timestamp_ms: int | None = None,
    ) -> tuple[Verification, list[Outgoing]]:
        """Answer a received request with ready; raises VerificationIgnored if the spec says ignore.

        In-room, transaction_id is the request's event id and timestamp_ms its origin_server_ts;
        to-device, the content's `timestamp` is used unless timestamp_ms is given.
        """
        from_device = _string(request_content, "from_device")
        methods = _strings(request_content, "methods")
        if from_device is None or methods is None:
            raise VerificationIgnored("malformed request")
        if in_room:
            if request_content.get("msgtype") != REQUEST:
                raise VerificationIgnored("not a verification request")
            if request_content.get("to") != own.user_id:
                raise VerificationIgnored("request addressed to someone else")
        else:
            txn = request_content.get("transaction_id")
            if txn is not None and txn != transaction_id:
                raise VerificationIgnored("transaction_id does not match")
            if timestamp_ms is None:
                stamp = request_content.get("timestamp")
                if not isinstance(stamp, int) or isinstance(stamp, bool):
                    raise VerificationIgnored("to-device request without timestamp")
                timestamp_ms = stamp
        if timestamp_ms is not None and not request_is_fresh(timestamp_ms, now):
            raise VerificationIgnored("request too old or too far in the future")
        if other_user == own.user_id and from_device == own.device_id:
            raise VerificationIgnored("our own request")
        if SAS_V1 not in methods:
            raise VerificationIgnored("no verification method in common")
        flow = cls(
            own,
            other_user,
            in_room=in_room,
            transaction_id=transaction_id,
            now=now,
            device_key=device_key,
            master_key=master_key,
        )
        flow.other_device_id = from_device
        flow.state = State.READY
        return flow, [flow._out(READY, {"from_device": own.device_id, "methods": [SAS_V1]})]

    @classmethod
    def requesting(
        cls,
        own: Party,
        other_user: str,
        *,
        in_room: bool,
        now: float,
        device_key: DeviceKeys,
        master_key: MasterKeys | str | None = None,
        transaction_id: str | None = None,
        other_device: str | None = None,
        start_on_ready: bool = True,
    ) -> tuple[Verification, list[Outgoing]]:
        """Send a request (to-device: transaction_id required; in-room: call request_sent after).

        With start_on_ready the machine sends start as soon as ready arrives; otherwise the other
        side starts (or call start()).
        """
        if not in_room and not transaction_id:
            raise ValueError("a to-device request needs a transaction_id")
        flow = cls(
            own,
            other_user,
            in_room=in_room,
            transaction_id=transaction_id,
            now=now,
            device_key=device_key,
            master_key=master_key,
        )
        flow.start_on_ready = start_on_ready
        if in_room:
            content: dict[str, Any] = {
                "msgtype": REQUEST,
                "body": f"{own.user_id} is requesting to verify your key, but your client does "
                "not support in-chat key verification. You will need to use legacy key "
                "verification to verify keys.",
                "from_device": own.device_id,
                "methods": [SAS_V1],
                "to": other_user,
            }
            return flow, [Outgoing(ROOM_MESSAGE, content)]
        flow.other_device_id = other_device
        flow._broadcast_request = other_device is None
        content = {
            "from_device": own.device_id,
            "methods": [SAS_V1],
            "timestamp": int(now * 1000),
            "transaction_id": transaction_id,
        }
        return flow, [Outgoing(REQUEST, content, device_id=other_device)]

    @classmethod
    def from_start(
        cls,
        own: Party,
        start_content: Mapping[str, Any],
        *,
        other_user: str,
        transaction_id: str,
        now: float,
        device_key: DeviceKeys,
        master_key: MasterKeys | str | None = None,
    ) -> tuple[Verification, list[Outgoing]]:
        """Answer a to-device start sent without a request (deprecated, but spec says handle it)."""
        flow = cls(
            own,
            other_user,
            in_room=False,
            transaction_id=transaction_id,
            now=now,
            device_key=device_key,
            master_key=master_key,
            from_request=False,
        )
        flow.state = State.READY
        device = _string(start_content, "from_device")
        if device is None:
            flow.other_device_id = None
            return flow, flow._cancel_now(CancelCode.INVALID_MESSAGE, None)
        flow.other_device_id = device
        return flow, flow.receive(START, start_content, now)

    @classmethod
    def starting(
        cls,
        own: Party,
        other_user: str,
        other_device: str,
        *,
        transaction_id: str,
        now: float,
        device_key: DeviceKeys,
        master_key: MasterKeys | str | None = None,
    ) -> tuple[Verification, list[Outgoing]]:
        """Send a to-device start without a request (deprecated; for clients without requests)."""
        flow = cls(
            own,
            other_user,
            in_room=False,
            transaction_id=transaction_id,
            now=now,
            device_key=device_key,
            master_key=master_key,
            from_request=False,
        )
        flow.state = State.READY
        flow.other_device_id = other_device
        return flow, flow.start(now)

    # ----------------------------------------------------------------- public API

    @property
    def done(self) -> bool:
        """Whether the flow finished successfully."""
        return self.state is State.DONE

    @property
    def other(self) -> Party | None:
        """The other device, once its id and ed25519 key are known."""
        if self.other_device_id is None:
            return None
        key = self._their_device_key()
        if key is None:
            return None
        return Party(self.other_user, self.other_device_id, key, self._their_master_key())

    @property
    def deadline(self) -> float | None:
        """When expire() will cancel the flow (None once it is finished)."""
        if self.state in _FINAL:
            return None
        return min(self._created + FLOW_TIMEOUT, self._last_activity + IDLE_TIMEOUT)

    def request_sent(self, event_id: str) -> None:
        """In-room: record the request's event id, which is the flow's transaction id."""
        if not self.in_room:
            raise VerificationStateError("only in-room requests get their id from the server")
        self.transaction_id = event_id

    def start(self, now: float | None = None) -> list[Outgoing]:
        """Send m.key.verification.start (after ready); both sides may, the tie-break decides."""
        if self.state is not State.READY:
            raise VerificationStateError(f"cannot start in state {self.state.value}")
        self._touch(now)
        body: dict[str, Any] = {
            "from_device": self.own.device_id,
            "method": SAS_V1,
            "key_agreement_protocols": [KEY_AGREEMENT],
            "hashes": [HASH],
            "message_authentication_codes": list(OFFERED_MACS),
            "short_authentication_string": list(SAS_METHODS),
        }
        out = self._out(START, body)
        self._start_content = copy.deepcopy(out.content)
        self._sas = vodozemac.Sas()
        self._our_key = self._sas.public_key.to_base64()
        self.we_started = True
        self.state = State.STARTED
        return [out]

    def confirm(self, now: float | None = None) -> list[Outgoing]:
        """The human says the SAS matches: send our mac (then check a held mac, maybe send done)."""
        if self.state in _FINAL or self.state in (State.CONFIRMED, State.VERIFIED):
            return []
        if self.state is not State.KEYS_EXCHANGED:
            raise VerificationStateError(f"nothing to confirm in state {self.state.value}")
        self._touch(now)
        out = [self._our_mac()]
        self.state = State.CONFIRMED
        held, self._held_mac = self._held_mac, None
        if held is not None:
            try:
                out += self._accept_their_mac(held)
            except _Cancel as cancel:
                out += self._cancel_now(cancel.code, cancel.reason)
        return out

    def reject(self, now: float | None = None) -> list[Outgoing]:
        """The human says the SAS differs: cancel with m.mismatched_sas."""
        if self.state in _FINAL:
            return []
        if self.state not in (State.KEYS_EXCHANGED, State.CONFIRMED):
            raise VerificationStateError(f"no SAS to reject in state {self.state.value}")
        return self.cancel(CancelCode.MISMATCHED_SAS, now=now)

    def cancel(
        self,
        code: CancelCode | str = CancelCode.USER,
        reason: str | None = None,
        *,
        now: float | None = None,
    ) -> list[Outgoing]:
        """Cancel the flow (by us); nothing happens once it is done or cancelled."""
        if self.state in _FINAL:
            return []
        self._touch(now)
        return self._cancel_now(code, reason)

    def expire(self, now: float) -> list[Outgoing]:
        """Cancel with m.timeout if the flow is 10 minutes old or idle (spec); else nothing."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return []
        return self._cancel_now(CancelCode.TIMEOUT, None)

    def receive(
        self, type: str, content: Mapping[str, Any], now: float, *, sender: str | None = None
    ) -> list[Outgoing]:
        """Handle one received event of this flow and return what to send."""
        if self.state in _FINAL:
            return []  # never answer after the end: no cancel loops
        if sender is not None and sender != self.other_user:
            return []  # someone else referencing the flow (in-room anyone can): not ours
        received = flow_id(content)
        if received is None:
            return []  # cannot be routed; the transport should not have passed it
        if self.transaction_id is None or received != self.transaction_id:
            cancel = unknown_transaction(type, content)
            return [] if cancel is None else [cancel]
        if type == CANCEL:
            code = _string(content, "code") or "m.unknown"
            self.cancelled = (code, _string(content, "reason") or "")
            self.cancelled_by_us = False
            self.state = State.CANCELLED
            if self._broadcast_request and not self.in_room and self.other_device_id is None:
                # Bob declined on one device: tell all his devices (spec, framework section).
                return [self._out(CANCEL, {"code": code, "reason": self.cancelled[1]})]
            return []
        timed_out = self.expire(now)
        if timed_out:
            return timed_out
        handler = self._HANDLERS.get(type)
        if handler is None:
            return []  # a verification event we do not know (request echo, future method)
        self._touch(now)
        try:
            return handler(self, content)
        except _Cancel as cancel:
            return self._cancel_now(cancel.code, cancel.reason)

    # ----------------------------------------------------------------- handlers

    def _on_ready(self, content: Mapping[str, Any]) -> list[Outgoing]:
        """We requested; a device of theirs is ready."""
        device = _string(content, "from_device")
        methods = _strings(content, "methods")
        if device is None or methods is None:
            raise _Cancel(CancelCode.INVALID_MESSAGE)
        if self.state is not State.REQUESTED:
            if not self.in_room and self._broadcast_request and device != self.other_device_id:
                # A second device of theirs accepted too late: tell it another one won.
                return [
                    Outgoing(
                        CANCEL,
                        self._flow_fields(
                            {
                                "code": CancelCode.ACCEPTED.value,
                                "reason": REASONS[CancelCode.ACCEPTED],
                            }
                        ),
                        device_id=device,
                    )
                ]
            raise _Cancel(CancelCode.UNEXPECTED_MESSAGE)
        if self.other_device_id is not None and device != self.other_device_id:
            raise _Cancel(CancelCode.UNEXPECTED_MESSAGE, "ready from a device we did not ask")
        if SAS_V1 not in methods:
            raise _Cancel(CancelCode.UNKNOWN_METHOD)
        self.other_device_id = device
        self.state = State.READY
        out: list[Outgoing] = []
        if self._broadcast_request:
            body = {"code": CancelCode.ACCEPTED.value, "reason": REASONS[CancelCode.ACCEPTED]}
            out.append(Outgoing(CANCEL, self._flow_fields(body), except_device=device))
        if self.start_on_ready:
            out += self.start()
        return out

    def _on_start(self, content: Mapping[str, Any]) -> list[Outgoing]:
        """Their start: accept it, or settle a collision with ours by the spec's tie-break."""
        method = _string(content, "method")
        device = _string(content, "from_device")
        if method is None or device is None:
            raise _Cancel(CancelCode.INVALID_MESSAGE)
        if self.state is State.STARTED:
            if method != SAS_V1:
                raise _Cancel(CancelCode.UNEXPECTED_MESSAGE, "both started, different methods")
            assert self.other_device_id is not None
            if (self.own.user_id, self.own.device_id) < (self.other_user, self.other_device_id):
                return []  # we are smaller: theirs is ignored, they will accept ours
            self._start_content = None
            self._sas = None
            self._our_key = None
        elif self.state is not State.READY:
            raise _Cancel(CancelCode.UNEXPECTED_MESSAGE)
        if self.other_device_id is not None and device != self.other_device_id:
            raise _Cancel(CancelCode.UNEXPECTED_MESSAGE, "start from another device")
        if method != SAS_V1:
            raise _Cancel(CancelCode.UNKNOWN_METHOD)
        agreements = _strings(content, "key_agreement_protocols")
        hashes = _strings(content, "hashes")
        macs = _strings(content, "message_authentication_codes")
        strings = _strings(content, "short_authentication_string")
        if agreements is None or hashes is None or macs is None or strings is None:
            raise _Cancel(CancelCode.INVALID_MESSAGE)
        chosen_mac = next((m for m in MAC_PREFERENCE if m in macs), None)
        chosen_strings = [s for s in SAS_METHODS if s in strings]
        if (
            KEY_AGREEMENT not in agreements
            or HASH not in hashes
            or chosen_mac is None
            or not chosen_strings
        ):
            raise _Cancel(CancelCode.UNKNOWN_METHOD)
        self._start_content = copy.deepcopy(dict(content))
        self._sas = vodozemac.Sas()
        self._our_key = self._sas.public_key.to_base64()
        self._commitment = commitment(self._our_key, self._start_content)
        self.mac_method = chosen_mac
        self.sas_methods = tuple(chosen_strings)
        self.we_started = False
        self.state = State.ACCEPTED
        body = {
            "method": SAS_V1,
            "key_agreement_protocol": KEY_AGREEMENT,
            "hash": HASH,
            "message_authentication_code": chosen_mac,
            "short_authentication_string": chosen_strings,
            "commitment": self._commitment,
        }
        return [self._out(ACCEPT, body)]

    def _on_accept(self, content: Mapping[str, Any]) -> list[Outgoing]:
        """They accepted our start: keep the commitment, send our key."""
        if self.state is not State.STARTED:
            raise _Cancel(CancelCode.UNEXPECTED_MESSAGE)
        method = content.get("method", SAS_V1)  # required by the spec; nio leaves it out
        agreement = _string(content, "key_agreement_protocol")
        hash_ = _string(content, "hash")
        mac = _string(content, "message_authentication_code")
        strings = _strings(content, "short_authentication_string")
        commit = _string(content, "commitment")
        if agreement is None or hash_ is None or mac is None or strings is None or commit is None:
            raise _Cancel(CancelCode.INVALID_MESSAGE)
        if (
            method != SAS_V1
            or agreement != KEY_AGREEMENT
            or hash_ != HASH
            or mac not in OFFERED_MACS
            or not strings
            or any(s not in SAS_METHODS for s in strings)
        ):
            raise _Cancel(CancelCode.UNKNOWN_METHOD)
        self._commitment = commit
        self.mac_method = mac
        self.sas_methods = tuple(s for s in SAS_METHODS if s in strings)
        self.state = State.KEY_SENT
        assert self._our_key is not None
        return [self._out(KEY, {"key": self._our_key})]

    def _on_key(self, content: Mapping[str, Any]) -> list[Outgoing]:
        """Their ephemeral key: check the commitment (we started) or answer with ours."""
        if self.state not in (State.ACCEPTED, State.KEY_SENT):
            raise _Cancel(CancelCode.UNEXPECTED_MESSAGE)
        key = _string(content, "key")
        if key is None:
            raise _Cancel(CancelCode.INVALID_MESSAGE)
        assert self._sas is not None and self._our_key is not None
        if self.state is State.KEY_SENT:
            assert self._start_content is not None and self._commitment is not None
            expected = commitment(key, self._start_content)
            if not hmac.compare_digest(expected, self._commitment.rstrip("=")):
                raise _Cancel(CancelCode.MISMATCHED_COMMITMENT)
        try:
            their_key = vodozemac.Curve25519PublicKey.from_base64(key)
            self._established = self._sas.diffie_hellman(their_key)
        except ValueError as error:  # vodozemac.KeyException / SasException
            raise _Cancel(CancelCode.INVALID_MESSAGE, "invalid public key") from error
        self._sas = None
        self._their_key = key
        self._compute_sas()
        out = [] if self.state is State.KEY_SENT else [self._out(KEY, {"key": self._our_key})]
        self.state = State.KEYS_EXCHANGED
        return out

    def _on_mac(self, content: Mapping[str, Any]) -> list[Outgoing]:
        """Their mac: hold it until the human confirms, or check it now."""
        if self.state is State.KEYS_EXCHANGED and self._held_mac is None:
            self._held_mac = copy.deepcopy(dict(content))
            return []
        if self.state is not State.CONFIRMED:
            raise _Cancel(CancelCode.UNEXPECTED_MESSAGE)
        return self._accept_their_mac(content)

    def _on_done(self, content: Mapping[str, Any]) -> list[Outgoing]:
        """Their done: the flow ends once ours is sent too."""
        if not self.from_request:
            return []  # a flow without request has no done step (matrix-sdk-crypto)
        if self.state is State.VERIFIED:
            self.state = State.DONE
            return []
        if self.state is State.CONFIRMED and not self._done_received:
            self._done_received = True  # arrived before their mac: wait for it
            return []
        raise _Cancel(CancelCode.UNEXPECTED_MESSAGE)

    _HANDLERS: Final[dict[str, Callable[[Verification, Mapping[str, Any]], list[Outgoing]]]] = {
        READY: _on_ready,
        START: _on_start,
        ACCEPT: _on_accept,
        KEY: _on_key,
        MAC: _on_mac,
        DONE: _on_done,
    }

    # ----------------------------------------------------------------- crypto helpers

    def _compute_sas(self) -> None:
        """Derive the emoji and decimals from the shared secret."""
        assert self._established is not None and self.other_device_id is not None
        assert self._our_key is not None and self._their_key is not None
        assert self.transaction_id is not None
        ours = (self.own.user_id, self.own.device_id, self._our_key)
        theirs = (self.other_user, self.other_device_id, self._their_key)
        starter, accepter = (ours, theirs) if self.we_started else (theirs, ours)
        sas_bytes = self._established.bytes(sas_info(starter, accepter, self.transaction_id))
        if "emoji" in self.sas_methods:
            self.emoji = emoji_for(sas_bytes.emoji_indices)
        if "decimal" in self.sas_methods:
            first, second, third = sas_bytes.decimals
            self.decimals = (int(first), int(second), int(third))

    def _calculate_mac(self, value: str, info: str) -> str:
        """MAC one value with the agreed method."""
        assert self._established is not None
        if self.mac_method == MAC_LEGACY:
            return self._established.calculate_mac_invalid_base64(value, info)
        return self._established.calculate_mac(value, info)

    def _mac_matches(self, value: str, info: str, tag: str) -> bool:
        """Check one MAC with the agreed method, in constant time."""
        assert self._established is not None
        if self.mac_method == MAC_LEGACY:
            expected = self._established.calculate_mac_invalid_base64(value, info)
            return hmac.compare_digest(expected.encode(), tag.encode())
        try:
            self._established.verify_mac(value, info, tag)
        except ValueError:
            return False
        return True

    def _our_mac(self) -> Outgoing:
        """Our mac event: our device key, our master key if we have one, and the key-id list."""
        assert self.other_device_id is not None and self.transaction_id is not None
        info = mac_info(
            (self.own.user_id, self.own.device_id),
            (self.other_user, self.other_device_id),
            self.transaction_id,
        )
        keys = {f"ed25519:{self.own.device_id}": self.own.ed25519}
        if self.own.master_key:
            keys[f"ed25519:{self.own.master_key}"] = self.own.master_key
        macs = {key_id: self._calculate_mac(key, info + key_id) for key_id, key in keys.items()}
        key_ids = self._calculate_mac(",".join(sorted(macs)), info + "KEY_IDS")
        return self._out(MAC, {"mac": macs, "keys": key_ids})

    def _accept_their_mac(self, content: Mapping[str, Any]) -> list[Outgoing]:
        """Check their mac (after our confirmation); raises _Cancel on any mismatch."""
        macs = content.get("mac")
        key_ids = content.get("keys")
        if (
            not isinstance(macs, Mapping)
            or not macs
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in macs.items())
            or not isinstance(key_ids, str)
        ):
            raise _Cancel(CancelCode.INVALID_MESSAGE)
        assert self.other_device_id is not None and self.transaction_id is not None
        info = mac_info(
            (self.other_user, self.other_device_id),
            (self.own.user_id, self.own.device_id),
            self.transaction_id,
        )
        if not self._mac_matches(",".join(sorted(macs)), info + "KEY_IDS", key_ids):
            raise _Cancel(CancelCode.KEY_MISMATCH, "the key id list did not match")
        device_key = self._their_device_key()
        master = self._their_master_key()
        verified_device: tuple[str, str, str] | None = None
        verified_master: str | None = None
        for key_id, tag in macs.items():
            algorithm, _, name = key_id.partition(":")
            if algorithm != "ed25519":
                continue
            if name == self.other_device_id:
                if device_key is None:
                    raise _Cancel(CancelCode.KEY_MISMATCH, "their device key is unknown")
                if not self._mac_matches(device_key, info + key_id, tag):
                    raise _Cancel(CancelCode.KEY_MISMATCH, f"{key_id} did not match")
                verified_device = (self.other_user, self.other_device_id, device_key)
            elif master is not None and name == master:
                if not self._mac_matches(master, info + key_id, tag):
                    raise _Cancel(CancelCode.KEY_MISMATCH, f"{key_id} did not match")
                verified_master = master
            # Any other key id is covered by KEY_IDS but unknown to us: not verified, not fatal.
        if verified_device is None and verified_master is None:
            raise _Cancel(CancelCode.KEY_MISMATCH, "no key we know was verified")
        self.verified_device = verified_device
        self.verified_master_key = verified_master
        if not self.from_request:
            self.state = State.DONE
            return []
        self.state = State.DONE if self._done_received else State.VERIFIED
        return [self._out(DONE, {})]

    # ----------------------------------------------------------------- plumbing

    def _their_device_key(self) -> str | None:
        """Their device's ed25519 key, looked up until known."""
        if self._their_ed25519 is None and self.other_device_id is not None:
            self._their_ed25519 = self._device_key(self.other_user, self.other_device_id)
        return self._their_ed25519

    def _their_master_key(self) -> str | None:
        """Their master key, given or looked up until known."""
        if self._their_master is None and self._master_key is not None:
            if isinstance(self._master_key, str):
                self._their_master = self._master_key
            else:
                self._their_master = self._master_key(self.other_user)
        return self._their_master

    def _touch(self, now: float | None) -> None:
        """Record activity (an event sent or received)."""
        if now is not None:
            self._last_activity = max(self._last_activity, now)

    def _flow_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add the flow id field the transport in use needs."""
        if self.transaction_id is None:
            raise VerificationStateError("in-room flow without request event id (request_sent)")
        if self.in_room:
            body["m.relates_to"] = {"rel_type": "m.reference", "event_id": self.transaction_id}
        else:
            body["transaction_id"] = self.transaction_id
        return body

    def _out(self, type: str, body: dict[str, Any]) -> Outgoing:
        """An event of this flow for the other device."""
        device = None if self.in_room else self.other_device_id
        return Outgoing(type, self._flow_fields(dict(body)), device_id=device)

    def _cancel_now(self, code: CancelCode | str, reason: str | None) -> list[Outgoing]:
        """Move to CANCELLED (by us) and return the cancel event, if it can be addressed."""
        code_text = str(code)
        text = reason or REASONS.get(code_text, "Cancelled")
        self.cancelled = (code_text, text)
        self.cancelled_by_us = True
        self.state = State.CANCELLED
        self._held_mac = None
        if self.transaction_id is None:
            return []  # an in-room request whose event id we never learnt: nothing to cancel
        return [self._out(CANCEL, {"code": code_text, "reason": text})]
