"""How fast Tocsin acknowledges `/ua new …` (target: p99 under 100 ms on the local emulator);
the acknowledgement comes once the case is saved.

Drives the Slack connector in Socket Mode against tests/slack_emulator.py with 200 slash
commands, each timed from the envelope being sent to its acknowledgement; the case cards are then
waited for, so every command was also carried out. Two runs: paced at 10 commands a second (far
above a team's real rate; the target applies here) and back to back (a stress figure: acks then
wait behind the CPU-bound work of the commands before them). Run it as `python -m bench.slack_ack`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from bot.connectors.slack.connector import SlackConnector
from bot.delivery import Delivery
from bot.domain.case import Place
from bot.outbox import Dispatcher
from config.playbook import load_playbook
from config.settings import Settings
from config.world import load_world
from tests.factories import bind_place, fresh_services
from tests.slack_emulator import SlackEmulator, slash_command

COMMANDS = 200
TARGET_MS = 100.0
NEW = 'new country=HN threats=arbitrary_detention profiles=journalist summary="fictional"'


async def measure(folder: Path, pause: float) -> list[float]:
    folder.mkdir(parents=True, exist_ok=True)
    world = load_world()
    services, engine = fresh_services(folder / "bench.db", world, load_playbook(world))
    bind_place(services, Place("slack", "C1"))
    emulator = SlackEmulator()
    await emulator.start()
    settings = Settings(
        _env_file=None,
        slack_bot_token=emulator.bot_token,
        slack_app_token=emulator.app_token,
        slack_api_url=emulator.api_url,
        tocsin_admins=["slack:U0ADMIN"],
    )
    connector = SlackConnector(settings, services)
    delivery = Delivery()
    delivery.register("slack", connector)
    dispatcher = Dispatcher(services, delivery)  # as `tocsin run` has, for cards left to it
    await connector.start()
    dispatcher.start()
    await emulator.connected()
    latencies = []
    for _ in range(COMMANDS):
        envelope = await emulator.push("slash_commands", slash_command(NEW))
        latencies.append(await emulator.acked(envelope) * 1000)
        await asyncio.sleep(pause)
    await emulator.wait_for("chat.postMessage", COMMANDS, timeout=120)
    await connector.stop()
    await dispatcher.stop()
    await emulator.stop()
    engine.dispose()
    return latencies


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        stress = asyncio.run(measure(Path(folder) / "stress", 0.0))
    print(
        f"back to back (stress): median {statistics.median(stress):.1f} ms, "
        f"p99 {statistics.quantiles(stress, n=100)[-1]:.1f} ms"
    )
    with tempfile.TemporaryDirectory() as folder:
        latencies = asyncio.run(measure(Path(folder), 0.1))
    median = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[-1]
    print(f"/ua new ack latency over {COMMANDS} commands at 10/s (Socket Mode, local emulator)")
    ratio = TARGET_MS / p99
    print(f"median {median:.1f} ms, p99 {p99:.1f} ms ({ratio:.1f}x under {TARGET_MS:.0f} ms)")
    return 0 if p99 < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
