"""Tocsin against a client on Element's own crypto stack (matrix-js-sdk + Rust crypto,
tests/element_client.py) with "exclude insecure devices" on (OnlySignedDevicesIsolationMode),
on the session's real Synapse: what responders see in Element, and who Tocsin obeys."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import connector_kit
from bot.connectors.matrix.connector import MatrixConnector
from bot.connectors.matrix.verifying import read_pending
from bot.domain.playbook import Playbook
from bot.domain.world import World
from config.settings import Settings
from handlers.context import Services
from handlers.reminders import run_due
from tests.conftest import isolated_environment
from tests.element_client import ElementClient, TimelineEvent, close_all, harness_problem
from tests.factories import fresh_services
from tests.synapse_server import SynapseServer

_names = itertools.count(1)
PASSWORD = "example-password-not-secret"
NEW = (
    "!ua new country=HN threats=arbitrary_detention profiles=journalist "
    'summary="Fictional journalist held without charge"'
)


@pytest.fixture
def database(tmp_path: Path, world: World, playbook: Playbook) -> Iterator[Services]:
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    yield services
    engine.dispose()


class Crew:
    """The bot's account and a lead (an admin) who uses Element, all fictional."""

    def __init__(self, synapse: SynapseServer, folder: Path, services: Services) -> None:
        n = next(_names)
        self.synapse = synapse
        self.folder = folder
        self.bot_id = synapse.register(f"tocsin-el{n}", PASSWORD)
        self.lead_id = synapse.register(f"lead-el{n}", PASSWORD)
        self.mate_id = synapse.register(f"mate-el{n}", PASSWORD)
        self.services = replace(services, admins=frozenset({f"matrix:{self.lead_id}"}))
        self.bots: list[MatrixConnector] = []
        self.clients: list[ElementClient] = []

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "_env_file": None,
            "matrix_homeserver": self.synapse.url,
            "matrix_user_id": self.bot_id,
            "matrix_password": PASSWORD,
            "matrix_store_path": self.folder / "bot-store",
            "matrix_allowed_inviters": [self.lead_id, self.mate_id],
            "tocsin_admins": [f"matrix:{self.lead_id}"],
        }
        return Settings(**{**values, **overrides})  # type: ignore[arg-type]

    async def start_bot(self, **overrides: object) -> MatrixConnector:
        kit = connector_kit(self.services)
        bot = MatrixConnector(self.settings(**overrides), kit, max_retry_wait_s=0.5)
        await bot.start()
        self.bots.append(bot)
        return bot

    async def stop_bot(self, bot: MatrixConnector) -> None:
        await bot.stop()
        self.bots.remove(bot)

    async def element(
        self, name: str, *, signed: bool = True, user_id: str | None = None
    ) -> ElementClient:
        """A new Element device of the lead (or `user_id`); `signed=False` logs in one never
        cross-signed."""
        user_id = user_id or self.lead_id
        client = await ElementClient.launch(self.folder / "element", name=name)
        self.clients.append(client)
        if signed:
            await client.login(self.synapse.url, user_id, PASSWORD, isolation="only_signed")
        else:  # a client that ignores the rule, as whoever holds a stolen password would use
            await client.login_raw(self.synapse.url, user_id, PASSWORD, isolation="all")
        return client

    def cli(self, *args: str, store: Path | None = None) -> subprocess.CompletedProcess[str]:
        environment = isolated_environment(
            self.folder / "unused.db", MATRIX_STORE_PATH=str(store or self.folder / "bot-store")
        )
        return subprocess.run(
            [sys.executable, "-m", "bot", "matrix", *args],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )

    async def close(self) -> None:
        for bot in list(self.bots):
            await bot.stop()
        await close_all(self.clients)


@pytest.fixture
async def crew(synapse: SynapseServer, tmp_path: Path, database: Services) -> AsyncIterator[Crew]:
    problem = harness_problem()
    if problem:
        pytest.fail(problem)
    team = Crew(synapse, tmp_path, database)
    yield team
    await team.close()


def from_bot(crew: Crew, text: str) -> Callable[[TimelineEvent], bool]:
    """A message of Tocsin's (not an edit) whose decrypted body holds `text`."""

    def matches(event: TimelineEvent) -> bool:
        relation: dict[str, Any] = event["content"].get("m.relates_to") or {}
        return (
            event["sender"] == crew.bot_id
            and text in (event["body"] or "")
            and relation.get("rel_type") != "m.replace"
        )

    return matches


