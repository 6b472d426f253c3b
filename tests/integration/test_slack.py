"""Slack end to end against the local emulator, in HTTP mode and in Socket Mode."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
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
    assert update["channel"] == "C1" and update["ts"] == "1.000100"
    assert "slack:U2" in str(update["blocks"]), "the card shows the new owner"
    posts = await emulator.wait_for("chat.postMessage", 2)
    assert [p.get("thread_ts") for p in posts] == [None, "1.000100"], (
        "edited, and said in its thread"
    )
    assert posts[1]["text"] == "Step 1 is slack:U2's."


async def interact(url: str, payload: dict[str, Any]) -> int:
    body = form_body({"payload": json.dumps(payload)})
    status, _ = await post(url, body, signed_headers(body, SECRET))
    return status


def action(card: dict[str, Any], action_id: str, n: int) -> dict[str, Any]:
    """The element `action_id` of step n's button row in a posted card."""
    row = next(b for b in card["blocks"] if b.get("block_id", "").endswith(f":{n}"))
    return next(e for e in row["elements"] if e["action_id"] == action_id)


def block_actions(element: dict[str, Any], **chosen: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U2", "name": "fictional.lead"},
        "channel": {"id": "C1"},
        "team": {"id": "T1"},
        "trigger_id": "9.9.9",
        "api_app_id": "A1",
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1.000100"},
        "actions": [
            {
                "action_id": element["action_id"],
                "block_id": "b",
                "type": element["type"],
                "value": element.get("value"),
                **chosen,
            }
        ],
    }


async def test_buttons_claim_done_snooze_skip_and_assign_steps(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    body = form_body(slash_command(NEW))
    await post(url, body, signed_headers(body, SECRET))
    [card] = await emulator.wait_for("chat.postMessage")
    assert len(card["blocks"]) <= 50

    assert await interact(url, block_actions(action(card, "step_claim", 1))) == 200
    await emulator.wait_for("chat.update", 1)
    assert await interact(url, block_actions(action(card, "step_done", 1))) == 200
    updates = await emulator.wait_for("chat.update", 2)
    assert "[x] 1." in str(updates[-1]["blocks"])
    snooze = action(card, "step_snooze", 2)
    await interact(url, block_actions(snooze, selected_option=snooze["options"][2]))
    updates = await emulator.wait_for("chat.update", 3)
    assert updates[-1]["text"] == "Step 2 snoozed."

    await interact(url, block_actions(action(card, "step_skip", 2)))
    [modal] = await emulator.wait_for("views.open")
    view = modal["view"]
    assert view["callback_id"] == "skip_reason" and len(view["title"]["text"]) <= 24
    submission = {
        "type": "view_submission",
        "user": {"id": "U2"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "view": {
            **view,
            "id": "V1",
            "state": {
                "values": {
                    "reason": {
                        "reason": {"type": "plain_text_input", "value": "the partner called"}
                    }
                }
            },
        },
    }
    assert await interact(url, submission) == 200
    updates = await emulator.wait_for("chat.update", 4)
    assert "the partner called" in str(updates[-1]["blocks"])

    more = action(card, "step_more", 3)
    await interact(url, block_actions(more, selected_option=more["options"][0]))
    [_, assign] = await emulator.wait_for("views.open", 2)
    submission = {
        "type": "view_submission",
        "user": {"id": "U2"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "view": {
            **assign["view"],
            "id": "V2",
            "state": {
                "values": {"person": {"person": {"type": "users_select", "selected_user": "U7"}}}
            },
        },
    }
    await interact(url, submission)
    updates = await emulator.wait_for("chat.update", 5)
    assert "@fictional.u7" in str(updates[-1]["blocks"])
    assert emulator.violations == []


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
