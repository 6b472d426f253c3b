"""Slack end to end against the local emulator, in HTTP mode and in Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import connector_kit
from bot.connectors.slack.connector import EVENTS_PATH, SlackConnector
from bot.connectors.slack.posting import DELIVERY_EVENT
from bot.domain.messages import Chart, Message, Panel, Series
from bot.domain.partners import signature
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.errors import StartupError
from bot.outbox.dispatcher import Connectors, Dispatcher
from bot.outbox.ledger import Ledger
from bot.store.models import Case, Destination
from config.settings import Settings
from handlers.context import Services
from handlers.reminders import run_due
from tests.conftest import isolated_environment
from tests.factories import bind_place, fresh_services
from tests.ports import free_port
from tests.slack_emulator import SlackEmulator, form_body, signed_headers, slash_command

SECRET = "fictional-signing-secret"
ADMINS = ["slack:U0ADMIN"]
NEW = 'new country=HN threats=arbitrary_detention profiles=journalist summary="held at a police station"'


@pytest.fixture
def services(tmp_path: Path, world: World, playbook: Playbook) -> Iterator[Services]:
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    bind_place(services, Place("slack", "C1"))
    yield replace(services, admins=frozenset(ADMINS))
    engine.dispose()


@pytest.fixture
async def http_mode(
    emulator: SlackEmulator, services: Services
) -> AsyncIterator[tuple[SlackConnector, str]]:
    settings = Settings(
        _env_file=None,
        slack_bot_token=emulator.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=emulator.api_url,
        tocsin_admins=ADMINS,
        tocsin_http_host="127.0.0.1",
        tocsin_http_port=free_port(),
    )
    async with running(SlackConnector(settings, connector_kit(services)), services) as connector:
        yield connector, f"http://127.0.0.1:{settings.tocsin_http_port}{EVENTS_PATH}"


@contextlib.asynccontextmanager
async def running(connector: SlackConnector, services: Services) -> AsyncIterator[SlackConnector]:
    """The connector started with an outbox dispatcher beside it, as `tocsin run` has."""
    connectors = Connectors()
    connectors.register("slack", connector)
    dispatcher = Dispatcher(services, connectors)
    await connector.start()
    dispatcher.start()
    try:
        yield connector
    finally:
        await connector.stop()
        await dispatcher.stop()


async def command(url: str, text: str, **fields: str) -> tuple[int, float]:
    """`/ua TEXT` as Slack posts it, signed; the status and how long the answer took."""
    body = form_body(slash_command(text, **fields))
    return await post(url, body, signed_headers(body, SECRET))


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
    status, seconds = await command(url, NEW)
    assert status == 200 and seconds < 3
    [card] = await emulator.wait_for("chat.postMessage")
    assert card["channel"] == "C1" and card["text"].startswith("Opened UA-2026-")
    assert emulator.violations == []


async def test_http_mode_a_step_change_updates_the_card_in_place(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, NEW)
    [card] = await emulator.wait_for("chat.postMessage")
    code = card["text"].split()[1].rstrip(":")
    assert (await command(url, f"claim {code} 1", user="U2"))[0] == 200
    [update] = await emulator.wait_for("chat.update")
    assert update["channel"] == "C1" and update["ts"] == "1.000100"
    assert "slack:U2" in str(update["blocks"]), "the card shows the new owner"
    posts = await emulator.wait_for("chat.postMessage", 2)
    assert [p.get("thread_ts") for p in posts] == [None, "1.000100"], (
        "edited, and said in its thread"
    )
    assert posts[1]["text"] == "Step 1 is slack:U2's."


async def test_an_observer_gets_no_form_and_changes_nothing(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, NEW)
    [card] = await emulator.wait_for("chat.postMessage")
    await command(url, "role <@U2> observer", user="U0ADMIN")
    await emulator.wait_for("chat.postMessage", 2)
    await interact(url, block_actions(action(card, "step_skip", 2)))  # U2 presses Skip
    await command(url, "", user="U2")  # and asks for the alert form
    refusals = await emulator.wait_for("chat.postEphemeral", 2)
    assert all("yours is observer" in r["text"] for r in refusals)
    assert not emulator.posted("views.open") and not emulator.posted("chat.update")


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


async def test_a_step_is_assigned_through_the_overflow_and_the_user_picker(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, NEW)
    [card] = await emulator.wait_for("chat.postMessage")
    more = action(card, "step_more", 3)
    await interact(url, block_actions(more, selected_option=more["options"][0]))
    [assign] = await emulator.wait_for("views.open")
    assert assign["view"]["callback_id"] == "assign_step"
    picked = chosen("person", type="users_select", selected_user="U7")
    assert await interact(url, submission(assign["view"], picked)) == 200
    [update] = await emulator.wait_for("chat.update")
    assert update["text"] == "Step 3 is @fictional.u7's." and "@fictional.u7" in str(
        update["blocks"]
    )
    assert emulator.violations == []


async def test_http_mode_answers_only_the_asker_for_help_and_errors(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    for text in ("help", "new country=Atlantis threats=raid summary=x"):
        await command(url, text)
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
    await command(url, 'route country=HN threats=raid summary="<!channel> <@U9>"')
    await command(url, "new country=<!channel> threats=raid summary=x")
    [_, error] = await emulator.wait_for("chat.postEphemeral", 2)
    assert "&lt;!channel&gt;" in error["text"] and "<!channel>" not in error["text"]
    assert "<!channel>" not in str(error["blocks"])


async def test_rate_limits_are_waited_out_and_nothing_is_dropped(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    """A refused post waits in the outbox; the dispatcher sends it after the Retry-After."""
    _, url = http_mode
    emulator.fail("chat.postMessage", times=2, retry_after=1)
    await command(url, NEW)
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
        tocsin_admins=ADMINS,
    )
    async with running(SlackConnector(settings, connector_kit(services)), services):
        await emulator.connected()
        envelope = await emulator.push("slash_commands", slash_command(NEW))
        assert await emulator.acked(envelope) < 3
        [card] = await emulator.wait_for("chat.postMessage")
        assert card["channel"] == "C1" and card["text"].startswith("Opened UA-")


async def interact_json(url: str, payload: dict[str, Any]) -> tuple[int, Any]:
    body = form_body({"payload": json.dumps(payload)})
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=signed_headers(body, SECRET)) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text.startswith("{") else text


def submission(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": "U3"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "view": {**view, "id": "V9", "state": {"values": values}},
    }


def chosen(block: str, **value: Any) -> dict[str, Any]:
    return {block: {block: value}}


async def test_ua_alone_opens_the_alert_form_and_submitting_it_opens_a_case(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, "")
    [opened] = await emulator.wait_for("views.open")
    view = opened["view"]
    assert view["callback_id"] == "new_alert" and view["private_metadata"] == "C1"
    assert {b["block_id"] for b in view["blocks"] if b["type"] == "input"}.isdisjoint(
        {"defender", "name", "organisation"}
    ), "the form asks for no identity"

    status, found = await interact_json(
        url,
        {
            "type": "block_suggestion",
            "action_id": "country",
            "block_id": "country",
            "value": "hond",
            "user": {"id": "U3"},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "view": view,
        },
    )
    assert status == 200 and found["options"][0] == {
        "text": {"type": "plain_text", "text": "Honduras"},
        "value": "HN",
    }

    empty = {
        **chosen("country", selected_option={"value": "HN"}),
        **chosen("summary", value="held"),
    }
    status, answer = await interact_json(url, submission(view, empty))
    assert status == 200 and answer["response_action"] == "errors" and "threats" in answer["errors"]
    assert emulator.posted("chat.postMessage") == []

    values = {
        **chosen("country", selected_option={"value": "HN"}),
        **chosen("threats", selected_options=[{"value": "arbitrary_detention"}]),
        **chosen("profiles", selected_options=[{"value": "journalist"}]),
        **chosen("summary", value="held at a police station"),
        **chosen("consent", selected_options=[{"value": "media"}]),
        **chosen("financiers", value="IFC"),
    }
    status, _ = await interact_json(url, submission(view, values))
    assert status == 200
    [card] = await emulator.wait_for("chat.postMessage")
    assert card["channel"] == "C1" and card["text"].startswith("Opened UA-2026-")
    assert "Compliance Advisor Ombudsman" in str(card["blocks"])


async def test_the_message_shortcut_prefills_the_form_and_raising_it_twice_is_one_case(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator, services: Services
) -> None:
    _, url = http_mode
    status = await interact(
        url,
        {
            "type": "message_action",
            "callback_id": "raise_alert",
            "trigger_id": "7.7.7",
            "user": {"id": "U3"},
            "channel": {"id": "C1"},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "message": {"text": "A lawyer was detained this morning", "ts": "5.5"},
        },
    )
    assert status == 200
    [opened] = await emulator.wait_for("views.open")
    summary = next(b for b in opened["view"]["blocks"] if b["block_id"] == "summary")
    assert summary["element"]["initial_value"] == "A lawyer was detained this morning"
    assert opened["view"]["private_metadata"] == "C1 5.5"

    values = {
        **chosen("country", selected_option={"value": "HN"}),
        **chosen("threats", selected_options=[{"value": "arbitrary_detention"}]),
        **chosen("summary", value="A lawyer was detained this morning"),
    }
    # Two people raise the same message (or one person twice): one case.
    for person in ("U3", "U4"):
        form = submission(opened["view"], values)
        assert await interact(url, {**form, "user": {"id": person}}) == 200
        await emulator.wait_for("chat.postMessage", timeout=5)
    with services.transaction() as session:
        [case] = session.scalars(select(Case)).all()
    assert case.source_external_id == "slack:T1:C1:5.5"
    await asyncio.sleep(0.5)
    answers = [c.args.get("text", "") for c in emulator.calls if c.method.startswith("chat.")]
    assert sum(text.startswith("Opened ") for text in answers) == 1, answers
    assert any(case.code in text for text in answers[1:]), answers


async def test_an_unbound_channel_gets_one_line_and_only_admins_bind_it(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator, services: Services
) -> None:
    _, url = http_mode
    for text in (NEW, "list", "", "bind Night shift"):
        assert (await command(url, text, channel="C9", user="U2"))[0] == 200
    refusals = await emulator.wait_for("chat.postEphemeral", count=4)
    assert all("ua bind" in r["text"] for r in refusals)
    assert not emulator.posted("views.open") and not emulator.posted("chat.postMessage")
    with services.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(Destination)) == 1  # C1 only
    await command(url, "bind Night shift", channel="C9", user="U0ADMIN")
    [bound] = await emulator.wait_for("chat.postMessage")
    assert "bound here for team Night shift" in bound["text"] and "minimal" in bound["text"]
    await command(url, "disclosure full", channel="C9", user="U0ADMIN")
    await command(url, "role <@U2|sam> observer", channel="C9", user="U0ADMIN")
    await command(url, NEW, channel="C9", user="U2")
    *_, full_refused, observer = await emulator.wait_for("chat.postEphemeral", count=6)
    assert "only in an end-to-end-encrypted Matrix room" in full_refused["text"]
    assert "needs the responder role here; yours is observer" in observer["text"]


async def test_a_redelivered_request_is_handled_once(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, NEW)
    body = form_body(slash_command(NEW))
    retry = {
        **signed_headers(body, SECRET),
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    assert (await post(url, body, retry))[0] == 200
    await emulator.wait_for("chat.postMessage")
    await asyncio.sleep(0.5)
    assert len(emulator.posted("chat.postMessage")) == 1


async def test_reminders_go_in_the_cards_thread_and_digests_to_the_channel(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator, services: Services
) -> None:
    connector, url = http_mode
    await command(url, NEW)
    [card] = await emulator.wait_for("chat.postMessage")
    # The connector remembers the card just after Slack answers the post: wait for that too.
    code = card["text"].split()[1].rstrip(":")
    posted = Ledger(services)
    for _ in range(100):
        if await posted.find(Place("slack", "C1"), f"checklist:{code}"):
            break
        await asyncio.sleep(0.05)
    later = datetime.now(UTC) + timedelta(days=1, hours=1)
    for item in run_due(services, later, started_at=later):
        await connector.send(item.place, item.message)
    posts = emulator.posted("chat.postMessage")
    reminders = [p for p in posts if p["text"].startswith("Reminder for")]
    digests = [p for p in posts if p["text"].startswith("Daily digest")]
    assert reminders and {p["thread_ts"] for p in reminders} == {"1.000100"}
    assert [d["channel"] for d in digests] == ["C1"] and "thread_ts" not in digests[0]
    assert card["text"].startswith("Opened")


async def test_tocsin_run_with_slack_settings_serves_signed_commands(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    """The issue's acceptance check, with the real `tocsin run` process."""
    port = free_port()
    environment = isolated_environment(
        tmp_path / "tocsin.db",
        SLACK_BOT_TOKEN=emulator.bot_token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=emulator.api_url,
        TOCSIN_HTTP_PORT=str(port),
        TOCSIN_ADMINS="slack:U0ADMIN",
    )
    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=environment,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    partner_secret = subprocess.run(
        [sys.executable, "-m", "bot", "partners", "add", "forms", "--to", "slack:C1"],
        env=environment,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
        await wait_until_listening(port)
        assert (await command(url, NEW))[0] == 200  # not bound yet: one line, nothing stored
        [refused] = await emulator.wait_for("chat.postEphemeral")
        assert "ua bind" in refused["text"] and not emulator.posted("chat.postMessage")
        assert (await command(url, "bind Fictional team", user="U0ADMIN"))[0] == 200
        [bound] = await emulator.wait_for("chat.postMessage")
        assert bound["text"].startswith("Tocsin is now bound here for team Fictional team")
        status, seconds = await command(url, NEW)
        assert status == 200 and seconds < 3
        [_, card] = await emulator.wait_for("chat.postMessage", count=2)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as alive:
                assert alive.status == 200
            async with http.get(f"http://127.0.0.1:{port}/readyz") as ready:
                report = await ready.json()
                assert ready.status == 200, report
        assert report["database"] and report["connectors"] == {"slack": True}
        assert report["scheduler"] and report["outbox_failed"] == 0
        assert card["channel"] == "C1" and card["text"].startswith("Opened UA-2026-0001")
        # A partner's form, signed, through the same server: its case card reaches C1.
        body = json.dumps({"country": "GT", "threats": ["raid"], "summary": "fictional"}).encode()
        stamp = str(int(time.time()))
        signed = {
            "Content-Type": "application/json",
            "X-Tocsin-Partner": "forms",
            "X-Tocsin-Timestamp": stamp,
            "X-Tocsin-Signature": signature(partner_secret, stamp, body),
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://127.0.0.1:{port}/v1/alerts", data=body, headers=signed) as answer,
        ):
            assert answer.status == 201 and (await answer.json())["code"] == "UA-2026-0002"
        [*_, partner_card] = await emulator.wait_for("chat.postMessage", count=3)
        assert partner_card["text"].startswith("Opened UA-2026-0002")
    finally:
        process.terminate()  # SIGTERM, as a platform stops a process
        stopping = time.monotonic()
        process.wait(timeout=15)
    assert time.monotonic() - stopping < 10, "a platform kills what takes longer"
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


async def wait_until_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port}")