async def ask(
    crew: Crew,
    client: ElementClient,
    room: str,
    command: str,
    expect: str,
    *,
    thread_root: str | None = None,
    timeout: float = 30.0,
) -> TimelineEvent:
    """Send a command and wait for Tocsin's new message holding `expect`."""
    before = {e["event_id"] for e in await client.timeline(room)}
    await client.send(room, command, thread_root=thread_root)
    answered = from_bot(crew, expect)
    return await client.wait_for(
        room, lambda e: e["event_id"] not in before and answered(e), timeout=timeout
    )


async def new_from_bot(
    crew: Crew, client: ElementClient, room: str, before: set[str], expect: str
) -> TimelineEvent:
    answered = from_bot(crew, expect)
    return await client.wait_for(room, lambda e: e["event_id"] not in before and answered(e))


def undecryptable_from_bot(crew: Crew) -> Callable[[TimelineEvent], bool]:
    def matches(event: TimelineEvent) -> bool:
        return event["sender"] == crew.bot_id and event["decryption_failure"] is not None

    return matches


def is_verified_by_owner(event: TimelineEvent) -> bool:
    """What Element shows without any shield: decrypted, from a device its owner signed."""
    return event["decryption_failure"] is None and event["shield"] == {
        "colour": "NONE",
        "reason": None,
    }


def _joined(event: TimelineEvent, user_id: str) -> bool:
    return (
        event["type"] == "m.room.member"
        and event["state_key"] == user_id
        and event["content"].get("membership") == "join"
    )


async def bound_room(crew: Crew, lead: ElementClient) -> str:
    room = await lead.create_room(name="Fictional response team", invite=[crew.bot_id])

    async def joined() -> bool | None:
        events = await lead.timeline(room, include_state=True)
        return True if any(_joined(e, crew.bot_id) for e in events) else None

    await lead.wait_until(joined, what="Tocsin joining")
    bound = await ask(crew, lead, room, "!ua bind Test team", "bound here")
    assert is_verified_by_owner(bound), bound
    return room


async def test_an_element_client_excluding_insecure_devices_works_with_tocsin_end_to_end(
    crew: Crew,
) -> None:
    bot = await crew.start_bot()
    lead = await crew.element("lead phone")
    room = await bound_room(crew, lead)

    card = await ask(crew, lead, room, NEW, "UA-")
    assert is_verified_by_owner(card), card["shield"]
    assert "Inter-American Commission" in (card["body"] or "")
    code = "UA-" + (card["body"] or "").split("UA-", 1)[1].split()[0].rstrip(".:·")

    # A command in the card's thread is answered there; a step done by command edits the card.
    shown = await ask(
        crew, lead, room, f"!ua show {code}", f"{code} · open", thread_root=card["event_id"]
    )
    assert shown["thread_root"] == card["event_id"] and is_verified_by_owner(shown)
    await ask(crew, lead, room, f"!ua done {code} 1 fictional note", "Step 1 done.")
    edited = await lead.wait_for_event_id(
        room, card["event_id"], lambda e: e["replaced_body"] not in (None, e["body"])
    )
    assert "fictional note" in (edited["replaced_body"] or "") or edited["replaced_body"]

    # A reminder's ✅, sent in the clear as Element does, marks the step done and says so.
    await ask(crew, lead, room, f"!ua claim {code} 2", "Step 2 is")
    before = {e["event_id"] for e in await lead.timeline(room)}
    later = crew.services.clock() + timedelta(days=30)
    for out in run_due(crew.services, later, started_at=later):
        await bot.send(out.place, out.message)
    reminder = await new_from_bot(crew, lead, room, before, f"step 2 of {code}")
    before = {e["event_id"] for e in await lead.timeline(room)}
    await lead.react(room, reminder["event_id"], "✅")
    done = await new_from_bot(crew, lead, room, before, "Step 2 done.")
    assert "not encrypted" in (done["body"] or "")
    trail = await ask(crew, lead, room, f"!ua log {code}", f"{code} · log")
    phone_device = lead.device_id
    assert f"(device {phone_device}, cross-signed)" in (trail["body"] or "")
    assert "(device unknown, unencrypted reaction)" in (trail["body"] or "")

    # The lead verifies Tocsin by emoji; the admin confirms them at the server.
    request = await lead.request_verification(crew.bot_id, device_id=bot.device_id)

    async def ready() -> bool | None:
        state = await lead.verification_state(request["id"])
        return True if state["phase"] not in ("Requested", "Unsent") else None

    await lead.wait_until(ready, what="Tocsin ready to verify")
    await lead.start_sas(request["id"])
    shown_to_lead = await lead.sas(request["id"])
    pending = await _pending(crew, lead)
    assert pending[0]["user"] == crew.lead_id
    assert pending[0]["emoji"] == shown_to_lead["emoji"]
    answered = crew.cli("verify", crew.lead_id, "--yes")
    assert answered.returncode == 0, answered.stderr
    await lead.confirm_sas(request["id"])
    state = await lead.wait_for_verification(request["id"])
    assert state["done"], state
    assert (await lead.user_status(crew.bot_id))["isCrossSigningVerified"]
    listed = await ask(crew, lead, room, "!ua list", code)
    assert is_verified_by_owner(listed)


