"""The Element test client (matrix-js-sdk + Rust crypto, tests/element_client.py) against Synapse.

Proves the harness itself: cross-signing bootstrap, encrypted rooms, SAS verification of a
second device by the first, and "exclude insecure devices" (OnlySignedDevicesIsolationMode):
keys withheld from a device its owner never verified, and its messages not decrypted.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.element_client import (
    DeviceStatus,
    ElementClient,
    TimelineEvent,
    close_all,
    harness_problem,
)
from tests.synapse_server import SynapseServer

_names = itertools.count(1)
PASSWORD = "example-password-not-secret"

Launch = Callable[[str], Awaitable[ElementClient]]


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator[Launch]:
    """Start Element clients (one device each); all are closed after the test."""
    problem = harness_problem()
    if problem:
        pytest.fail(problem)
    clients: list[ElementClient] = []

    async def start(name: str) -> ElementClient:
        client = await ElementClient.launch(tmp_path / "element", name=name)
        clients.append(client)
        return client

    yield start
    await close_all(clients)


def user(synapse: SynapseServer, role: str) -> str:
    """A new user with a unique localpart, e.g. `el-a1`."""
    return synapse.register(f"el-{role}{next(_names)}", PASSWORD)


def signed(status: DeviceStatus) -> bool:
    return status["signedByOwner"]


def decided(event: TimelineEvent) -> bool:
    """Decrypted, or failed for good (not still waiting for its key)."""
    return event["body"] is not None or event["decryption_failure"] is not None


async def test_two_cross_signed_users_exchange_an_encrypted_message(
    synapse: SynapseServer, launch: Launch
) -> None:
    alice_id, bob_id = user(synapse, "a"), user(synapse, "b")
    alice, bob = await asyncio.gather(launch("alice"), launch("bob"))
    alice_login, bob_login = await asyncio.gather(
        alice.login(synapse.url, alice_id, PASSWORD, isolation="only_signed"),
        bob.login(synapse.url, bob_id, PASSWORD, isolation="only_signed"),
    )
    assert alice_login["bootstrapped_cross_signing"] and alice_login["cross_signing_ready"]
    assert bob_login["bootstrapped_cross_signing"] and bob_login["cross_signing_ready"]

    room_id = await alice.create_room(name="Example response room", invite=[bob_id])
    assert await bob.join(room_id) is True
    event_id = await alice.send(room_id, "Example alert: all fictional")

    seen = await bob.wait_for_event_id(room_id, event_id, decided)
    assert seen["body"] == "Example alert: all fictional"
    assert seen["is_encrypted"] and seen["wire_type"] == "m.room.encrypted"
    assert seen["decryption_failure"] is None
    assert seen["sender_device"] == alice_login["device_id"]
    assert seen["shield"] == {"colour": "NONE", "reason": None}
    # Bob trusts Alice's identity on first use only, yet her device is signed by her.
    assert (await bob.user_status(alice_id))["isCrossSigningVerified"] is False
    status = await bob.device_status(alice_id, alice_login["device_id"])
    assert status is not None and status["signedByOwner"]


async def test_a_device_verified_by_sas_gets_keys_and_an_unverified_one_does_not(
    synapse: SynapseServer, launch: Launch
) -> None:
    alice_id, bob_id = user(synapse, "a"), user(synapse, "b")
    first, second, unsigned, bob = await asyncio.gather(
        launch("alice-first"), launch("alice-second"), launch("alice-unsigned"), launch("bob")
    )
    await asyncio.gather(
        first.login(synapse.url, alice_id, PASSWORD), bob.login(synapse.url, bob_id, PASSWORD)
    )
    second_login = await second.login(synapse.url, alice_id, PASSWORD, device_name="Second")
    assert second_login["account_had_cross_signing"]
    assert not second_login["bootstrapped_cross_signing"]
    second_device = second_login["device_id"]
    before = await first.device_status(alice_id, second_device)
    assert before is not None and not before["signedByOwner"]

    # The first device verifies the second one by emoji, to-device.
    outgoing = await first.request_verification(alice_id, device_id=second_device)
    incoming = await second.wait_for_verification_request(other_user=alice_id)
    assert incoming["is_self_verification"] and not incoming["in_room"]
    await second.accept_verification(incoming["id"])
    await first.start_sas(outgoing["id"])
    shown_first, shown_second = await asyncio.gather(
        first.sas(outgoing["id"]), second.sas(incoming["id"])
    )
    assert shown_first["emoji"] is not None and len(shown_first["emoji"]) == 7
    assert shown_first["emoji"] == shown_second["emoji"]
    await asyncio.gather(first.confirm_sas(outgoing["id"]), second.confirm_sas(incoming["id"]))
    done_first, done_second = await asyncio.gather(
        first.wait_for_verification(outgoing["id"]), second.wait_for_verification(incoming["id"])
    )
    assert done_first["done"] and done_second["done"], (done_first, done_second)
    # The first device uploads its signature of the second one when the verification is done.
    after = await first.wait_for_device_status(alice_id, second_device, signed)
    assert after["crossSigningVerified"]

    # A third device, logged in and never verified.
    unsigned_login = await unsigned.login_raw(synapse.url, alice_id, PASSWORD)
    room_id = await first.create_room(name="Example isolation room", invite=[bob_id])
    await bob.join(room_id)
    await second.join(room_id)
    await unsigned.join(room_id)
    await bob.wait_for_device_status(alice_id, second_device, signed)

    # Bob, excluding insecure devices, shares his room key with the signed devices only.
    event_id = await bob.send(room_id, "For signed devices only")
    for device in (first, second):
        seen = await device.wait_for_event_id(room_id, event_id, decided)
        assert seen["body"] == "For signed devices only", device.name
        assert seen["shield"] == {"colour": "NONE", "reason": None}
    withheld = await unsigned.wait_for_event_id(room_id, event_id, decided)
    assert withheld["body"] is None
    assert withheld["decryption_failure"] == "MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE"
    unsigned_status = await bob.device_status(alice_id, unsigned_login["device_id"])
    assert unsigned_status is not None and not unsigned_status["signedByOwner"]

    # The unsigned device may send only when it does not exclude insecure devices itself, and
    # Bob still does not decrypt it; the verified second device's messages he does.
    await unsigned.set_isolation("all")
    from_unsigned = await unsigned.send(room_id, "From an unsigned device")
    from_second = await second.send(room_id, "From the verified second device")
    refused = await bob.wait_for_event_id(room_id, from_unsigned, decided)
    assert refused["body"] is None and refused["decryption_failure"] == "UNSIGNED_SENDER_DEVICE"
    accepted = await bob.wait_for_event_id(room_id, from_second, decided)
    assert accepted["body"] == "From the verified second device"
    assert accepted["sender_device"] == second_device