class Driver:
    """Sends commands and interactions the way Slack would in one mode: signed HTTP or Socket Mode."""

    def __init__(self, emulator: SlackEmulator, url: str | None) -> None:
        self.emulator, self.url = emulator, url

    async def command(self, text: str) -> None:
        fields = slash_command(text)
        if self.url is None:
            envelope = await self.emulator.push("slash_commands", fields)
            assert await self.emulator.acked(envelope) < 3
            return
        body = form_body(fields)
        status, seconds = await post(self.url, body, signed_headers(body, SECRET))
        assert status == 200 and seconds < 3

    async def interact(self, payload: dict[str, Any]) -> None:
        if self.url is None:
            envelope = await self.emulator.push("interactive", payload)
            assert await self.emulator.acked(envelope) < 3
            return
        assert await interact(self.url, payload) == 200


@pytest.fixture(params=["http", "socket"])
async def driver(
    request: pytest.FixtureRequest, emulator: SlackEmulator, services: Services
) -> AsyncIterator[Driver]:
    common = {
        "_env_file": None,
        "slack_bot_token": emulator.bot_token,
        "slack_api_url": emulator.api_url,
        "tocsin_admins": ADMINS,
    }
    if request.param == "socket":
        settings = Settings(**common, slack_app_token=emulator.app_token)  # type: ignore[arg-type]
    else:
        settings = Settings(**common, slack_signing_secret=SECRET, tocsin_http_port=free_port())  # type: ignore[arg-type]
    async with running(SlackConnector(settings, connector_kit(services)), services):
        if request.param == "socket":
            await emulator.connected()
            yield Driver(emulator, None)
        else:
            yield Driver(emulator, f"http://127.0.0.1:{settings.tocsin_http_port}{EVENTS_PATH}")


