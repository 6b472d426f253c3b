"""`/ua new …` through Slack: how fast it is acknowledged, how fast its case card follows (against
a bare slack-bolt app), and how many alerts a second Tocsin takes in a burst.

Everything runs in this process on one event loop: the Slack connector in Socket Mode against
tests/slack_emulator.py (the acknowledgement comes once the case is saved), with a fresh SQLite
database and the outbox dispatcher, as `tocsin run` has them; and a bare slack-bolt `AsyncApp`
(Socket Mode, `AsyncSocketModeHandler`) that acks `/ua` and answers with one `chat.postMessage`,
on an emulator of its own. Each command is timed from the emulator pushing its envelope to the
acknowledgement, and to the emulator receiving the n-th `chat.postMessage` of the run (the n-th
command's card: answers go out in order).

1. Ack p99 and 2. card p95 against the bare app: 200 commands each, paced at 10 a second on a
   fixed clock (not waiting for answers), in blocks of 20 that alternate Tocsin / bare app, so
   machine noise hits both; 5 warm-up commands each first.
3. Sustained intake: a fresh Tocsin, 200 commands back to back (each sent once the one before is
   acknowledged), timed from the first push until every case card is posted.

Run it as `python -m bench.slack_ack`.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.results import Figure, percentile, publish, spread
from bot.app import connector_kit
from bot.connectors.slack.connector import SlackConnector
from bot.domain.places import Place
from bot.outbox.dispatcher import Connectors, Dispatcher
from config.playbook import load_playbook
from config.settings import Settings
from config.world import load_world
from tests.factories import bind_place, fresh_services
from tests.slack_emulator import SlackEmulator, slash_command

COMMANDS = 200
BLOCK = 20
WARM_UP = 5
PACE_S = 0.1
TARGET_ACK_MS, TARGET_RATIO, TARGET_PER_S = 100.0, 1.5, 20.0
NEW = 'new country=HN threats=arbitrary_detention profiles=journalist summary="fictional"'
POST = "chat.postMessage"


class Bot(Protocol):
    emulator: SlackEmulator

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Tocsin:
    """The Slack connector and the outbox dispatcher on a fresh SQLite database."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        world = load_world()
        self.services, self.engine = fresh_services(
            folder / "bench.db", world, load_playbook(world)
        )
        bind_place(self.services, Place("slack", "C1"))
        self.emulator = SlackEmulator()

    async def start(self) -> None:
        await self.emulator.start()
        settings = Settings(
            _env_file=None,
            slack_bot_token=self.emulator.bot_token,
            slack_app_token=self.emulator.app_token,
            slack_api_url=self.emulator.api_url,
            tocsin_admins=["slack:U0ADMIN"],
        )
        self.connector = SlackConnector(settings, connector_kit(self.services))
        connectors = Connectors()
        connectors.register("slack", self.connector)
        self.dispatcher = Dispatcher(self.services, connectors)  # as `tocsin run` has
        await self.connector.start()
        self.dispatcher.start()
        await self.emulator.connected()

    async def stop(self) -> None:
        await self.connector.stop()
        await self.dispatcher.stop()
        await self.emulator.stop()
        self.engine.dispose()


