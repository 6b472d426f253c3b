"""SAS key verification (bot/connectors/matrix/sas.py): two machines, nio interop, failures."""

from __future__ import annotations

import base64
import copy
import json
from collections import deque
from collections.abc import Iterable
from typing import Any

import canonicaljson
import pytest
import vodozemac
from nio.crypto.device import OlmDevice
from nio.crypto.sas import Sas as NioSas
from nio.events.to_device import (
    KeyVerificationAccept,
    KeyVerificationKey,
    KeyVerificationMac,
    KeyVerificationStart,
)

from bot.connectors.matrix import sas
from bot.connectors.matrix.sas import (
    ACCEPT,
    CANCEL,
    DONE,
    KEY,
    MAC,
    READY,
    REQUEST,
    ROOM_MESSAGE,
    START,
    CancelCode,
    Outgoing,
    Party,
    State,
    Verification,
    VerificationIgnored,
)

NOW = 1_760_000_000.0
ROOM_REQUEST_ID = "$request-event:example.org"


def _new_keys() -> tuple[str, str]:
    """A fresh (ed25519 device key, ed25519 'master' key) pair, as unpadded base64."""
    return vodozemac.Account().ed25519_key.to_base64(), vodozemac.Account().ed25519_key.to_base64()


_ALICE_DEVICE_KEY, _ALICE_MASTER = _new_keys()
_BOB_DEVICE_KEY, _BOB_MASTER = _new_keys()
# Alice plays Element (a human's client), Bob the bot.
ALICE = Party("@alice:example.org", "ALICEPHONE", _ALICE_DEVICE_KEY, _ALICE_MASTER)
BOB = Party("@tocsin:example.org", "BOTDEVICE", _BOB_DEVICE_KEY, _BOB_MASTER)
DEVICE_KEYS = {
    (ALICE.user_id, ALICE.device_id): ALICE.ed25519,
    (BOB.user_id, BOB.device_id): BOB.ed25519,
}
MASTER_KEYS = {ALICE.user_id: ALICE.master_key, BOB.user_id: BOB.master_key}


def device_key(user_id: str, device_id: str) -> str | None:
    """The directory every test side uses for device keys."""
    return DEVICE_KEYS.get((user_id, device_id))


def master_key(user_id: str) -> str | None:
    """The directory every test side uses for master keys."""
    return MASTER_KEYS.get(user_id)


def wire(content: dict[str, Any]) -> dict[str, Any]:
    """What the other side receives: the content through JSON, as a homeserver relays it."""
    result: dict[str, Any] = json.loads(json.dumps(content))
    return result


class FakeTransport:
    """Delivers Outgoing events between two machines, checking the transport contract."""

    def __init__(self, in_room: bool) -> None:
        self.in_room = in_room
        self.sides: tuple[Verification, ...] = ()
        self.queue: deque[tuple[Verification, Outgoing]] = deque()
        self.log: list[tuple[Verification, str, dict[str, Any]]] = []

    def check(self, out: Outgoing) -> None:
        """Every content carries the flow id the transport in use needs, and nothing else."""
        if self.in_room:
            assert out.type != REQUEST
            if out.type == ROOM_MESSAGE:
                assert out.content["msgtype"] == REQUEST
                return
            assert "transaction_id" not in out.content
            assert out.content["m.relates_to"] == {
                "rel_type": "m.reference",
                "event_id": ROOM_REQUEST_ID,
            }
        else:
            assert out.type.startswith("m.key.verification.")
            assert isinstance(out.content["transaction_id"], str)
            assert "m.relates_to" not in out.content

    def send(self, source: Verification, outs: Iterable[Outgoing]) -> None:
        """Queue events sent by one machine."""
        for out in outs:
            self.check(out)
            self.queue.append((source, out))

    def pump(self, now: float = NOW) -> None:
        """Deliver until nothing is left to deliver."""
        while self.queue:
            source, out = self.queue.popleft()
            self.log.append((source, out.type, out.content))
            (target,) = [side for side in self.sides if side is not source]
            device = target.own.device_id
            if not self.in_room and (
                out.except_device == device or out.device_id not in (None, device)
            ):
                continue  # addressed to the other user's other devices
            replies = target.receive(out.type, wire(out.content), now, sender=source.own.user_id)
            self.send(target, replies)

    def types(self, source: Verification) -> list[str]:
        """The event types one machine sent, in order."""
        return [type_ for who, type_, _ in self.log if who is source]


def open_flow(
    requester: Party,
    answerer: Party,
    *,
    in_room: bool,
    start_on_ready: bool = True,
    requester_master: str | bool | None = True,
    answerer_master: str | bool | None = True,
) -> tuple[FakeTransport, Verification, Verification]:
    """Requester sends a request, answerer answers ready (nothing delivered past the request)."""
    transport = FakeTransport(in_room)

    def masters(flag: str | bool | None) -> Any:
        return master_key if flag is True else flag or None

    req, outs = Verification.requesting(
        requester,
        answerer.user_id,
        in_room=in_room,
        now=NOW,
        device_key=device_key,
        master_key=masters(requester_master),
        transaction_id=None if in_room else "txn-0001",
        start_on_ready=start_on_ready,
    )
    (request,) = outs
    transport.check(request)
    if in_room:
        assert request.type == ROOM_MESSAGE and request.content["to"] == answerer.user_id
        req.request_sent(ROOM_REQUEST_ID)
        txn = ROOM_REQUEST_ID
    else:
        assert request.type == REQUEST and request.device_id is None
        txn = request.content["transaction_id"]
    ans, replies = Verification.answering(
        answerer,
        wire(request.content),
        other_user=requester.user_id,
        transaction_id=txn,
        in_room=in_room,
        now=NOW + 1,
        device_key=device_key,
        master_key=masters(answerer_master),
        timestamp_ms=int(NOW * 1000) if in_room else None,
    )
    transport.sides = (req, ans)
    transport.send(ans, replies)
    return transport, req, ans