async def test_a_responders_journey_in_both_modes(driver: Driver, emulator: SlackEmulator) -> None:
    """Raise by form, claim and finish a step by button, skip one with a reason, snooze one."""
    await driver.command("")
    [opened] = await emulator.wait_for("views.open")
    values = {
        **chosen("country", selected_option={"value": "CO"}),
        **chosen("threats", selected_options=[{"value": "death_threat"}]),
        **chosen("profiles", selected_options=[{"value": "land"}]),
        **chosen("summary", value="threatened after a community meeting"),
    }
    await driver.interact(submission(opened["view"], values))
    [card] = await emulator.wait_for("chat.postMessage")
    assert card["text"].startswith("Opened UA-2026-0001") and len(card["blocks"]) <= 50
    assert "Inter-American Commission on Human Rights (IACHR) — Colombia is an OAS member" in str(
        card["blocks"]
    )

    await driver.interact(block_actions(action(card, "step_claim", 1)))
    await emulator.wait_for("chat.update", 1)
    await driver.interact(block_actions(action(card, "step_done", 1)))
    updates = await emulator.wait_for("chat.update", 2)
    assert "[x] 1." in str(updates[-1]["blocks"])

    await driver.interact(block_actions(action(card, "step_skip", 2)))
    [_, reason_form] = await emulator.wait_for("views.open", 2)
    await driver.interact(
        submission(reason_form["view"], chosen("reason", value="a partner covers it"))
    )
    updates = await emulator.wait_for("chat.update", 3)
    assert "[-] 2." in str(updates[-1]["blocks"])
    assert "a partner covers it" not in str(updates[-1]["blocks"])  # minimal: no typed notes

    snooze = action(card, "step_snooze", 12)
    await driver.interact(block_actions(snooze, selected_option=snooze["options"][1]))
    updates = await emulator.wait_for("chat.update", 4)
    assert updates[-1]["text"] == "Step 12 snoozed."
    threads = [p for p in emulator.posted() if p.get("thread_ts") == updates[0]["ts"]]
    assert [p["text"] for p in threads][:2] == ["Step 1 is slack:U2's.", "Step 1 done."]
    assert emulator.violations == []


