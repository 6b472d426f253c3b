"""`!ua new …` from a client on Element's own crypto stack, against a bare matrix-nio echo bot.

The sibling of bench/matrix_roundtrip.py, with the responder on matrix-js-sdk + Rust crypto
(tests/element_client.py) in "exclude insecure devices" mode (`only_signed`): it shares room keys
only with devices their owner cross-signed, and decrypts only what such devices send. A real
Synapse on loopback, the Matrix connector in this process with a fresh SQLite database, and the
echo bot of matrix_roundtrip (which here cross-signs its own device, as it must to be heard) sit
in one encrypted room. Each sample is timed from just before the client sends the command to the
moment the client's timeline holds the decrypted answer (polled every POLL_S); after 3 warm-ups
of each, the two kinds alternate (ABAB…), SAMPLES each, so machine noise hits both. Every card
Tocsin posts must decrypt with no shield at the client (verified by its owner), or the benchmark
fails. Targets: Tocsin's p95 under 1 s, and at most 1.3 times the echo bot's.
Run it as `python -m bench.matrix_element`.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from bench.matrix_roundtrip import NEW, EchoBot
from bench.results import Figure, percentile, publish, spread
from bot.app import connector_kit
from bot.connectors.matrix.bootstrap import Outcome, bootstrap
from bot.connectors.matrix.connector import MatrixConnector
from bot.domain.places import Place
from bot.store.sealing import Keyring, generate_key
from config.playbook import load_playbook
from config.settings import Settings
from config.world import load_world
from tests.element_client import (
    ElementClient,
    ElementDriverError,
    TimelineEvent,
    close_all,
    harness_problem,
)
from tests.factories import bind_place, fresh_services
from tests.synapse_server import SynapseServer

SAMPLES = 60
WARM_UP = 3
TARGET_MS = 1000.0
TARGET_RATIO = 1.3
POLL_S = 0.01
# The last few timeline events are enough to find an answer and keep each poll cheap.
POLL_LIMIT = 8
ANSWER_TIMEOUT_S = 30.0
PASSWORD_LEAD = "pw-lead"
NO_SHIELD = {"colour": "NONE", "reason": None}


class SignedEchoBot(EchoBot):
    """matrix_roundtrip's echo bot, its device cross-signed by its own identity."""

    def __init__(self, synapse: SynapseServer, folder: Path) -> None:
        super().__init__(synapse, folder)
        self.folder = folder

    async def start(self) -> None:
        await self.client.login(self.password, device_name="echo bot")
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        done = await bootstrap(
            self.client,
            self.folder,
            Keyring([generate_key()]),
            password=self.password,
            recovery_key=None,
        )
        assert done.outcome is Outcome.CREATED, done
        self._task = asyncio.create_task(self.client.sync_forever(timeout=30_000, full_state=True))


def verified_by_owner(event: TimelineEvent) -> bool:
    """What Element shows without any shield: decrypted, from a device its owner signed."""
    return event["decryption_failure"] is None and event["shield"] == NO_SHIELD


def trust(event: TimelineEvent) -> str:
    """An event's sender, decryption and shield, for a failure message."""
    return (
        f"{event['event_id']} from {event['sender']}/{event['sender_device']}: "
        f"failure={event['decryption_failure']} shield={event['shield']}"
    )


async def one_round_trip(
    client: ElementClient,
    room: str,
    text: str,
    answered: Callable[[TimelineEvent], bool],
    counted: set[str],
) -> tuple[float, TimelineEvent]:
    """Milliseconds from sending `text` to the client holding a new decrypted answer."""
    started = time.perf_counter()
    await client.send(room, text)
    deadline = started + ANSWER_TIMEOUT_S
    while True:
        events = cast(
            list[TimelineEvent], await client.call("timeline", room_id=room, limit=POLL_LIMIT)
        )
        for event in events:
            if event["event_id"] not in counted and answered(event):
                elapsed = (time.perf_counter() - started) * 1000
                counted.add(event["event_id"])
                return elapsed, event
        if time.perf_counter() > deadline:
            seen = "\n".join(
                f"{e['event_id']} {e['sender']}: body={(e['body'] or '')[:60]!r} "
                f"failure={e['decryption_failure']} shield={e['shield']}"
                for e in events
            )
            raise ElementDriverError(
                f"no answer to {text[:40]!r} in {ANSWER_TIMEOUT_S:.0f} s; last seen:\n{seen}\n"
                f"{client.stderr_tail()}"
            )
        await asyncio.sleep(POLL_S)


def joined(user_id: str) -> Callable[[TimelineEvent], bool]:
    return lambda e: (
        e["type"] == "m.room.member"
        and e["state_key"] == user_id
        and e["content"].get("membership") == "join"
    )


async def wait_joined(client: ElementClient, room: str, user_id: str) -> None:
    async def check() -> bool | None:
        events = await client.timeline(room, include_state=True)
        return True if any(joined(user_id)(e) for e in events) else None

    await client.wait_until(check, what=f"{user_id} joining")