def assert_verified_each_other(a: Verification, b: Verification) -> None:
    """Both done, same SAS, and each verified the other's device and master key."""
    assert a.state is State.DONE and b.state is State.DONE
    assert a.done and b.done
    assert a.emoji is not None and len(a.emoji) == 7 and a.emoji == b.emoji
    assert a.decimals is not None and a.decimals == b.decimals
    assert a.verified_device == (b.own.user_id, b.own.device_id, b.own.ed25519)
    assert b.verified_device == (a.own.user_id, a.own.device_id, a.own.ed25519)
    assert a.verified_master_key == b.own.master_key
    assert b.verified_master_key == a.own.master_key
    assert a.cancelled is None and b.cancelled is None


# --------------------------------------------------------------------------- two machines


@pytest.mark.parametrize("in_room", [False, True], ids=["to-device", "in-room"])
@pytest.mark.parametrize("bot_confirms_first", [True, False], ids=["bot-first", "human-first"])
def test_element_requests_bot_answers(in_room: bool, bot_confirms_first: bool) -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=in_room)
    transport.pump()
    assert transport.types(bot) == [READY, ACCEPT, KEY]
    # To-device, the request went to all Alice's devices: her others are told m.accepted.
    assert transport.types(element) == ([] if in_room else [CANCEL]) + [START, KEY]
    assert element.state is bot.state is State.KEYS_EXCHANGED
    assert element.we_started is True and bot.we_started is False
    assert element.mac_method == bot.mac_method == sas.MAC_V2
    assert element.emoji == bot.emoji
    assert bot.other == Party(ALICE.user_id, ALICE.device_id, ALICE.ed25519, ALICE.master_key)

    first, second = (bot, element) if bot_confirms_first else (element, bot)
    transport.send(first, first.confirm(NOW + 5))
    transport.pump()
    assert second.state is State.KEYS_EXCHANGED  # their mac is held until the human confirms
    assert second.verified_device is None
    assert first.state is State.CONFIRMED
    transport.send(second, second.confirm(NOW + 6))
    transport.pump()
    assert_verified_each_other(element, bot)
    assert transport.types(first)[-2:] == [MAC, DONE]
    assert transport.types(second)[-2:] == [MAC, DONE]


@pytest.mark.parametrize("in_room", [False, True], ids=["to-device", "in-room"])
def test_bot_requests_and_the_human_side_starts(in_room: bool) -> None:
    transport, bot, element = open_flow(BOB, ALICE, in_room=in_room, start_on_ready=False)
    transport.pump()
    assert bot.state is State.READY and element.state is State.READY
    transport.send(element, element.start(NOW + 2))
    transport.pump()
    assert bot.we_started is False and element.we_started is True
    transport.send(bot, bot.confirm())
    transport.send(element, element.confirm())
    transport.pump()
    assert_verified_each_other(bot, element)


def test_bot_requests_and_starts_on_ready_to_device_with_accepted_cancel_for_other_devices() -> (
    None
):
    transport, bot, element = open_flow(BOB, ALICE, in_room=False)
    (ready_sender, ready), *_ = transport.queue
    assert ready.type == READY and ready_sender is element
    replies = bot.receive(READY, wire(ready.content), NOW + 2, sender=ALICE.user_id)
    transport.queue.popleft()
    cancel, start = replies
    # The request went to all Alice's devices; the ones that did not answer are told m.accepted.
    assert cancel.type == CANCEL and cancel.content["code"] == "m.accepted"
    assert cancel.device_id is None and cancel.except_device == ALICE.device_id
    assert start.type == START and start.device_id == ALICE.device_id
    transport.send(bot, [start])
    transport.pump()
    # A second device of Alice's answering late gets m.accepted too, and nothing else changes.
    late = bot.receive(
        READY,
        {"from_device": "ALICELAPTOP", "methods": ["m.sas.v1"], "transaction_id": "txn-0001"},
        NOW + 3,
        sender=ALICE.user_id,
    )
    assert [(o.type, o.content["code"], o.device_id) for o in late] == [
        (CANCEL, "m.accepted", "ALICELAPTOP")
    ]
    assert bot.state is State.KEYS_EXCHANGED
    transport.send(bot, bot.confirm())
    transport.send(element, element.confirm())
    transport.pump()
    assert_verified_each_other(bot, element)


def test_without_master_keys_only_the_device_is_verified() -> None:
    bot_alone = Party(BOB.user_id, BOB.device_id, BOB.ed25519)  # no cross-signing key yet
    transport, element, bot = open_flow(ALICE, bot_alone, in_room=True, answerer_master=None)
    transport.pump()
    transport.send(element, element.confirm())
    transport.send(bot, bot.confirm())
    transport.pump()
    assert element.done and bot.done
    assert element.verified_device == (BOB.user_id, BOB.device_id, BOB.ed25519)
    assert element.verified_master_key is None  # Bob sent none
    # Bob knows no master key for Alice: her master-key MAC is covered by KEY_IDS but unverified.
    assert bot.verified_device == (ALICE.user_id, ALICE.device_id, ALICE.ed25519)
    assert bot.verified_master_key is None
    (mac,) = [c for who, t, c in transport.log if who is element and t == MAC]
    assert sorted(mac["mac"]) == sorted(
        [f"ed25519:{ALICE.device_id}", f"ed25519:{ALICE.master_key}"]
    )


