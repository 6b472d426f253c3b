"""The Matrix connector against a real Synapse homeserver on loopback, with real encryption."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from nio import MegolmEvent, MemoryDownloadResponse, RoomKeyRequest, ToDeviceMessage
from nio.crypto.attachments import decrypt_attachment
from sqlalchemy import Engine, func, select

from bot.app import Background, connector_kit
from bot.connectors.matrix.api import ClientApi
from bot.connectors.matrix.connector import TIMELINE_LIMIT, MatrixConnector
from bot.connectors.matrix.devices import fingerprint
from bot.connectors.matrix.identities import published_identity
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.outbox import queue
from bot.outbox.dispatcher import Connectors
from bot.store.leader import LeaderLock
from bot.store.models import Case, Defender, OutboxMessage
from config.playbook import load_playbook
from config.settings import Settings
from handlers.context import Services
from handlers.reminders import run_due
from tests.conftest import isolated_environment
from tests.factories import bind_place, fresh_services
from tests.fault_drill import DRILL_PLAYBOOK, STEPS, tally
from tests.matrix_people import Responder, Seen
from tests.synapse_server import SynapseServer

NEW = (
    "!ua new country=HN threats=arbitrary_detention profiles=journalist "
    'summary="Fictional journalist held without charge"'
)
_names = itertools.count(1)
LOGGED_NAME = "Ana Fictional-Logged"


@pytest.fixture
def database(tmp_path: Path, world: World, playbook: Playbook) -> Iterator[tuple[Services, Engine]]:
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    yield services, engine
    engine.dispose()


class Team:
    """A fictional team on the test homeserver: the bot's account and allowed responders."""

    def __init__(self, synapse: SynapseServer, folder: Path, services: Services) -> None:
        n = next(_names)
        self.synapse = synapse
        self.folder = folder
        self.bot_password = "pw-bot"
        self.bot_id = synapse.register(f"tocsin{n}", self.bot_password)
        self.lead_localpart = f"lead{n}"
        self.admin = "matrix:" + synapse.user_id(self.lead_localpart)
        self.services = replace(services, admins=frozenset({self.admin}))
        self.bots: list[MatrixConnector] = []
        self.people: list[Responder] = []

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "_env_file": None,
            "matrix_homeserver": self.synapse.url,
            "matrix_user_id": self.bot_id,
            "matrix_password": self.bot_password,
            "matrix_store_path": self.folder / "bot-store",
            "matrix_allowed_inviters": [self.synapse.user_id(self.lead_localpart)],
            "tocsin_admins": [self.admin],
        }
        return Settings(**{**values, **overrides})  # type: ignore[arg-type]

    async def start_bot(self, **overrides: object) -> MatrixConnector:
        bot = MatrixConnector(
            self.settings(**overrides), connector_kit(self.services), max_retry_wait_s=0.5
        )
        await bot.start()
        self.bots.append(bot)
        return bot

    async def person(self, localpart: str) -> Responder:
        someone = Responder(self.synapse, localpart, self.folder / localpart)
        await someone.log_in()
        self.people.append(someone)
        return someone

    async def lead(self) -> Responder:
        return await self.person(self.lead_localpart)

    async def close(self) -> None:
        for bot in self.bots:
            await bot.stop()
        for someone in self.people:
            await someone.close()


@pytest.fixture
async def team(
    synapse: SynapseServer, tmp_path: Path, database: tuple[Services, Engine]
) -> AsyncIterator[Team]:
    crew = Team(synapse, tmp_path, database[0])
    yield crew
    await crew.close()


def from_bot(team: Team, text: str) -> object:
    def matches(seen: Seen) -> bool:
        return (
            seen.event.sender == team.bot_id
            and text in seen.body
            and seen.relation.get("rel_type") != "m.replace"  # an edit, not a new message
        )

    return matches


