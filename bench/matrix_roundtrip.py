"""Round trip of `!ua new …` in an encrypted Matrix room, against a bare matrix-nio echo bot.

Starts a real Synapse on loopback (tests/synapse_server.py), the Matrix connector in this process
with a fresh SQLite database, a bare matrix-nio echo bot (its own user and encrypted device,
`sync_forever`, one `m.notice` for each `!echo …`, devices trusted as a minimal bot does) on the
same loop, and a responder's own encrypted nio client. Both bots sit in one encrypted room;
Tocsin answers only `!ua`, the echo bot only `!echo`. Each sample is timed from the responder
sending the (encrypted) command to the responder holding the decrypted answer; after 3 warm-ups
of each, the two kinds alternate (ABAB…), 60 each, so machine noise hits both. Targets: Tocsin's
p95 at most 1.3 times the echo bot's, and under 1 s. Run it as `python -m bench.matrix_roundtrip`.
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

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    MatrixRoom,
    RoomMessageText,
    RoomSendError,
)

from bench.results import Figure, percentile, publish, spread
from bot.app import connector_kit
from bot.connectors.matrix.connector import MatrixConnector
from bot.domain.places import Place
from config.playbook import load_playbook
from config.settings import Settings
from config.world import load_world
from tests.factories import bind_place, fresh_services
from tests.matrix_people import Responder, Seen
from tests.synapse_server import SynapseServer

SAMPLES = 60
WARM_UP = 3
TARGET_MS = 1000.0
TARGET_RATIO = 1.3
NEW = (
    "!ua new country=HN threats=arbitrary_detention profiles=journalist "
    'summary="Fictional journalist held without charge"'
)


class EchoBot:
    """The baseline: a matrix-nio bot as small as one gets, answering `!echo …` with a notice."""

    def __init__(self, synapse: SynapseServer, folder: Path) -> None:
        self.password = "pw-echo"
        self.user_id = synapse.register("echo", self.password)
        folder.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            synapse.url,
            self.user_id,
            store_path=str(folder),
            config=AsyncClientConfig(encryption_enabled=True),
        )
        self.client.add_event_callback(self._on_invite, InviteMemberEvent)
        self.client.add_event_callback(self._on_text, RoomMessageText)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.login(self.password, device_name="echo bot")
        self._task = asyncio.create_task(self.client.sync_forever(timeout=30_000, full_state=True))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == self.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def _on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != self.user_id and event.body.startswith("!echo"):
            content = {"msgtype": "m.notice", "body": event.body}
            await self.client.room_send(
                room.room_id, "m.room.message", content, ignore_unverified_devices=True
            )


async def one_round_trip(
    lead: Responder, room: str, text: str, answered: Callable[[Seen], bool]
) -> float:
    """Milliseconds from sending `text` (encrypted) to holding the decrypted answer."""
    mark = len(lead.seen)
    started = time.perf_counter()
    response = await lead.client.room_send(
        room, "m.room.message", {"msgtype": "m.text", "body": text}, ignore_unverified_devices=True
    )
    assert not isinstance(response, RoomSendError), response
    await lead.wait_for(answered, after=mark, timeout=30)
    return (time.perf_counter() - started) * 1000


def joined(user_id: str) -> Callable[[Seen], bool]:
    """Whether an event is `user_id` joining."""
    return lambda s: (
        s.event.source.get("state_key") == user_id and s.content.get("membership") == "join"
    )


async def measure(folder: Path) -> tuple[list[float], list[float]]:
    """Tocsin's and the echo bot's round trips, in milliseconds, sampled alternately."""
    synapse = SynapseServer(folder / "synapse")
    synapse.start()
    world = load_world()
    services, engine = fresh_services(folder / "bench.db", world, load_playbook(world))
    bot_id = synapse.register("tocsin", "pw-bot")
    settings = Settings(
        _env_file=None,
        matrix_homeserver=synapse.url,
        matrix_user_id=bot_id,
        matrix_password="pw-bot",
        matrix_store_path=folder / "bot-store",
        matrix_allowed_inviters=[synapse.user_id("lead")],
        tocsin_admins=["matrix:" + synapse.user_id("lead")],
    )
    bot = MatrixConnector(settings, connector_kit(services))
    echo = EchoBot(synapse, folder / "echo")
    # Full state on every sync would be the harness's cost, charged to whichever bot answers.
    lead = Responder(synapse, "lead", folder / "lead", full_state_always=False)
    try:
        await bot.start()
        await echo.start()
        await lead.log_in()
        room = await lead.create_room(invite=[bot_id, echo.user_id])
        for member in (bot_id, echo.user_id):
            await lead.wait_for(joined(member))
        await lead.sync()
        bind_place(services, Place("matrix", room, encrypted=True))

        def card(s: Seen) -> bool:
            return s.event.sender == bot_id and "Inter-American Commission" in s.body

        async def tocsin() -> float:
            return await one_round_trip(lead, room, NEW, card)

        async def bare(n: int) -> float:
            text = f"!echo fictional ping {n}"
            return await one_round_trip(
                lead, room, text, lambda s: s.event.sender == echo.user_id and s.body == text
            )

        for n in range(WARM_UP):
            await tocsin()
            await bare(n)
        tocsin_ms: list[float] = []
        echo_ms: list[float] = []
        for n in range(SAMPLES):
            tocsin_ms.append(await tocsin())
            echo_ms.append(await bare(WARM_UP + n))
        return tocsin_ms, echo_ms
    finally:
        await lead.close()
        await echo.stop()
        await bot.stop()
        engine.dispose()
        synapse.stop()


def main() -> int:
    # Tocsin gives room keys only to allowed users' devices, so the echo bot cannot read the
    # cards: nio would warn of each one.
    logging.getLogger("nio.crypto.log").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        tocsin_ms, echo_ms = asyncio.run(measure(Path(folder)))
    tocsin_p95, echo_p95 = percentile(tocsin_ms, 95), percentile(echo_ms, 95)
    ok = publish(
        [
            Figure(
                name="Matrix: !ua new to decrypted card p95 vs bare nio echo bot",
                value=tocsin_p95 / echo_p95,
                unit="\N{MULTIPLICATION SIGN}",
                target=TARGET_RATIO,
                direction="max",
                floor=echo_p95,
                note=f"Tocsin p95 {tocsin_p95:.0f} ms, median {statistics.median(tocsin_ms):.0f} "
                f"ms; echo bot p95 {echo_p95:.0f} ms, median {statistics.median(echo_ms):.0f} ms; "
                f"{SAMPLES} each, alternated, same room and Synapse; floor = echo p95, ms",
            ),
            Figure(
                name="Matrix: !ua new to decrypted card p95",
                value=tocsin_p95,
                unit="ms",
                target=TARGET_MS,
                direction="max",
                note=f"{spread(tocsin_ms)} ms; encrypted room, local Synapse",
            ),
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