def test_a_master_key_can_be_given_as_a_string() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False, answerer_master=ALICE.master_key)
    transport.pump()
    transport.send(element, element.confirm())
    transport.send(bot, bot.confirm())
    transport.pump()
    assert bot.verified_master_key == ALICE.master_key


def test_done_overtaking_their_mac_is_held() -> None:
    _, element, bot = _keys_exchanged()
    (bot_mac,) = bot.confirm()
    (element_mac,) = element.confirm()
    (element_done,) = element.receive(MAC, wire(bot_mac.content), NOW, sender=BOB.user_id)
    assert element_done.type == DONE and element.state is State.VERIFIED
    # Element's done overtakes its mac on the way to the bot.
    assert bot.receive(DONE, wire(element_done.content), NOW, sender=ALICE.user_id) == []
    assert bot.state is State.CONFIRMED
    (bot_done,) = bot.receive(MAC, wire(element_mac.content), NOW, sender=ALICE.user_id)
    assert bot_done.type == DONE and bot.done
    assert element.receive(DONE, wire(bot_done.content), NOW, sender=BOB.user_id) == []
    assert_verified_each_other(element, bot)


# --------------------------------------------------------------------------- nio interop


def _nio_event(cls: Any, sender: str, type_: str, content: dict[str, Any]) -> Any:
    """A nio to-device event object, as nio parses it from a sync."""
    return cls.from_dict({"sender": sender, "type": type_, "content": wire(content)})


def _hex_to_b64(commitment: str) -> str:
    """nio 0.26 writes the commitment as hex; the spec (and Element) as unpadded base64."""
    return sas.unpadded_b64(bytes.fromhex(commitment))


def _b64_to_hex(commitment: str) -> str:
    """The reverse of _hex_to_b64."""
    return base64.b64decode(commitment + "=" * (-len(commitment) % 4)).hex()


class _NioLegacyMac:
    """nio 0.26's EstablishedSas with the spec's hkdf-hmac-sha256 (libolm) base64 for its MACs.

    nio 0.26 labels its MACs hkdf-hmac-sha256 but computes them with vodozemac's correct base64,
    which is hkdf-hmac-sha256.v2; matrix-sdk-crypto uses calculate_mac_invalid_base64 for the
    legacy name, as the spec's note on libolm's base64 bug requires.
    """

    def __init__(self, inner: vodozemac.EstablishedSas) -> None:
        self.inner = inner

    def bytes(self, info: str) -> Any:
        return self.inner.bytes(info)

    def calculate_mac(self, value: str, info: str) -> str:
        return self.inner.calculate_mac_invalid_base64(value, info)


def _nio_emoji(nio_sas: NioSas) -> tuple[tuple[str, str], ...]:
    """The spec's emoji for nio's SAS bytes (nio's own get_emoji misreads vodozemac's indices)."""
    assert nio_sas.established_sas is not None
    return sas.emoji_for(nio_sas.established_sas.bytes(nio_sas._extra_info).emoji_indices)


def test_interop_nio_starts_legacy_to_device_and_the_bot_answers() -> None:
    bob_device = OlmDevice(BOB.user_id, BOB.device_id, {"ed25519": BOB.ed25519})
    nio = NioSas(ALICE.user_id, ALICE.device_id, ALICE.ed25519, bob_device, "nio-txn-1")
    start = nio.start_verification().content
    bot, outs = Verification.from_start(
        BOB,
        wire(start),
        other_user=ALICE.user_id,
        transaction_id="nio-txn-1",
        now=NOW,
        device_key=device_key,
    )
    (accept,) = outs
    assert accept.type == ACCEPT and accept.device_id == ALICE.device_id
    # nio offers only the legacy MAC and both key agreements: we pick the spec's hkdf one.
    assert accept.content["message_authentication_code"] == sas.MAC_LEGACY
    assert accept.content["key_agreement_protocol"] == sas.KEY_AGREEMENT
    for_nio = dict(accept.content, commitment=_b64_to_hex(accept.content["commitment"]))
    nio.receive_accept_event(_nio_event(KeyVerificationAccept, BOB.user_id, ACCEPT, for_nio))
    assert not nio.canceled

    (bot_key,) = bot.receive(KEY, wire(nio.share_key().content), NOW, sender=ALICE.user_id)
    nio.receive_key_event(_nio_event(KeyVerificationKey, BOB.user_id, KEY, bot_key.content))
    assert not nio.canceled  # nio checked our commitment (its own canonical JSON and hash)
    assert bot.state is State.KEYS_EXCHANGED
    assert bot.decimals == nio.get_decimals()
    assert bot.emoji == _nio_emoji(nio)

    nio.established_sas = _NioLegacyMac(nio.established_sas)
    nio.accept_sas()
    assert bot.receive(MAC, wire(nio.get_mac().content), NOW, sender=ALICE.user_id) == []
    (bot_mac,) = bot.confirm()  # no done: a start without request has no done step
    assert bot.done
    assert bot.verified_device == (ALICE.user_id, ALICE.device_id, ALICE.ed25519)
    nio.receive_mac_event(_nio_event(KeyVerificationMac, BOB.user_id, MAC, bot_mac.content))
    assert nio.verified and nio.verified_devices == [BOB.device_id]