async def joined_room(
    team: Team,
    lead: Responder,
    *,
    encrypted: bool = True,
    disclosure: str | None = None,
    bind: bool = True,
) -> str:
    """A room the bot joined and the lead (an admin) bound, at `disclosure` if given."""
    room = await lead.create_room(invite=[team.bot_id], encrypted=encrypted)
    await lead.wait_for(
        lambda s: (
            s.room_id == room
            and s.event.source.get("type") == "m.room.member"
            and s.event.source.get("state_key") == team.bot_id
            and s.content.get("membership") == "join"
        )
    )
    if not bind:
        return room
    mark = len(lead.seen)
    await lead.say(room, "!ua bind Test team")
    await lead.wait_for(from_bot(team, "bound here"), after=mark)
    if disclosure:
        await lead.say(room, f"!ua disclosure {disclosure}")
        await lead.wait_for(from_bot(team, f"Disclosure here is now {disclosure}"), after=mark)
    return room


async def test_an_alert_in_an_encrypted_room_gets_an_encrypted_case_card(team: Team) -> None:
    bot = await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead)

    await lead.say(room, NEW)
    card = await lead.wait_for(from_bot(team, "UA-"))

    assert card.event.source.get("type") == "m.room.message"
    assert card.room_id == room
    assert "Inter-American Commission" in card.body
    assert "<" in card.content["formatted_body"]
    assert card.content["m.mentions"] == {}
    assert bot.device_id
    assert lead.undecrypted() == []

    # The log names the device that opened the case and how Tocsin trusted it (nio's test
    # clients have no cross-signing: trusted on first use).
    code = "UA-" + card.body.split("UA-", 1)[1].split()[0].rstrip(".:·")
    mark = len(lead.seen)
    await lead.say(room, f"!ua log {code}")
    log_reply = await lead.wait_for(from_bot(team, f"{code} · log"), after=mark)
    assert f"(device {lead.client.device_id}, first use)" in log_reply.body


async def test_steps_are_done_by_command_and_by_reaction_and_the_card_is_edited(
    team: Team,
) -> None:
    bot = await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead)
    await lead.say(room, NEW)
    card = await lead.wait_for(from_bot(team, "UA-"))
    code = card.body.split("UA-", 1)[1].split()[0].rstrip(".:·")
    code = f"UA-{code}"

    mark = len(lead.seen)
    await lead.say(room, f"!ua done {code} 1 fictional note")
    edit = await lead.wait_for(lambda s: s.relation.get("rel_type") == "m.replace", after=mark)
    assert edit.relation["event_id"] == card.event.event_id
    assert edit.event.decrypted
    assert "m.new_content" in edit.content
    threaded = await lead.wait_for(from_bot(team, "Step 1 done."), after=mark)
    assert threaded.relation["rel_type"] == "m.thread"
    assert threaded.relation["event_id"] == card.event.event_id

    mark = len(lead.seen)
    await lead.say(room, f"!ua claim {code} 2")
    await lead.wait_for(from_bot(team, "Step 2 is"), after=mark)

    # A command written in the card's thread is answered in that thread.
    mark = len(lead.seen)
    asked = await lead.say(room, f"!ua show {code}", thread=card.event.event_id)
    shown = await lead.wait_for(from_bot(team, f"{code} · open"), after=mark)
    assert shown.relation["rel_type"] == "m.thread"
    assert shown.relation["event_id"] == card.event.event_id
    assert shown.relation["m.in_reply_to"] == {"event_id": asked}

    # Every open step falls due: reminders go in the card's thread, pinging only the owner.
    later = team.services.clock() + timedelta(days=30)
    mark = len(lead.seen)
    for out in run_due(team.services, later, started_at=later):
        await bot.send(out.place, out.message)
    reminder = await lead.wait_for(
        from_bot(team, f"Reminder for {lead.user_id}: step 2 of {code}"), after=mark
    )
    assert reminder.relation["rel_type"] == "m.thread"
    assert reminder.relation["event_id"] == card.event.event_id
    assert reminder.content["m.mentions"] == {"user_ids": [lead.user_id]}
    role_reminder = await lead.wait_for(from_bot(team, "Reminder for responder"), after=mark)
    assert role_reminder.content["m.mentions"] == {}
    step = 2

    mark = len(lead.seen)
    await lead.react(room, reminder.event.event_id, "✅", encrypted=True)
    done = await lead.wait_for(from_bot(team, f"Step {step} done."), after=mark)
    assert done.relation["rel_type"] == "m.thread"
    await lead.wait_for(lambda s: s.relation.get("rel_type") == "m.replace", after=mark)
    mark = len(lead.seen)
    await lead.say(room, f"!ua log {code}")
    trail = await lead.wait_for(from_bot(team, "step done"), after=mark)
    assert trail.body.count(lead.user_id) >= 2  # the command and the reaction, both by the lead


