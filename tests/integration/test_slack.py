"""Slack end to end against the local emulator, in HTTP mode and in Socket Mode."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.connectors.slack.connector import EVENTS_PATH, SlackConnector
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.db import create_database_engine, session_factory
from bot.store.migrate import upgrade_to_head
from config.settings import Settings
from handlers.context import Services
from tests.slack_emulator import SlackEmulator, form_body, signed_headers, slash_command

SECRET = "fictional-signing-secret"
NEW = 'new country=HN threats=arbitrary_detention profiles=journalist summary="held at a police station"'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    slack = SlackEmulator()
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
def services(tmp_path: Path, world: World, playbook: Playbook) -> Services:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'tocsin.db'}")
    upgrade_to_head(engine)
    return Services(
        sessions=session_factory(engine), world=world, playbook=playbook, tz=ZoneInfo("UTC")
    )


@pytest.fixture
async def http_mode(
    emulator: SlackEmulator, services: Services
) -> AsyncIterator[tuple[SlackConnector, str]]:
    settings = Settings(
        _env_file=None,
        slack_bot_token=emulator.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=emulator.api_url,
        tocsin_http_host="127.0.0.1",
        tocsin_http_port=free_port(),
    )
    connector = SlackConnector(settings, services)
    await connector.start()
    yield connector, f"http://127.0.0.1:{settings.tocsin_http_port}{EVENTS_PATH}"
    await connector.stop()


async def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.monotonic()
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=headers) as response,
    ):
        return response.status, time.monotonic() - started


async def test_http_mode_a_signed_ua_new_is_acked_and_posts_a_case_card(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    body = form_body(slash_command(NEW))
    status, seconds = await post(url, body, signed_headers(body, SECRET))
    assert status == 200 and seconds < 3
    [card] = await emulator.wait_for("chat.postMessage")
    assert card["channel"] == "C1" and card["text"].startswith("Opened UA-2026-")
    assert emulator.violations == []


async def test_http_mode_a_step_change_updates_the_card_in_place(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    body = form_body(slash_command(NEW))
    await post(url, body, signed_headers(body, SECRET))
    [card] = await emulator.wait_for("chat.postMessage")
    code = card["text"].split()[1].rstrip(":")
    body = form_body(slash_command(f"claim {code} 1", user="U2"))
    assert (await post(url, body, signed_headers(body, SECRET)))[0] == 200
    [update] = await emulator.wait_for("chat.update")
    ts = next(c for c in emulator.calls if c.method == "chat.postMessage")
    assert update["channel"] == "C1" and update["text"] == "Step 1 is slack:U2's."
    assert len(emulator.posted("chat.postMessage")) == 1, "edited, not posted again"
    assert update["ts"] == "1.000100" and ts.method == "chat.postMessage"


async def test_http_mode_answers_only_the_asker_for_help_and_errors(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    for text in ("help", "new country=Atlantis threats=raid summary=x"):
        body = form_body(slash_command(text))
        await post(url, body, signed_headers(body, SECRET))
    ephemeral = await emulator.wait_for("chat.postEphemeral", 2)
    assert ephemeral[0]["user"] == "U1" and "Tocsin commands" in ephemeral[0]["text"]
    assert ephemeral[1]["text"].startswith(":warning: Not accepted: country: 'Atlantis'")
    assert emulator.posted("chat.postMessage") == []


@pytest.mark.parametrize("forgery", ["wrong secret", "stale"])
async def test_http_mode_refuses_forged_or_stale_requests(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator, forgery: str
) -> None:
    _, url = http_mode
    body = form_body(slash_command(NEW))
    if forgery == "stale":
        headers = signed_headers(body, SECRET, timestamp=int(time.time()) - 6 * 60)
    else:
        headers = signed_headers(body, "not-the-secret")
    assert (await post(url, body, headers))[0] == 401
    await asyncio.sleep(0.3)
    assert emulator.posted("chat.postMessage") == []


async def test_user_text_never_pings_anyone(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    body = form_body(slash_command('route country=HN threats=raid summary="<!channel> <@U9>"'))
    await post(url, body, signed_headers(body, SECRET))
    body = form_body(slash_command("new country=<!channel> threats=raid summary=x"))
    await post(url, body, signed_headers(body, SECRET))
    [_, error] = await emulator.wait_for("chat.postEphemeral", 2)
    assert "&lt;!channel&gt;" in error["text"] and "<!channel>" not in error["text"]
    assert "<!channel>" not in str(error["blocks"])


async def test_rate_limits_are_waited_out_and_nothing_is_dropped(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    emulator.fail("chat.postMessage", times=2, retry_after=1)
    body = form_body(slash_command(NEW))
    await post(url, body, signed_headers(body, SECRET))
    [card] = await emulator.wait_for("chat.postMessage", timeout=15)
    assert card["text"].startswith("Opened UA-")
    assert [c.method for c in emulator.calls].count("chat.postMessage#429") == 2


async def test_socket_mode_acks_the_command_and_posts_the_card(
    emulator: SlackEmulator, services: Services
) -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token=emulator.bot_token,
        slack_app_token=emulator.app_token,
        slack_api_url=emulator.api_url,
    )
    connector = SlackConnector(settings, services)
    await connector.start()
    try:
        await emulator.connected()
        envelope = await emulator.push("slash_commands", slash_command(NEW))
        assert await emulator.acked(envelope) < 3
        [card] = await emulator.wait_for("chat.postMessage")
        assert card["channel"] == "C1" and card["text"].startswith("Opened UA-")
    finally:
        await connector.stop()