def test_interop_the_bot_starts_and_nio_answers_with_v2_macs() -> None:
    bot, (start,) = Verification.starting(
        BOB,
        ALICE.user_id,
        ALICE.device_id,
        transaction_id="bot-txn-1",
        now=NOW,
        device_key=device_key,
    )
    start_event = _nio_event(KeyVerificationStart, BOB.user_id, START, start.content)
    bob_device = OlmDevice(BOB.user_id, BOB.device_id, {"ed25519": BOB.ed25519})
    nio = NioSas.from_key_verification_start(
        ALICE.user_id, ALICE.device_id, ALICE.ed25519, bob_device, start_event
    )
    assert not nio.canceled
    accept = dict(nio.accept_verification().content)
    # nio 0.26 only names hkdf-hmac-sha256, but its MAC code computes what the spec calls
    # hkdf-hmac-sha256.v2 (correct base64); relabelling the accept (not covered by the
    # commitment) lets nio's unmodified MAC code be checked against ours.
    assert accept["message_authentication_code"] == sas.MAC_LEGACY
    accept["message_authentication_code"] = sas.MAC_V2
    accept["commitment"] = _hex_to_b64(accept["commitment"])
    (bot_key,) = bot.receive(ACCEPT, wire(accept), NOW, sender=ALICE.user_id)
    nio.receive_key_event(_nio_event(KeyVerificationKey, BOB.user_id, KEY, bot_key.content))
    assert not nio.canceled
    # nio's commitment is over nio's canonical JSON of our start as it received it.
    assert bot.receive(KEY, wire(nio.share_key().content), NOW, sender=ALICE.user_id) == []
    assert bot.state is State.KEYS_EXCHANGED and bot.cancelled is None
    assert bot.decimals == nio.get_decimals()
    assert bot.emoji == _nio_emoji(nio)

    nio.accept_sas()
    (bot_mac,) = bot.confirm()
    nio.receive_mac_event(_nio_event(KeyVerificationMac, BOB.user_id, MAC, bot_mac.content))
    assert nio.verified and nio.verified_devices == [BOB.device_id]
    assert bot.receive(MAC, wire(nio.get_mac().content), NOW, sender=ALICE.user_id) == []
    assert bot.done
    assert bot.verified_device == (ALICE.user_id, ALICE.device_id, ALICE.ed25519)


# --------------------------------------------------------------------------- failures


def _keys_exchanged(in_room: bool = False) -> tuple[FakeTransport, Verification, Verification]:
    """A flow where both sides show the SAS (Element requested and started)."""
    transport, element, bot = open_flow(ALICE, BOB, in_room=in_room)
    transport.pump()
    assert element.state is bot.state is State.KEYS_EXCHANGED
    return transport, element, bot


def _only_cancel(outs: list[Outgoing], code: str) -> None:
    """The outgoing list is exactly one cancel with this code."""
    assert [(o.type, o.content["code"]) for o in outs] == [(CANCEL, code)]


def test_wrong_commitment_cancels_with_mismatched_commitment() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False)
    _, ready = transport.queue.popleft()
    accepted, start = element.receive(READY, wire(ready.content), NOW, sender=BOB.user_id)
    assert accepted.content["code"] == "m.accepted" and accepted.except_device == BOB.device_id
    (accept,) = bot.receive(START, wire(start.content), NOW, sender=ALICE.user_id)
    forged = dict(accept.content, commitment=sas.unpadded_b64(b"\0" * 32))
    (element_key,) = element.receive(ACCEPT, wire(forged), NOW, sender=BOB.user_id)
    (bot_key,) = bot.receive(KEY, wire(element_key.content), NOW, sender=ALICE.user_id)
    outs = element.receive(KEY, wire(bot_key.content), NOW, sender=BOB.user_id)
    _only_cancel(outs, "m.mismatched_commitment")
    assert element.cancelled == ("m.mismatched_commitment", "The hash commitment did not match")
    assert element.cancelled_by_us is True and element.emoji is None
    assert bot.receive(CANCEL, wire(outs[0].content), NOW, sender=ALICE.user_id) == []
    assert bot.cancelled is not None and bot.cancelled[0] == "m.mismatched_commitment"
    assert bot.cancelled_by_us is False


def test_commitment_covers_the_in_room_relation() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=True)
    _, ready = transport.queue.popleft()
    (start,) = element.receive(READY, wire(ready.content), NOW, sender=BOB.user_id)
    (accept,) = bot.receive(START, wire(start.content), NOW, sender=ALICE.user_id)
    (element_key,) = element.receive(ACCEPT, wire(accept.content), NOW, sender=BOB.user_id)
    bot.receive(KEY, wire(element_key.content), NOW, sender=ALICE.user_id)
    # The bot's commitment is over the start exactly as received, m.relates_to included.
    assert accept.content["commitment"] == sas.commitment(bot._our_key or "", start.content)
    without = {k: v for k, v in start.content.items() if k != "m.relates_to"}
    assert accept.content["commitment"] != sas.commitment(bot._our_key or "", without)


@pytest.mark.parametrize("in_room", [False, True], ids=["to-device", "in-room"])
@pytest.mark.parametrize(
    "tamper",
    ["device-mac", "master-mac", "key-ids", "extra-key-id", "dropped-key-id"],
)
def test_tampered_mac_cancels_with_key_mismatch(in_room: bool, tamper: str) -> None:
    _, element, bot = _keys_exchanged(in_room)
    (mac_out, *_) = element.confirm()
    content = copy.deepcopy(mac_out.content)
    device_id = f"ed25519:{ALICE.device_id}"
    master_id = f"ed25519:{ALICE.master_key}"
    if tamper == "device-mac":
        content["mac"][device_id] = element._calculate_mac("forged", "info")
    elif tamper == "master-mac":
        content["mac"][master_id] = content["mac"][device_id]
    elif tamper == "key-ids":
        content["keys"] = content["mac"][device_id]
    elif tamper == "extra-key-id":
        content["mac"]["ed25519:EVILDEVICE"] = content["mac"][device_id]
    else:
        del content["mac"][master_id]
    assert bot.receive(MAC, wire(content), NOW, sender=ALICE.user_id) == []  # held
    outs = bot.confirm()
    assert [o.type for o in outs] == [MAC, CANCEL]
    assert outs[1].content["code"] == "m.key_mismatch"
    assert bot.state is State.CANCELLED and bot.verified_device is None