def membership(team: Team, room: str, state: str) -> object:
    def matches(seen: Seen) -> bool:
        return (
            seen.room_id == room
            and seen.event.source.get("type") == "m.room.member"
            and seen.event.source.get("state_key") == team.bot_id
            and seen.content.get("membership") == state
        )

    return matches


async def test_invites_from_strangers_are_declined_and_the_bot_leaves_with_the_last_ally(
    team: Team,
) -> None:
    await team.start_bot()
    stranger = await team.person(f"stranger{next(_names)}")
    refused = await stranger.create_room(invite=[team.bot_id])
    await stranger.wait_for(membership(team, refused, "leave"))

    lead = await team.lead()
    room = await joined_room(team, lead)
    await lead.client.room_invite(room, stranger.user_id)
    await stranger.client.join(room)
    mark = len(stranger.seen)
    await stranger.say(room, NEW)
    assert await stranger.quiet_for(3, sender=team.bot_id, after=mark) == []

    await lead.client.room_leave(room)
    await stranger.wait_for(membership(team, room, "leave"), after=mark)


async def case_code(team: Team, lead: Responder, room: str) -> tuple[str, Seen]:
    """Raise the standard fictional alert; the new case's code and its card."""
    mark = len(lead.seen)
    await lead.say(room, NEW)
    card = await lead.wait_for(from_bot(team, "UA-"), after=mark)
    return "UA-" + card.body.split("UA-", 1)[1].split()[0].rstrip(".:·"), card


async def test_a_restart_mid_case_keeps_the_device_and_never_replays_a_command(
    team: Team,
) -> None:
    bot = await team.start_bot()
    device = bot.device_id
    lead = await team.lead()
    room = await joined_room(team, lead)
    code, card = await case_code(team, lead, room)
    await bot.stop()
    team.bots.remove(bot)

    await lead.say(room, "!ua list")  # sent while Tocsin is down
    mark = len(lead.seen)
    again = await team.start_bot()
    assert again.device_id == device
    await lead.wait_for(from_bot(team, "Open cases (1)"), after=mark)
    await lead.say(room, f"!ua done {code} 1")
    edit = await lead.wait_for(lambda s: s.relation.get("rel_type") == "m.replace", after=mark)
    assert edit.relation["event_id"] == card.event.event_id  # the card posted before the restart
    await lead.wait_for(from_bot(team, "Step 1 done."), after=mark)
    await lead.quiet_for(1, sender=team.bot_id, after=mark)
    replies = [s.body for s in lead.seen[mark:] if s.event.sender == team.bot_id and s.body]
    assert sum("Opened" in body for body in replies) == 0, "the alert was answered again"
    assert sum("Open cases" in body for body in replies) == 1
    assert lead.undecrypted() == []