class BareBolt:
    """The floor: a slack-bolt app that acks `/ua` and answers with one message."""

    def __init__(self) -> None:
        self.emulator = SlackEmulator()

    async def start(self) -> None:
        await self.emulator.start()
        client = AsyncWebClient(token=self.emulator.bot_token, base_url=self.emulator.api_url)
        app = AsyncApp(client=client, request_verification_enabled=False)

        @app.command("/ua")
        async def answer(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await client.chat_postMessage(channel=command["channel_id"], text="Received.")

        self.handler = AsyncSocketModeHandler(app, self.emulator.app_token)
        await self.handler.connect_async()  # type: ignore[no-untyped-call]
        await self.emulator.connected()

    async def stop(self) -> None:
        await self.handler.close_async()  # type: ignore[no-untyped-call]
        await self.emulator.stop()


@dataclass
class Run:
    """Each command's ack and card latency in ms; the first push and the last card (monotonic)."""

    acks: list[float]
    cards: list[float]
    first_push: float
    last_card: float


async def run(bot: Bot, count: int, pace_s: float | None) -> Run:
    """Send `count` commands, one every `pace_s` (None: each once the one before is
    acknowledged), and wait for their cards."""
    emulator = bot.emulator
    posted_before = len(emulator.posted(POST))
    pushed: list[tuple[str, float]] = []
    start = time.monotonic()
    for n in range(count):
        if pace_s is not None:
            await asyncio.sleep(max(0.0, start + n * pace_s - time.monotonic()))
        at = time.monotonic()
        envelope = await emulator.push("slash_commands", slash_command(NEW))
        pushed.append((envelope, at))
        if pace_s is None:
            await emulator.acked(envelope)
    acks = [await emulator.acked(envelope) * 1000 for envelope, _ in pushed]
    await emulator.wait_for(POST, posted_before + count, timeout=120)
    cards = [c.at for c in emulator.calls if c.method == POST][posted_before:]
    latencies = [(card - at) * 1000 for card, (_, at) in zip(cards, pushed, strict=True)]
    return Run(acks, latencies, pushed[0][1], max(cards))


async def side_by_side(folder: Path) -> dict[str, tuple[list[float], list[float]]]:
    """Acks and cards of Tocsin and of the bare app, in alternating paced blocks."""
    bots: dict[str, Bot] = {"tocsin": Tocsin(folder), "bare": BareBolt()}
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in bots}
    for bot in bots.values():
        await bot.start()
        await run(bot, WARM_UP, PACE_S)
    for block in range(COMMANDS // BLOCK):
        order = list(bots) if block % 2 == 0 else list(bots)[::-1]
        for name in order:
            block_run = await run(bots[name], BLOCK, PACE_S)
            samples[name][0].extend(block_run.acks)
            samples[name][1].extend(block_run.cards)
    for bot in bots.values():
        await bot.stop()
    return samples


async def sustained(folder: Path) -> tuple[float, list[float]]:
    """Seconds from the first push until all COMMANDS cards are posted, back to back; acks."""
    bot = Tocsin(folder)
    await bot.start()
    burst = await run(bot, COMMANDS, None)
    await bot.stop()
    return burst.last_card - burst.first_push, burst.acks


def main() -> int:
    gc.freeze()  # as `tocsin run` does once it has started
    with tempfile.TemporaryDirectory() as folder:
        samples = asyncio.run(side_by_side(Path(folder) / "paced"))
        elapsed, burst_acks = asyncio.run(sustained(Path(folder) / "burst"))
    acks, cards = samples["tocsin"]
    bare_acks, bare_cards = samples["bare"]
    tocsin_p95, bare_p95 = percentile(cards, 95), percentile(bare_cards, 95)
    ok = publish(
        [
            Figure(
                name="Slack: /ua new ack p99",
                value=percentile(acks, 99),
                unit="ms",
                target=TARGET_ACK_MS,
                direction="max",
                note=f"{spread(acks)} ms; Socket Mode, local emulator, 10 commands/s; "
                f"bare slack-bolt acks: {spread(bare_acks)} ms",
            ),
            Figure(
                name="Slack: command to card p95 vs bare slack-bolt",
                value=tocsin_p95 / bare_p95,
                unit="\N{MULTIPLICATION SIGN}",
                target=TARGET_RATIO,
                direction="max",
                floor=bare_p95,
                note=f"push to chat.postMessage p95: Tocsin {tocsin_p95:.1f} ms, bare "
                f"slack-bolt {bare_p95:.1f} ms ({COMMANDS} each at 10/s, alternating "
                f"blocks of {BLOCK}); Tocsin {spread(cards)} ms; floor = bare p95, ms",
            ),
            Figure(
                name="Intake through Slack (emulator), sustained",
                value=COMMANDS / elapsed,
                unit="alerts/s",
                target=TARGET_PER_S,
                direction="min",
                note=f"{COMMANDS} commands back to back, first push to last card "
                f"{elapsed:.2f} s; acks {spread(burst_acks)} ms",
            ),
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