def test_tampered_mac_after_confirm_cancels_at_once() -> None:
    _, element, bot = _keys_exchanged()
    bot.confirm()
    (mac_out, *_) = element.confirm()
    content = copy.deepcopy(mac_out.content)
    content["mac"][f"ed25519:{ALICE.device_id}"] = content["keys"]
    _only_cancel(bot.receive(MAC, wire(content), NOW, sender=ALICE.user_id), "m.key_mismatch")


def test_unknown_device_key_cancels_with_key_mismatch() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False)
    bot._device_key = lambda user_id, device_id: None
    transport.pump()
    assert bot.other is None and bot.other_device_id == ALICE.device_id
    (mac_out, *_) = element.confirm()
    bot.receive(MAC, wire(mac_out.content), NOW, sender=ALICE.user_id)
    outs = bot.confirm()
    assert outs[-1].content["code"] == "m.key_mismatch"


@pytest.mark.parametrize(
    ("state_maker", "event_type"),
    [
        ("ready", KEY),  # a key before any start
        ("ready", MAC),
        ("ready", ACCEPT),  # we never started
        ("ready", DONE),
        ("keys", START),  # a second start mid-flow
        ("keys", KEY),  # a second key
        ("keys", DONE),  # done before we sent our mac
    ],
)
def test_unexpected_event_order_cancels_with_unexpected_message(
    state_maker: str, event_type: str
) -> None:
    if state_maker == "ready":
        transport, _, bot = open_flow(ALICE, BOB, in_room=False, start_on_ready=False)
        transport.pump()
        assert bot.state is State.READY
    else:
        _, _, bot = _keys_exchanged()
    content: dict[str, Any] = {
        "transaction_id": "txn-0001",
        "key": vodozemac.Sas().public_key.to_base64(),
        "mac": {"ed25519:X": "AAAA"},
        "keys": "AAAA",
        "from_device": ALICE.device_id,
        "method": "m.sas.v1",
        "key_agreement_protocols": [sas.KEY_AGREEMENT],
        "hashes": ["sha256"],
        "message_authentication_codes": [sas.MAC_V2],
        "short_authentication_string": ["emoji"],
        "key_agreement_protocol": sas.KEY_AGREEMENT,
        "hash": "sha256",
        "message_authentication_code": sas.MAC_V2,
        "commitment": "AAAA",
    }
    outs = bot.receive(event_type, content, NOW, sender=ALICE.user_id)
    _only_cancel(outs, "m.unexpected_message")
    # After a cancel nothing is answered any more (no cancel loops).
    assert bot.receive(event_type, content, NOW, sender=ALICE.user_id) == []
    assert bot.receive(CANCEL, {"transaction_id": "txn-0001", "code": "m.user"}, NOW) == []


def test_second_mac_before_confirm_is_unexpected() -> None:
    _, element, bot = _keys_exchanged()
    (mac_out, *_) = element.confirm()
    assert bot.receive(MAC, wire(mac_out.content), NOW, sender=ALICE.user_id) == []
    outs = bot.receive(MAC, wire(mac_out.content), NOW, sender=ALICE.user_id)
    _only_cancel(outs, "m.unexpected_message")


@pytest.mark.parametrize("in_room", [False, True], ids=["to-device", "in-room"])
def test_reject_cancels_with_mismatched_sas(in_room: bool) -> None:
    transport, element, bot = _keys_exchanged(in_room)
    outs = bot.reject(NOW + 3)
    _only_cancel(outs, "m.mismatched_sas")
    assert bot.cancelled == ("m.mismatched_sas", sas.REASONS[CancelCode.MISMATCHED_SAS])
    transport.send(bot, outs)
    transport.pump()
    assert element.state is State.CANCELLED and element.cancelled_by_us is False
    assert element.cancelled is not None and element.cancelled[0] == "m.mismatched_sas"
    assert element.confirm() == [] and bot.reject() == [] and bot.cancel() == []


def test_reject_before_any_sas_is_an_error() -> None:
    transport, _, bot = open_flow(ALICE, BOB, in_room=False, start_on_ready=False)
    transport.pump()
    with pytest.raises(sas.VerificationStateError):
        bot.reject()
    with pytest.raises(sas.VerificationStateError):
        bot.confirm()


def test_cancel_by_the_user() -> None:
    transport, element, bot = _keys_exchanged(True)
    outs = element.cancel(now=NOW + 1)
    _only_cancel(outs, "m.user")
    transport.send(element, outs)
    transport.pump()
    assert bot.cancelled == ("m.user", sas.REASONS[CancelCode.USER])


@pytest.mark.parametrize(
    "change",
    [
        {"method": "m.reciprocate.v1"},
        {"key_agreement_protocols": ["curve25519"]},  # only the deprecated agreement
        {"hashes": ["sha512"]},
        {"message_authentication_codes": ["hmac-sha256"]},
        {"short_authentication_string": ["pictures"]},
    ],
    ids=["method", "key-agreement", "hash", "mac", "sas"],
)
def test_unknown_method_in_start_cancels_with_unknown_method(change: dict[str, Any]) -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False, start_on_ready=False)
    transport.pump()
    (start,) = element.start(NOW)
    content = dict(start.content, **change)
    _only_cancel(bot.receive(START, content, NOW, sender=ALICE.user_id), "m.unknown_method")