async def test_a_signed_out_session_is_replaced_by_a_new_device_that_reads_the_room(
    team: Team,
) -> None:
    bot = await team.start_bot()
    old_device = bot.device_id
    lead = await team.lead()
    room = await joined_room(team, lead)
    await bot.stop()
    team.bots.remove(bot)
    saved = json.loads((team.folder / "bot-store" / "credentials.json").read_text())
    # Someone signs Tocsin's session out (Element: Sessions → Sign out).
    signed_out = Request(
        f"{team.synapse.url}/_matrix/client/v3/logout",
        data=b"{}",
        headers={"Authorization": f"Bearer {saved['access_token']}"},
    )
    with urlopen(signed_out, timeout=10):
        pass

    again = await team.start_bot()
    assert again.device_id != old_device
    await lead.sync()
    code, card = await case_code(team, lead, room)
    assert card.event.decrypted and code.startswith("UA-")


async def test_the_bot_rides_out_a_homeserver_restart(team: Team) -> None:
    bot = await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead)
    code, _ = await case_code(team, lead, room)

    await asyncio.to_thread(team.synapse.stop)
    try:
        # Due while the homeserver is down: queued, tried, and posted once it is back.
        later = team.services.clock() + timedelta(days=30)
        for out in run_due(team.services, later, started_at=later)[:1]:
            await bot.send(out.place, out.message)
        await asyncio.sleep(2)  # the bot's sync and delivery both meet a refused connection
    finally:
        await asyncio.to_thread(team.synapse.start)

    mark = len(lead.seen)
    await lead.wait_for(from_bot(team, "Reminder for"), timeout=40)
    await lead.say(room, f"!ua show {code}")
    await lead.wait_for(from_bot(team, f"{code} · open"), after=mark, timeout=40)


async def test_an_undecryptable_command_gets_a_notice_and_is_handled_when_its_key_comes_late(
    team: Team,
) -> None:
    bot = await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead)
    await lead.sync()
    # The lead's device withholds its key from Tocsin's device: Tocsin cannot read the command.
    bot_devices = list(lead.client.device_store.active_user_devices(team.bot_id))
    assert [d.id for d in bot_devices] == [bot.device_id]
    lead.client.blacklist_device(bot_devices[0])
    await lead.client.share_group_session(room, ignore_unverified_devices=True)
    session = lead.client.olm.outbound_group_sessions[room]
    first_key = session.session_key  # before the command: what a late share would carry
    mark = len(lead.seen)
    await lead.say(room, NEW)
    notice = await lead.wait_for(from_bot(team, "could not decrypt"), after=mark)
    assert lead.user_id in notice.body
    assert not any("Opened" in s.body for s in lead.seen[mark:])
    requests = [
        r for r in lead.to_device if isinstance(r, RoomKeyRequest) and r.sender == team.bot_id
    ]
    assert requests and requests[0].room_id == room

    # The key comes late: the lead's device sends the same session's key to Tocsin's device
    # (as Element does when it shares keys after the message), and the command is handled once.
    await lead.client.keys_claim({team.bot_id: [bot.device_id]})  # an Olm session to send it in
    device = bot_devices[0]
    olm_session = lead.client.olm.session_store.get(device.curve25519)
    room_key = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": room,
        "session_id": session.id,
        "session_key": first_key,
    }
    encrypted = lead.client.olm._olm_encrypt(olm_session, device, "m.room_key", room_key)
    await lead.client.to_device(
        ToDeviceMessage("m.room.encrypted", team.bot_id, bot.device_id, encrypted)
    )
    card = await lead.wait_for(from_bot(team, "· open"), after=mark)
    assert "Honduras" in card.body
    await lead.sync()
    cards = [s for s in lead.seen[mark:] if s.event.sender == team.bot_id and "· open" in s.body]
    assert len(cards) == 1


async def test_a_plaintext_command_in_an_encrypted_room_is_refused(team: Team) -> None:
    await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead)
    mark = len(lead.seen)
    await lead.say_in_plaintext(room, "!ua list")
    refusal = await lead.wait_for(from_bot(team, "it was not encrypted"), after=mark)
    assert refusal.event.decrypted
    assert not any("No open cases" in s.body for s in lead.seen[mark:])


