"""Round trip of `!ua new …` in an encrypted Matrix room (target: p95 under 1 s, local Synapse).

Starts a real Synapse on loopback (tests/synapse_server.py), the Matrix connector in this process
with a fresh SQLite database, and a responder's own encrypted nio client. Each sample is timed
from the responder sending the (encrypted) command to the responder holding the decrypted case
card; samples run one after another, after 3 warm-up alerts. Run it as
`python -m bench.matrix_roundtrip`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nio import RoomSendError

from bot.connectors.matrix.connector import MatrixConnector
from bot.domain.case import Place
from config.playbook import load_playbook
from config.settings import Settings
from config.world import load_world
from tests.factories import bind_place, fresh_services
from tests.matrix_people import Responder
from tests.synapse_server import SynapseServer

SAMPLES = 60
WARM_UP = 3
TARGET_S = 1.0
NEW = (
    "!ua new country=HN threats=arbitrary_detention profiles=journalist "
    'summary="Fictional journalist held without charge"'
)


async def one_round_trip(lead: Responder, room: str, bot_id: str) -> float:
    mark = len(lead.seen)
    started = time.perf_counter()
    response = await lead.client.room_send(
        room, "m.room.message", {"msgtype": "m.text", "body": NEW}, ignore_unverified_devices=True
    )
    assert not isinstance(response, RoomSendError), response
    await lead.wait_for(
        lambda s: s.event.sender == bot_id and "Inter-American Commission" in s.body,
        after=mark,
        timeout=30,
    )
    return time.perf_counter() - started


async def measure(folder: Path) -> list[float]:
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
    bot = MatrixConnector(settings, services)
    lead = Responder(synapse, "lead", folder / "lead")
    try:
        await bot.start()
        await lead.log_in()
        room = await lead.create_room(invite=[bot_id])
        await lead.wait_for(
            lambda s: (
                s.event.source.get("state_key") == bot_id and s.content.get("membership") == "join"
            )
        )
        await lead.sync()
        bind_place(services, Place("matrix", room, encrypted=True))
        times = [await one_round_trip(lead, room, bot_id) for _ in range(WARM_UP + SAMPLES)]
        return times[WARM_UP:]
    finally:
        await lead.close()
        await bot.stop()
        engine.dispose()
        synapse.stop()


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        times = sorted(asyncio.run(measure(Path(folder))))
    p95 = times[int(0.95 * (len(times) - 1))]
    median = statistics.median(times)
    print(
        f"matrix round trip, {len(times)} alerts in an encrypted room: "
        f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms "
        f"(target p95 < {TARGET_S * 1000:.0f} ms: {TARGET_S / p95:.1f}x under)"
    )
    return 0 if p95 < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