def test_unknown_method_in_accept_or_ready() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False, start_on_ready=False)
    transport.pump()
    (start,) = element.start(NOW)
    (accept,) = bot.receive(START, wire(start.content), NOW, sender=ALICE.user_id)
    bad = dict(accept.content, message_authentication_code="hmac-sha256")
    _only_cancel(element.receive(ACCEPT, bad, NOW, sender=BOB.user_id), "m.unknown_method")

    req, _ = Verification.requesting(
        BOB, ALICE.user_id, in_room=False, now=NOW, device_key=device_key, transaction_id="t2"
    )
    ready = {
        "from_device": ALICE.device_id,
        "methods": ["m.qr_code.show.v1"],
        "transaction_id": "t2",
    }
    _only_cancel(req.receive(READY, ready, NOW, sender=ALICE.user_id), "m.unknown_method")


def test_invalid_key_cancels_with_invalid_message() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False, start_on_ready=False)
    transport.pump()
    (start,) = element.start(NOW)
    bot.receive(START, wire(start.content), NOW, sender=ALICE.user_id)
    outs = bot.receive(KEY, {"transaction_id": "txn-0001", "key": "bm90IGEga2V5"}, NOW)
    _only_cancel(outs, "m.invalid_message")


def test_expiry_cancels_with_timeout() -> None:
    _, element, bot = _keys_exchanged()
    assert bot.deadline == NOW + 1 + sas.FLOW_TIMEOUT  # the bot's flow began at NOW + 1
    assert bot.expire(NOW + 1 + sas.FLOW_TIMEOUT - 1) == []
    outs = bot.expire(NOW + 1 + sas.FLOW_TIMEOUT)
    _only_cancel(outs, "m.timeout")
    assert bot.deadline is None and bot.expire(NOW + 10_000) == []
    # An event arriving after the deadline is answered with m.timeout, not handled.
    assert element.expire(NOW + 30) == []
    element.confirm()
    late = element.receive(MAC, {"transaction_id": "txn-0001"}, NOW + 700, sender=BOB.user_id)
    _only_cancel(late, "m.timeout")


def test_idle_timeout_counts_from_the_last_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sas, "IDLE_TIMEOUT", 60.0)
    _, _, bot = _keys_exchanged()
    assert bot.deadline == NOW + 1 + 60  # the bot's last activity: its ready, at NOW + 1
    bot.confirm(now=NOW + 50)  # sending counts as activity
    assert bot.deadline == NOW + 110
    assert bot.expire(NOW + 109) == []
    _only_cancel(bot.expire(NOW + 110), "m.timeout")


@pytest.mark.parametrize(
    ("requester", "answerer", "requester_wins"),
    [
        (ALICE, BOB, True),  # "@alice..." < "@tocsin...": Alice's start wins
        (BOB, ALICE, False),
        (
            Party("@same:example.org", "AAAA", _ALICE_DEVICE_KEY),
            Party("@same:example.org", "BBBB", _BOB_DEVICE_KEY),
            True,  # the same user on both sides: the device ids decide
        ),
        (
            Party("@zed:example.org", "AAAA", _ALICE_DEVICE_KEY),
            Party("@amy:example.org", "ZZZZ", _BOB_DEVICE_KEY),
            False,  # the user ids decide before the device ids
        ),
    ],
    ids=["requester-smaller", "answerer-smaller", "same-user", "user-before-device"],
)
def test_start_collision_is_resolved_by_the_tie_break(
    requester: Party, answerer: Party, requester_wins: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for party in (requester, answerer):
        monkeypatch.setitem(DEVICE_KEYS, (party.user_id, party.device_id), party.ed25519)
    transport, req, ans = open_flow(requester, answerer, in_room=False, start_on_ready=False)
    transport.pump()
    (req_start,) = req.start(NOW)
    (ans_start,) = ans.start(NOW)
    # Both starts cross on the wire.
    to_req = req.receive(START, wire(ans_start.content), NOW, sender=answerer.user_id)
    to_ans = ans.receive(START, wire(req_start.content), NOW, sender=requester.user_id)
    win, lose = (req, ans) if requester_wins else (ans, req)
    win_out, lose_out = (to_req, to_ans) if requester_wins else (to_ans, to_req)
    assert win_out == []  # the winner ignores the loser's start
    assert [o.type for o in lose_out] == [ACCEPT]
    assert win.we_started is True and lose.we_started is False
    transport.send(lose, lose_out)
    transport.pump()
    assert win.emoji == lose.emoji and win.emoji is not None
    transport.send(win, win.confirm())
    transport.send(lose, lose.confirm())
    transport.pump()
    assert win.done and lose.done
    assert win.verified_device == (lose.own.user_id, lose.own.device_id, lose.own.ed25519)
    assert lose.verified_device == (win.own.user_id, win.own.device_id, win.own.ed25519)


def test_collision_with_different_methods_is_unexpected() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False, start_on_ready=False)
    transport.pump()
    bot.start(NOW)
    (start,) = element.start(NOW)
    qr = dict(start.content, method="m.reciprocate.v1", secret="c2VjcmV0")
    _only_cancel(bot.receive(START, qr, NOW, sender=ALICE.user_id), "m.unexpected_message")


# --------------------------------------------------------------------------- requests, routing


def _to_device_request(**change: Any) -> dict[str, Any]:
    """Element's to-device request content."""
    content = {
        "from_device": ALICE.device_id,
        "methods": ["m.sas.v1", "m.qr_code.show.v1", "m.reciprocate.v1"],
        "timestamp": int(NOW * 1000),
        "transaction_id": "txn-9",
    }
    content.update(change)
    return content