async def test_a_guided_alert_asks_one_field_at_a_time_and_can_be_cancelled(team: Team) -> None:
    await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead)

    async def exchange(text: str, expect: str) -> Seen:
        mark = len(lead.seen)
        await lead.say(room, text)
        return await lead.wait_for(from_bot(team, expect), after=mark)

    await exchange("!ua new", "1/5")
    await exchange("Atlantis", "Not accepted")
    await exchange("Honduras", "2/5")
    await exchange("arbitrary_detention", "3/5")
    await exchange("journalist", "4/5")
    await exchange("Fictional journalist held overnight", "5/5")
    opened = await exchange("done", "UA-")
    assert "Inter-American Commission" in opened.body

    await exchange("!ua new", "1/5")
    await exchange("cancel", "Cancelled")
    mark = len(lead.seen)
    await lead.say(room, "Honduras")  # no longer an answer to anything
    assert await lead.quiet_for(2, sender=team.bot_id, after=mark) == []


async def sealed_from_bot(team: Team, someone: Responder, after: int) -> Seen:
    """The next message from the bot that `someone` cannot decrypt."""
    return await someone.wait_for(
        lambda s: s.event.sender == team.bot_id and isinstance(s.event, MegolmEvent), after=after
    )


async def test_a_blocked_device_reads_nothing_more_and_cannot_unblock_itself(team: Team) -> None:
    await team.start_bot()
    phone = await team.lead()
    room = await joined_room(team, phone)
    laptop = Responder(team.synapse, team.lead_localpart, team.folder / "laptop", register=False)
    await laptop.log_in()
    team.people.append(laptop)
    await laptop.sync()

    mark = len(phone.seen)
    await phone.say(room, "!ua devices")
    listing = await phone.wait_for(from_bot(team, "trusted on first use"), after=mark)
    assert f"{phone.user_id} {laptop.client.device_id}" in listing.body
    assert "trusted" in listing.body

    mark, laptop_mark = len(phone.seen), len(laptop.seen)
    await phone.say(room, f"!ua devices block {laptop.user_id} {laptop.client.device_id}")
    await phone.wait_for(from_bot(team, "is now blocked"), after=mark)
    await sealed_from_bot(team, laptop, laptop_mark)

    mark, laptop_mark = len(phone.seen), len(laptop.seen)
    await laptop.say(
        room, f"!ua devices trust {laptop.user_id} {laptop.client.device_id} {laptop.device_key()}"
    )
    await phone.wait_for(from_bot(team, "I ignored a command from"), after=mark)
    await sealed_from_bot(team, laptop, laptop_mark)
    assert not any(s.event.sender == team.bot_id and s.body for s in laptop.seen[laptop_mark:]), (
        "the blocked laptop read a message"
    )


async def test_with_verification_required_a_device_reads_nothing_until_vouched_for(
    team: Team,
) -> None:
    bot = await team.start_bot(matrix_require_verification=True)
    phone = await team.lead()
    room = await joined_room(team, phone, bind=False)
    # Bound by the admin elsewhere (this unverified phone's own `!ua bind` would be ignored).
    bind_place(team.services, Place("matrix", room, encrypted=True))
    mark = len(phone.seen)
    await phone.say(room, "!ua list")
    await sealed_from_bot(team, phone, mark)

    # The admin vouches for the first device from the command line, with its key.
    trusted = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "matrix",
            "trust",
            phone.user_id,
            phone.client.device_id,
            fingerprint(phone.device_key()),
        ],
        env=isolated_environment(team.folder / "unused.db", MATRIX_STORE_PATH=str(bot._store)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert trusted.returncode == 0, trusted.stderr
    mark = len(phone.seen)
    await phone.say(room, "!ua list")
    await phone.wait_for(from_bot(team, "No open cases"), after=mark)

    laptop = Responder(team.synapse, team.lead_localpart, team.folder / "laptop", register=False)
    await laptop.log_in()
    team.people.append(laptop)
    await laptop.sync()
    mark = len(phone.seen)
    await phone.say(room, f"!ua devices trust {laptop.user_id} {laptop.client.device_id} AAAA")
    await phone.wait_for(from_bot(team, "That key is not"), after=mark)
    await phone.say(
        room,
        f"!ua devices trust {laptop.user_id} {laptop.client.device_id} "
        f"{fingerprint(laptop.device_key())}",
    )
    await phone.wait_for(from_bot(team, "is now trusted"), after=mark)
    laptop_mark = len(laptop.seen)
    await phone.say(room, "!ua list")
    await laptop.wait_for(from_bot(team, "No open cases"), after=laptop_mark)


async def test_a_room_that_said_too_much_while_the_bot_was_down_is_told(team: Team) -> None:
    bot = await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead, encrypted=False)
    await bot.stop()
    team.bots.remove(bot)
    for n in range(TIMELINE_LIMIT + 5):
        await lead.client.room_send(room, "m.room.message", {"msgtype": "m.text", "body": f"{n}"})
    mark = len(lead.seen)
    await team.start_bot()
    await lead.wait_for(from_bot(team, "Tocsin was offline"), after=mark)