async def test_where_tocsin_cannot_post_the_asker_still_hears_back(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator, services: Services
) -> None:
    _, url = http_mode
    bind_place(services, Place("slack", "D9"))
    emulator.closed_channels.add("D9")
    fields = slash_command(NEW, channel="D9", response_url=emulator.response_url())
    body = form_body(fields)
    await post(url, body, signed_headers(body, SECRET))
    [answer] = await emulator.wait_for("response_url")
    assert answer["response_type"] == "ephemeral"
    assert "Tocsin cannot post in this conversation (not_in_channel)" in answer["text"]
    assert "Opened UA-2026-0001" in answer["text"]


async def test_a_deleted_card_is_posted_again_and_kept_up_to_date(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, NEW)
    await emulator.wait_for("chat.postMessage")
    emulator.deleted.add("1.000100")
    for text in ("claim UA-2026-0001 1", "done UA-2026-0001 1"):
        await command(url, text)
        await asyncio.sleep(0.3)
    posts = await emulator.wait_for("chat.postMessage", 3)
    assert [p.get("thread_ts") for p in posts] == [None, None, "2.000100"]
    update = emulator.posted("chat.update")[-1]
    assert update["ts"] == "2.000100" and "[x] 1." in str(update["blocks"])


async def test_a_refused_token_or_a_taken_port_stops_startup_with_what_to_fix(
    emulator: SlackEmulator, services: Services
) -> None:
    wrong = Settings(
        _env_file=None,
        slack_bot_token="xoxb-wrong",
        slack_signing_secret=SECRET,
        slack_api_url=emulator.api_url,
        tocsin_admins=ADMINS,
    )
    with pytest.raises(StartupError, match=r"Slack refused SLACK_BOT_TOKEN \(invalid_auth\)"):
        await SlackConnector(wrong, connector_kit(services)).start()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = Settings(
            _env_file=None,
            slack_bot_token=emulator.bot_token,
            slack_signing_secret=SECRET,
            slack_api_url=emulator.api_url,
            tocsin_admins=ADMINS,
            tocsin_http_port=port,
        )
        connector = SlackConnector(busy, connector_kit(services))
        with pytest.raises(StartupError, match="set TOCSIN_HTTP_PORT to a free port"):
            await connector.start()
        await connector.stop()