@pytest.mark.parametrize(
    "content",
    [
        _to_device_request(timestamp=int((NOW - 601) * 1000)),  # more than 10 minutes old
        _to_device_request(timestamp=int((NOW + 301) * 1000)),  # more than 5 minutes ahead
        {k: v for k, v in _to_device_request().items() if k != "timestamp"},
        _to_device_request(methods=["m.qr_code.scan.v1"]),  # nothing in common: do not cancel
        _to_device_request(from_device=None),
        _to_device_request(transaction_id="another"),
    ],
    ids=["stale", "future", "no-timestamp", "no-common-method", "no-device", "other-txn"],
)
def test_requests_the_spec_says_to_ignore(content: dict[str, Any]) -> None:
    with pytest.raises(VerificationIgnored):
        Verification.answering(
            BOB,
            content,
            other_user=ALICE.user_id,
            transaction_id="txn-9",
            in_room=False,
            now=NOW,
            device_key=device_key,
        )


def test_fresh_edges_are_accepted() -> None:
    for stamp in (NOW - 600, NOW + 300):
        _, (ready,) = Verification.answering(
            BOB,
            _to_device_request(timestamp=int(stamp * 1000)),
            other_user=ALICE.user_id,
            transaction_id="txn-9",
            in_room=False,
            now=NOW,
            device_key=device_key,
        )
        assert ready.content == {
            "from_device": BOB.device_id,
            "methods": ["m.sas.v1"],
            "transaction_id": "txn-9",
        }
        assert ready.device_id == ALICE.device_id


def test_in_room_request_for_someone_else_or_stale_is_ignored() -> None:
    content = {
        "msgtype": REQUEST,
        "body": "verify?",
        "from_device": ALICE.device_id,
        "methods": ["m.sas.v1"],
        "to": "@someone-else:example.org",
    }
    args: dict[str, Any] = {
        "other_user": ALICE.user_id,
        "transaction_id": ROOM_REQUEST_ID,
        "in_room": True,
        "now": NOW,
        "device_key": device_key,
    }
    with pytest.raises(VerificationIgnored):
        Verification.answering(BOB, content, **args)
    content["to"] = BOB.user_id
    with pytest.raises(VerificationIgnored):
        Verification.answering(BOB, content, timestamp_ms=int((NOW - 700) * 1000), **args)
    flow, (ready,) = Verification.answering(BOB, content, timestamp_ms=int(NOW * 1000), **args)
    assert ready.type == READY and flow.state is State.READY
    assert ready.content["m.relates_to"]["event_id"] == ROOM_REQUEST_ID


def test_unknown_transaction_and_strangers() -> None:
    _, _, bot = _keys_exchanged()
    other = {"transaction_id": "not-ours", "key": "AAAA"}
    (cancel,) = bot.receive(KEY, other, NOW, sender=ALICE.user_id)
    assert cancel.content == {
        "code": "m.unknown_transaction",
        "reason": "Unknown transaction",
        "transaction_id": "not-ours",
    }
    assert bot.state is State.KEYS_EXCHANGED  # our flow is untouched
    assert bot.receive(START, dict(other), NOW) == []  # no unknown_transaction for a start
    assert sas.unknown_transaction(CANCEL, other) is None
    in_room = sas.unknown_transaction(
        MAC, {"m.relates_to": {"rel_type": "m.reference", "event_id": "$x"}}
    )
    assert in_room is not None and in_room.content["m.relates_to"]["event_id"] == "$x"
    # Someone else in the room referencing our request is not a party to it.
    assert (
        bot.receive(CANCEL, {"transaction_id": "txn-0001", "code": "m.user"}, NOW, sender="@eve:x")
        == []
    )
    assert bot.state is State.KEYS_EXCHANGED


def test_flow_id_routing_helper() -> None:
    assert sas.flow_id({"transaction_id": "t"}) == "t"
    assert sas.flow_id({"m.relates_to": {"rel_type": "m.reference", "event_id": "$e"}}) == "$e"
    assert sas.flow_id({"m.relates_to": {"rel_type": "m.thread", "event_id": "$e"}}) is None
    assert sas.flow_id({}) is None


def test_requester_declined_on_one_device_tells_all_devices() -> None:
    req, _ = Verification.requesting(
        BOB, ALICE.user_id, in_room=False, now=NOW, device_key=device_key, transaction_id="t3"
    )
    outs = req.receive(CANCEL, {"transaction_id": "t3", "code": "m.user", "reason": "no"}, NOW)
    assert [(o.type, o.content["code"], o.device_id) for o in outs] == [(CANCEL, "m.user", None)]
    assert req.cancelled == ("m.user", "no") and req.cancelled_by_us is False


def test_in_room_cancel_before_the_request_event_id_is_known_sends_nothing() -> None:
    req, _ = Verification.requesting(
        BOB, ALICE.user_id, in_room=True, now=NOW, device_key=device_key
    )
    assert req.cancel() == [] and req.state is State.CANCELLED


# --------------------------------------------------------------------------- byte-level details


def test_commitment_matches_matrix_sdk_crypto_vector() -> None:
    # crates/matrix-sdk-crypto/src/verification/sas/helpers.rs, test commitment_calculation.
    content = {
        "from_device": "XOWLHHFSWM",
        "transaction_id": "bYxBsirjUJO9osar6ST4i2M2NjrYLA7l",
        "method": "m.sas.v1",
        "key_agreement_protocols": ["curve25519-hkdf-sha256", "curve25519"],
        "hashes": ["sha256"],
        "message_authentication_codes": ["hkdf-hmac-sha256", "hmac-sha256"],
        "short_authentication_string": ["decimal", "emoji"],
    }
    key = "Q/NmNFEUS1fS+YeEmiZkjjblKTitrKOAk7cPEumcMlg"
    assert sas.commitment(key, content) == "CCQmB4JCdB0FW21FdAnHj/Hu8+W9+Nb0vgwPEnZZQ4g"