async def test_a_plain_room_works_without_encryption(team: Team) -> None:
    await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead, encrypted=False)
    await lead.say(room, NEW)
    card = await lead.wait_for(from_bot(team, "UA-"))
    assert card.event.source["type"] == "m.room.message" and not card.event.decrypted


async def test_tocsin_run_with_only_matrix_settings_answers_an_invited_alert(
    synapse: SynapseServer, tmp_path: Path
) -> None:
    n = next(_names)
    bot_id = synapse.register(f"tocsin{n}", "pw-bot")
    lead_localpart = f"lead{n}"
    environment = isolated_environment(
        tmp_path / "tocsin.db",
        MATRIX_HOMESERVER=synapse.url,
        MATRIX_USER_ID=bot_id,
        MATRIX_PASSWORD="pw-bot",
        MATRIX_ALLOWED_INVITERS=synapse.user_id(lead_localpart),
        TOCSIN_ADMINS="matrix:" + synapse.user_id(lead_localpart),
    )
    command = [sys.executable, "-m", "bot"]
    migrated = subprocess.run([*command, "migrate"], env=environment, cwd=tmp_path, check=False)
    assert migrated.returncode == 0
    process = subprocess.Popen(
        [*command, "run"], env=environment, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    lead = Responder(synapse, lead_localpart, tmp_path / "lead")
    try:
        await lead.log_in()
        room = await lead.create_room(invite=[bot_id])
        await lead.wait_for(
            lambda s: (
                s.event.source.get("state_key") == bot_id and s.content.get("membership") == "join"
            ),
            timeout=60,
        )
        await lead.say(room, NEW)  # not bound yet: one line, nothing stored
        await lead.wait_for(lambda s: s.event.sender == bot_id and "ua bind" in s.body, timeout=30)
        await lead.say(room, "!ua bind Fictional team")
        await lead.say(room, NEW)
        card = await lead.wait_for(
            lambda s: s.event.sender == bot_id and "UA-" in s.body, timeout=30
        )
        assert card.event.decrypted
        assert "Inter-American Commission" in card.body
    finally:
        await lead.close()
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    assert (tmp_path / "matrix-store" / "credentials.json").stat().st_mode & 0o077 == 0


async def test_a_named_defender_is_shown_in_the_encrypted_room_and_never_logged(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead, disclosure="full")
    mark = len(lead.seen)
    await lead.say(room, f'{NEW} defender="{LOGGED_NAME}" organisation="Radio Logged"')
    card = await lead.wait_for(from_bot(team, "UA-"), after=mark)
    code = "UA-" + card.body.split("UA-", 1)[1].split()[0].rstrip(".:·")
    await lead.say(room, f"!ua done {code} 1 called {LOGGED_NAME}'s lawyer")
    await lead.say(room, f"!ua show {code}")
    shown = await lead.wait_for(from_bot(team, "Defender:"), after=mark)
    assert LOGGED_NAME in shown.body  # full disclosure: an end-to-end-encrypted room
    await lead.say(room, f"!ua log {code}")
    await lead.wait_for(from_bot(team, "case opened"), after=mark)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert any(r.name.startswith("nio") for r in caplog.records), "nio's own logs were captured"
    assert LOGGED_NAME not in logged and "Radio Logged" not in logged


def drill_alert(n: int) -> str:
    return (
        f"!ua new country=HN threats=arbitrary_detention profiles=journalist "
        f'defender="Drill Person {n}" summary="drill alert {n}: held at a police station"'
    )


def matrix_deliveries(team: Team, lead: Responder) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Each case's cards and each (case, step) reminder the lead received, counted."""
    cards: Counter[str] = Counter()
    reminders: Counter[tuple[str, str]] = Counter()
    for seen in lead.seen:
        if seen.event.sender != team.bot_id or seen.relation.get("rel_type") == "m.replace":
            continue
        card = re.match(r"(UA-\d{4}-\d{4}) · ", seen.body)
        if card and not seen.relation:  # a card, not an edit of one or a note in its thread
            cards[card.group(1)] += 1
        reminder = re.match(r"Reminder for \w+: step (\d+) of (UA-\d{4}-\d{4})", seen.body)
        if reminder:
            reminders[(reminder.group(2), reminder.group(1))] += 1
    return cards, reminders


async def test_drill_the_homeserver_stopped_while_alerts_and_reminders_are_due(
    synapse: SynapseServer, tmp_path: Path, world: World
) -> None:
    """Five alerts, then the homeserver stops while their cards and reminders are due, then
    five more once it is back: each case's card and reminders reach the room exactly once."""
    started = time.monotonic()
    drill_playbook = tmp_path / "drill.yaml"
    drill_playbook.write_text(DRILL_PLAYBOOK)
    services, engine = fresh_services(
        tmp_path / "drill.db", world, load_playbook(world, drill_playbook)
    )
    crew = Team(synapse, tmp_path, services)
    connectors = Connectors()
    background = Background(crew.services, connectors, LeaderLock(engine))
    try:
        connectors.register("matrix", await crew.start_bot())
        await background.start()
        lead = await crew.lead()
        room = await joined_room(crew, lead)
        for n in range(1, 6):
            await lead.say(room, drill_alert(n))
        await asyncio.to_thread(synapse.stop)
        try:
            await asyncio.sleep(6)  # every reminder of the first five falls due meanwhile
        finally:
            await asyncio.to_thread(synapse.start)
        for n in range(6, 11):
            await lead.say(room, drill_alert(n))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            cards, reminders = matrix_deliveries(crew, lead)
            if len(cards) >= 10 and len(reminders) >= 10 * STEPS:
                break
            await lead.sync(timeout_ms=500)
        await lead.quiet_for(1.0, sender=crew.bot_id, after=len(lead.seen))
        cards, reminders = matrix_deliveries(crew, lead)
        with crew.services.transaction() as session:
            people = Counter(
                str(name)
                for name in session.scalars(
                    select(Defender.name).join(Case, Case.id == Defender.case_id)
                )
            )
            waiting = queue.backlog(session=session)
            most_attempts = session.scalar(select(func.max(OutboxMessage.attempts)))
        result = tally(
            "Matrix homeserver down 6 s",
            sent=10,
            accepted=10,
            cases_by_person=people,
            cards=cards,
            reminders=reminders,
            started=started,
        )
    finally:
        await background.stop()
        await crew.close()
        engine.dispose()
    assert (waiting.pending, waiting.dead) == (0, 0)
    assert most_attempts and most_attempts > 1, "no delivery met the stopped homeserver"
    assert (result.duplicates, result.losses) == (0, 0), result.line()


def _image_from_bot(team: Team) -> object:
    def matches(seen: Seen) -> bool:
        return seen.event.sender == team.bot_id and seen.content.get("msgtype") == "m.image"

    return matches


async def test_a_report_in_an_encrypted_room_brings_its_chart_as_an_encrypted_image(
    team: Team,
) -> None:
    await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead)
    mark = len(lead.seen)
    await lead.say(room, "!ua report since=2026-01-01")
    text = await lead.wait_for(from_bot(team, "Patterns of reprisals"), after=mark)
    image = await lead.wait_for(_image_from_bot(team), after=mark)
    assert text.event.decrypted and image.event.decrypted and image.room_id == room
    assert "url" not in image.content  # only the encrypted file's address, inside the event
    file = image.content["file"]
    assert file["url"].startswith("mxc://") and file["v"] == "v2"
    downloaded = await lead.client.download(mxc=file["url"])
    assert isinstance(downloaded, MemoryDownloadResponse)
    assert not downloaded.body.startswith(b"\x89PNG")  # the homeserver holds only ciphertext
    png = decrypt_attachment(
        downloaded.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"]
    )
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) == image.content["info"]["size"]
    assert image.content["info"]["mimetype"] == "image/png"
    assert "Cases opened per month" in image.body  # the alt text
    assert lead.seen.index(text) < lead.seen.index(image)