async def test_a_failing_slack_method_ends_in_a_message_to_the_person(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, NEW)
    [card] = await emulator.wait_for("chat.postMessage")
    emulator.break_method("users.info", "user_not_found")
    more = action(card, "step_more", 3)
    await interact(url, block_actions(more, selected_option=more["options"][0]))
    [assign] = await emulator.wait_for("views.open")
    await interact(
        url, submission(assign["view"], chosen("person", type="users_select", selected_user="U8"))
    )
    [update] = await emulator.wait_for("chat.update")
    assert update["text"] == "Step 3 is @U8's.", "assigned by id when the name cannot be looked up"


async def test_a_named_defender_never_reaches_any_slack_payload(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    await command(url, f'{NEW} defender="Ana Slack-Hidden" organisation="Radio Hidden"')
    [card] = await emulator.wait_for("chat.postMessage")
    code = card["text"].split()[1].rstrip(":")
    for text in (f"show {code}", f"log {code}", "list", f"claim {code} 1"):
        await command(url, text)
    await emulator.wait_for("chat.postEphemeral", count=3)
    await emulator.wait_for("chat.update")
    everything = json.dumps([call.args for call in emulator.calls], ensure_ascii=False)
    assert code in everything
    assert "Slack-Hidden" not in everything and "Radio Hidden" not in everything


async def test_ua_report_posts_the_numbers_then_the_chart_as_an_image(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    for _ in range(3):
        await command(url, NEW)
    await emulator.wait_for("chat.postMessage", 3)
    status, _ = await command(url, "report since=2026-01-01")
    assert status == 200
    posts = await emulator.wait_for("chat.postMessage", 4)
    report = next(p for p in posts if p["text"].startswith("Patterns of reprisals"))
    assert report["channel"] == "C1" and "about 5 cases opened" in report["text"]
    for _ in range(200):
        if emulator.shared_files("C1"):
            break
        await asyncio.sleep(0.05)
    [image] = emulator.shared_files("C1")
    assert image.filename == "tocsin-report.png" and image.title.startswith("Patterns of reprisals")
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n") and len(image.data) == image.length > 10_000
    assert image.alt_txt and "Cases by country: Honduras 5" in image.alt_txt
    # The text first, then the image: the upload began after the report was posted.
    report_call = next(c for c in emulator.calls if c.args is report)
    upload_call = next(c for c in emulator.calls if c.method == "files.getUploadURLExternal")
    assert report_call.at <= upload_call.at
    assert emulator.violations == []


async def test_the_weekly_summary_reaches_the_channel_with_its_chart_once(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator, services: Services
) -> None:
    _, url = http_mode
    await command(url, "report weekly on", user="U0ADMIN")
    await emulator.wait_for("chat.postMessage")
    with services.transaction() as session:
        room = session.scalars(select(Destination)).one()
        assert room.next_weekly_report_at is not None
        room.next_weekly_report_at = now = datetime.now(UTC)  # Monday has come
    # Slack refuses the first upload: the retry uploads the chart and does not repeat the text.
    emulator.fail("files.completeUploadExternal", times=1)
    run_due(services, now, started_at=now - timedelta(minutes=1))
    services.changes.notify()  # the dispatcher delivers what was queued
    for _ in range(400):
        if emulator.shared_files("C1"):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    [image] = emulator.shared_files("C1")
    assert image.filename == "tocsin-weekly.png"
    assert [c.method for c in emulator.calls].count("files.completeUploadExternal#429") == 1
    weekly = [p for p in emulator.posted() if p["text"].startswith("Weekly summary")]
    assert len(weekly) == 1 and weekly[0]["metadata"]["event_payload"]["key"].startswith("outbox:")


async def test_without_the_files_scope_the_report_still_goes_out_and_says_why_no_chart(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    _, url = http_mode
    emulator.break_method("files.getUploadURLExternal", "missing_scope")
    await command(url, "report")
    posts = await emulator.wait_for("chat.postMessage", 2)
    assert posts[0]["text"].startswith("Patterns of reprisals")
    assert "files:write" in posts[1]["text"] and emulator.shared_files() == []


async def test_a_report_found_posted_after_a_crash_still_gets_its_chart_once(
    http_mode: tuple[SlackConnector, str], emulator: SlackEmulator
) -> None:
    connector, _ = http_mode
    chart = Chart(
        name="tocsin-report",
        title="Cases opened per month",
        alt="Cases opened per month: 2 in October, 3 in November",
        panels=(Panel("bars", "Cases", ("Oct", "Nov"), (Series("All cases", (2.0, 3.0)),)),),
    )
    report = Message(fallback="Patterns of reprisals: 5 cases", blocks=(chart,), public=True)
    key = "outbox:4242"
    # The text went out, then Tocsin was killed before it recorded the post or the upload.
    await connector.client.chat_postMessage(
        channel="C1",
        text=report.fallback,
        metadata={"event_type": DELIVERY_EVENT, "event_payload": {"key": key}},
    )
    for _ in range(2):  # the dispatcher's retry, then one more
        await connector.send(Place("slack", "C1"), report, key, maybe_sent=True)
    [image] = emulator.shared_files("C1")
    assert image.filename == "tocsin-report.png" and image.alt_txt == chart.alt
    assert [p["text"] for p in emulator.posted()] == [report.fallback]