def test_canonical_json_matches_the_canonicaljson_package() -> None:
    value = {
        "z": [1, {"b": "é ☁️ \u2028", "a": None}],
        "m.relates_to": {"rel_type": "m.reference", "event_id": "$ev"},
        "a": 'line\nbreak "quoted" \\ \u0001',
        "n": -12,
        "t": True,
    }
    assert sas.canonical_json(value) == canonicaljson.encode_canonical_json(value)


def test_info_strings_follow_the_spec() -> None:
    assert (
        sas.sas_info(("@a:x", "DA", "KA"), ("@b:y", "DB", "KB"), "txn")
        == "MATRIX_KEY_VERIFICATION_SAS|@a:x|DA|KA|@b:y|DB|KB|txn"
    )
    assert sas.mac_info(("@a:x", "DA"), ("@b:y", "DB"), "txn") == (
        "MATRIX_KEY_VERIFICATION_MAC@a:xDA@b:yDBtxn"
    )


def test_emoji_and_decimals_come_from_the_same_hkdf_bytes() -> None:
    # Spec: emoji = first 42 bits in 6-bit groups; first decimal = (B0 << 5 | B1 >> 3) + 1000.
    # So the first emoji index is (first decimal - 1000) >> 7.
    for n in range(20):
        established = vodozemac.Sas().diffie_hellman(vodozemac.Sas().public_key)
        generated = established.bytes(f"info {n}")
        indices = list(generated.emoji_indices)
        assert len(indices) == 7 and all(0 <= i < 64 for i in indices)
        assert indices[0] == (generated.decimals[0] - 1000) >> 7
        assert all(1000 <= d <= 9191 for d in generated.decimals)


def test_emoji_table_is_the_spec_table() -> None:
    assert len(sas.EMOJI) == 64 and len({e for e, _ in sas.EMOJI}) == 64
    assert sas.EMOJI[0] == ("🐶", "Dog") and sas.EMOJI[34] == ("🔧", "Spanner")
    assert sas.EMOJI[36] == ("👍", "Thumbs Up") and sas.EMOJI[53] == ("✈️", "Aeroplane")
    assert sas.EMOJI[63] == ("📌", "Pin")


def test_legacy_mac_uses_libolm_base64_and_v2_the_correct_one() -> None:
    a, b = vodozemac.Sas(), vodozemac.Sas()
    established = a.diffie_hellman(b.public_key)
    flow = Verification(
        BOB, ALICE.user_id, in_room=False, transaction_id="t", now=NOW, device_key=device_key
    )
    flow._established = established
    flow.mac_method = sas.MAC_V2
    v2 = flow._calculate_mac("key", "info")
    flow.mac_method = sas.MAC_LEGACY
    legacy = flow._calculate_mac("key", "info")
    assert v2 == established.calculate_mac("key", "info")
    assert legacy == established.calculate_mac_invalid_base64("key", "info")
    assert v2 != legacy
    assert flow._mac_matches("key", "info", legacy) and not flow._mac_matches("key", "info", v2)
    flow.mac_method = sas.MAC_V2
    assert flow._mac_matches("key", "info", v2) and not flow._mac_matches("key", "info", legacy)


def test_our_start_offers_what_the_spec_requires() -> None:
    transport, element, bot = open_flow(ALICE, BOB, in_room=False, start_on_ready=False)
    transport.pump()
    (start,) = bot.start(NOW)
    assert start.content == {
        "from_device": BOB.device_id,
        "method": "m.sas.v1",
        "key_agreement_protocols": ["curve25519-hkdf-sha256"],
        "hashes": ["sha256"],
        "message_authentication_codes": ["hkdf-hmac-sha256.v2", "hkdf-hmac-sha256"],
        "short_authentication_string": ["decimal", "emoji"],
        "transaction_id": "txn-0001",
    }
    (accept,) = element.receive(START, wire(start.content), NOW, sender=BOB.user_id)
    assert accept.content["method"] == "m.sas.v1"  # required: Ruma (Element) parses by it
    assert accept.content["message_authentication_code"] == "hkdf-hmac-sha256.v2"
    assert accept.content["short_authentication_string"] == ["decimal", "emoji"]


def test_key_ids_mac_is_over_the_sorted_key_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # "~" sorts after every base64 character, so the master key id sorts first: the order the
    # MACs are built in (device first) is not the sorted order.
    bot_tilde = Party(BOB.user_id, "~BOTDEVICE", BOB.ed25519, BOB.master_key)
    monkeypatch.setitem(DEVICE_KEYS, (bot_tilde.user_id, bot_tilde.device_id), bot_tilde.ed25519)
    transport, element, bot = open_flow(ALICE, bot_tilde, in_room=False)
    transport.pump()
    (mac_out,) = bot.confirm()
    key_ids = list(mac_out.content["mac"])
    assert sorted(key_ids) == [f"ed25519:{BOB.master_key}", "ed25519:~BOTDEVICE"] != key_ids
    assert bot._established is not None
    info = sas.mac_info((BOB.user_id, "~BOTDEVICE"), (ALICE.user_id, ALICE.device_id), "txn-0001")
    expected = bot._established.calculate_mac(",".join(sorted(key_ids)), info + "KEY_IDS")
    assert mac_out.content["keys"] == expected
    element.confirm()
    assert [o.type for o in element.receive(MAC, wire(mac_out.content), NOW)] == [DONE]