async def test_a_report_in_a_plain_room_brings_its_chart_as_a_plain_image(team: Team) -> None:
    await team.start_bot()
    lead = await team.lead()
    room = await joined_room(team, lead, encrypted=False)
    mark = len(lead.seen)
    await lead.say(room, "!ua report")
    image = await lead.wait_for(_image_from_bot(team), after=mark)
    downloaded = await lead.client.download(mxc=image.content["url"])
    assert isinstance(downloaded, MemoryDownloadResponse)
    assert downloaded.body.startswith(b"\x89PNG\r\n\x1a\n")


async def bot_identity(team: Team, lead: Responder, device_id: str) -> tuple[str, bool]:
    """The bot account's master key as the homeserver publishes it, and whether its
    self-signing key signed `device_id` (with the key the device uploaded)."""
    answer = await ClientApi(lead.client).query_keys([team.bot_id])
    identity = published_identity(team.bot_id, answer)
    assert identity is not None, "the bot account publishes no cross-signing identity"
    device = answer["device_keys"][team.bot_id][device_id]
    return identity.master, identity.signs(device_id, device["keys"][f"ed25519:{device_id}"])


async def test_the_bot_cross_signs_itself_and_a_new_store_signs_again_only_with_the_recovery_key(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    lead = await team.lead()
    first = await team.start_bot()
    master, signed = await bot_identity(team, lead, first.device_id)
    assert signed
    recovery_file = team.folder / "bot-store" / "recovery-key.txt"
    assert recovery_file.stat().st_mode & 0o777 == 0o600
    recovery_key = recovery_file.read_text().strip().splitlines()[-1]
    assert len(recovery_key.split()) == 12
    sealed = (team.folder / "bot-store" / "cross-signing.sealed").read_text()
    assert master not in sealed and sealed.startswith("gAAAAA")  # sealed under the data key
    await first.stop()
    team.bots.remove(first)

    # A lost store, no recovery key: a new device, left unsigned, and the identity untouched.
    caplog.set_level(logging.WARNING, logger="bot.connectors.matrix.connector")
    lost = await team.start_bot(matrix_store_path=team.folder / "new-store")
    assert lost.device_id != first.device_id
    assert await bot_identity(team, lead, lost.device_id) == (master, False)
    assert "MATRIX_RECOVERY_KEY" in caplog.text
    await lost.stop()
    team.bots.remove(lost)

    restored = await team.start_bot(
        matrix_store_path=team.folder / "newer-store", matrix_recovery_key=recovery_key
    )
    assert await bot_identity(team, lead, restored.device_id) == (master, True)