async def measure(folder: Path) -> tuple[list[float], list[float]]:
    """Tocsin's and the echo bot's round trips at the Element client, in ms, alternated."""
    synapse = SynapseServer(folder / "synapse")
    synapse.start()
    world = load_world()
    services, engine = fresh_services(folder / "bench.db", world, load_playbook(world))
    bot_id = synapse.register("tocsin", "pw-bot")
    lead_id = synapse.register("lead", PASSWORD_LEAD)
    settings = Settings(
        _env_file=None,
        matrix_homeserver=synapse.url,
        matrix_user_id=bot_id,
        matrix_password="pw-bot",
        matrix_store_path=folder / "bot-store",
        matrix_allowed_inviters=[lead_id],
        tocsin_admins=["matrix:" + lead_id],
    )
    bot = MatrixConnector(settings, connector_kit(services))
    echo = SignedEchoBot(synapse, folder / "echo")
    clients: list[ElementClient] = []
    try:
        await bot.start()
        await echo.start()
        lead = await ElementClient.launch(folder / "element", name="lead")
        clients.append(lead)
        login = await lead.login(synapse.url, lead_id, PASSWORD_LEAD, isolation="only_signed")
        assert login["isolation"] == "only_signed" and login["cross_signing_ready"], login
        room = await lead.create_room(name="Fictional response team", invite=[bot_id, echo.user_id])
        for member in (bot_id, echo.user_id):
            await wait_joined(lead, room, member)
        bind_place(services, Place("matrix", room, encrypted=True))
        counted: set[str] = set()

        def card(e: TimelineEvent) -> bool:
            relation = e["content"].get("m.relates_to") or {}
            return (
                e["sender"] == bot_id
                and "Inter-American Commission" in (e["body"] or "")
                and relation.get("rel_type") != "m.replace"
            )

        async def tocsin() -> float:
            elapsed, event = await one_round_trip(lead, room, NEW, card, counted)
            if not verified_by_owner(event):
                raise AssertionError(f"a card is not verified by owner at Element: {trust(event)}")
            return elapsed

        async def bare(n: int) -> float:
            text = f"!echo fictional ping {n}"

            def echoed(e: TimelineEvent) -> bool:
                return e["sender"] == echo.user_id and e["body"] == text

            elapsed, event = await one_round_trip(lead, room, text, echoed, counted)
            if not verified_by_owner(event):
                raise AssertionError(f"an echo is not verified by owner at Element: {trust(event)}")
            return elapsed

        for n in range(WARM_UP):
            await tocsin()
            await bare(n)
        tocsin_ms: list[float] = []
        echo_ms: list[float] = []
        for n in range(SAMPLES):
            tocsin_ms.append(await tocsin())
            echo_ms.append(await bare(WARM_UP + n))

        # Whatever else Tocsin posted in the room must read as verified by owner too.
        from_tocsin = [e for e in await lead.timeline(room) if e["sender"] == bot_id]
        cards = [e for e in from_tocsin if card(e)]
        unshielded = [e for e in from_tocsin if not verified_by_owner(e)]
        if len(cards) != WARM_UP + SAMPLES or unshielded:
            raise AssertionError(
                f"{len(cards)} cards of {WARM_UP + SAMPLES} at Element; not verified by owner: "
                + "; ".join(trust(e) for e in unshielded)
            )
        return tocsin_ms, echo_ms
    finally:
        await close_all(clients)
        await echo.stop()
        await bot.stop()
        engine.dispose()
        synapse.stop()


def main() -> int:
    problem = harness_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    # Tocsin gives room keys only to allowed users' devices, so the echo bot cannot read the
    # cards: nio would warn of each one.
    logging.getLogger("nio.crypto.log").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        tocsin_ms, echo_ms = asyncio.run(measure(Path(folder)))
    tocsin_p95, echo_p95 = percentile(tocsin_ms, 95), percentile(echo_ms, 95)
    ok = publish(
        [
            Figure(
                name="Matrix (Element, exclude insecure devices): !ua new to decrypted card p95 "
                "vs bare nio echo bot",
                value=tocsin_p95 / echo_p95,
                unit="\N{MULTIPLICATION SIGN}",
                target=TARGET_RATIO,
                direction="max",
                floor=echo_p95,
                note=f"Tocsin p95 {tocsin_p95:.0f} ms, median {statistics.median(tocsin_ms):.0f} "
                f"ms; echo bot p95 {echo_p95:.0f} ms, median {statistics.median(echo_ms):.0f} ms; "
                f"{SAMPLES} each, alternated, same room and Synapse, at a matrix-js-sdk + Rust "
                "crypto client in only_signed mode (timeline polled every "
                f"{POLL_S * 1000:.0f} ms); floor = echo p95, ms",
            ),
            Figure(
                name="Matrix (Element, exclude insecure devices): !ua new to decrypted card p95",
                value=tocsin_p95,
                unit="ms",
                target=TARGET_MS,
                direction="max",
                note=f"{spread(tocsin_ms)} ms; every card verified by owner (no shield); "
                "encrypted room, local Synapse",
            ),
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