async def _pending(crew: Crew, client: ElementClient) -> list[dict[str, Any]]:
    """The emoji Tocsin waits for a word on, once it has them."""
    store = crew.folder / "bot-store"

    async def waiting() -> list[dict[str, Any]] | None:
        return read_pending(store) or None

    return await client.wait_until(waiting, what="Tocsin's emoji")


async def test_only_devices_their_owner_signed_are_obeyed_and_an_identity_change_is_held(
    crew: Crew,
) -> None:
    await crew.start_bot()
    phone = await crew.element("lead phone")
    room = await bound_room(crew, phone)

    # A device made straight through the client API, never signed: no key, no obedience.
    rogue = await crew.element("rogue login", signed=False)
    assert await rogue.join(room)
    before = {e["event_id"] for e in await phone.timeline(room)}
    await rogue.send(room, NEW.replace("Fictional journalist", "Forged"))
    refused = await new_from_bot(crew, phone, room, before, "I ignored a command")
    assert "not signed by its owner" in (refused["body"] or "")
    await rogue.wait_for(room, undecryptable_from_bot(crew))
    assert not any("· open" in (e["body"] or "") for e in await phone.timeline(room))

    # A second device, verified by emoji from the first, is answered and reads the answer.
    laptop = await crew.element("lead laptop")
    assert await laptop.join(room)
    request = await phone.request_verification(crew.lead_id)
    incoming = await laptop.wait_for_verification_request(other_user=crew.lead_id)
    await laptop.accept_verification(incoming["id"])
    await phone.start_sas(request["id"])
    assert (await phone.sas(request["id"]))["emoji"] == (await laptop.sas(incoming["id"]))["emoji"]
    await laptop.confirm_sas(incoming["id"])
    await phone.confirm_sas(request["id"], wait_done=True)
    assert laptop.device_id
    await phone.wait_for_device_status(crew.lead_id, laptop.device_id, lambda d: d["signedByOwner"])
    answer = await ask(crew, laptop, room, "!ua list", "No open cases", timeout=40)
    assert is_verified_by_owner(answer)

    # The lead's identity is reset (as a stolen account would be): keys and obedience held
    # until the admin accepts the new master key at the server; a teammate reads the warning.
    mate = await crew.element("teammate", user_id=crew.mate_id)
    await phone.invite(room, crew.mate_id)
    assert await mate.join(room)
    await phone.reset_cross_signing()
    before = {e["event_id"] for e in await mate.timeline(room)}
    await phone.send(room, "!ua list")
    warning = await new_from_bot(crew, mate, room, before, "Matrix identity changed")
    assert is_verified_by_owner(warning)
    await mate.wait_for(
        room, lambda e: e["event_id"] not in before and "I ignored" in (e["body"] or "")
    )
    await phone.wait_for(
        room, lambda e: e["event_id"] == warning["event_id"] and e["decryption_failure"] is not None
    )
    new_master = (warning["body"] or "").split("new master key ", 1)[1].split(")")[0]
    accepted = crew.cli("accept", crew.lead_id, new_master)
    assert accepted.returncode == 0, accepted.stderr
    await ask(crew, phone, room, "!ua list all", "No cases", timeout=40)


async def test_a_restart_and_a_lost_store_keep_tocsin_verified_by_owner(crew: Crew) -> None:
    bot = await crew.start_bot()
    lead = await crew.element("lead phone")
    room = await bound_room(crew, lead)
    recovery_key = (crew.folder / "bot-store" / "recovery-key.txt").read_text().splitlines()[-1]

    await crew.stop_bot(bot)
    await crew.start_bot()
    after_restart = await ask(crew, lead, room, "!ua list", "No open cases")
    assert is_verified_by_owner(after_restart)

    await crew.stop_bot(crew.bots[0])
    await crew.start_bot(
        matrix_store_path=crew.folder / "new-store", matrix_recovery_key=recovery_key
    )
    after_loss = await ask(crew, lead, room, "!ua list all", "No cases", timeout=40)
    assert is_verified_by_owner(after_loss), after_loss["shield"]
