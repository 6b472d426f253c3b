"""What Slack sends Tocsin: `/ua` commands, buttons and menus on case cards, the new-alert
form and shortcut, and country searches; each becomes a Command for the command sink, and
its answer goes back through the poster."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.connectors.contract import CommandSink
from bot.connectors.slack.forms import (
    ALERT_CALLBACK,
    alert_from_submission,
    assign_modal,
    new_alert_modal,
    reason_modal,
)
from bot.connectors.slack.people import SLACK_PEOPLE
from bot.connectors.slack.posting import SlackPoster
from bot.domain.access import Role
from bot.domain.alert import AlertError, parse_alert
from bot.domain.commands.request import Command
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.domain.vocabulary import Profile, Threat

log = logging.getLogger(__name__)

# Slack gives three seconds to acknowledge; work that takes longer is acknowledged first.
ACK_WITHIN_S = 2.0
MAX_OPTIONS = 100


def slack_command(user: str, channel: str, text: str) -> Command:
    """What a member typed (or clicked) in a channel, as a platform-neutral command."""
    return Command(
        actor=f"slack:{user}", place=Place("slack", channel), text=text, people=SLACK_PEOPLE
    )


class SlackListeners:
    """The app's listeners: each turns what Slack sent into a command, and answers it."""

    def __init__(
        self, app: AsyncApp, client: AsyncWebClient, commands: CommandSink, poster: SlackPoster
    ) -> None:
        self._client = client
        self._commands = commands
        self._poster = poster
        app.middleware(_skip_redeliveries)
        app.error(self._on_error)
        app.command("/ua")(self._on_command)
        for action in ("step_claim", "step_done"):
            app.action(action)(self._on_step_button)
        app.action("step_snooze")(self._on_snooze)
        app.action("step_skip")(self._on_skip_button)
        app.view("skip_reason")(self._on_skip_reason)
        app.action("step_more")(self._on_more)
        app.view("assign_step")(self._on_assign)
        app.options("country")(self._on_country_search)
        app.options("home_country")(self._on_country_search)
        app.view(ALERT_CALLBACK)(self._on_alert_form)
        app.shortcut("raise_alert")(self._on_raise_shortcut)

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        text = command.get("text", "").strip()
        if text.lower() in ("", "new"):
            await ack()
            await self._open_alert_form(
                command["trigger_id"], command["channel_id"], command["user_id"], respond=respond
            )
            return
        await self._run(command["user_id"], command["channel_id"], text, respond=respond, ack=ack)

    async def _open_alert_form(
        self,
        trigger_id: str,
        channel: str,
        user: str,
        summary: str = "",
        respond: Any = None,
        message_ts: str = "",
    ) -> None:
        if await self._refused(user, channel, respond):
            return
        view = new_alert_modal(
            channel,
            [p.value for p in Profile],
            [t.value for t in Threat],
            summary=summary,
            message_ts=message_ts,
        )
        await self._client.views_open(trigger_id=trigger_id, view=view)

    async def _on_raise_shortcut(self, ack: Any, shortcut: dict[str, Any]) -> None:
        await ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id", "")
        user = (shortcut.get("user") or {}).get("id", "")
        await self._open_alert_form(
            shortcut["trigger_id"],
            channel,
            user,
            summary=message.get("text", ""),
            message_ts=str(message.get("ts") or ""),
        )

    async def _on_country_search(self, ack: Any, payload: dict[str, Any]) -> None:
        matches = self._commands.countries.search(payload.get("value", ""), limit=MAX_OPTIONS)
        await ack(
            options=[
                {"text": {"type": "plain_text", "text": c.name[:75]}, "value": c.alpha2}
                for c in matches
            ]
        )

    async def _on_alert_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        alert = alert_from_submission(view["state"]["values"])
        try:
            parse_alert(alert, self._commands.countries)
        except AlertError as error:
            block = error.field.split(".")[0].split("[")[0] or "summary"
            await ack(response_action="errors", errors={block: error.message[:150]})
            return
        user = body["user"]["id"]
        channel, _, message_ts = view["private_metadata"].partition(" ")
        if message_ts:
            # The same message raised twice (two people, or one twice) is one case.
            team = (body.get("team") or {}).get("id", "")
            alert["source"] = {"external_id": f"slack:{team}:{channel}:{message_ts}"}
        request = slack_command(user, channel, "new")
        work = functools.partial(self._commands.new_alert, alert, request)
        reply = await _saved_then_acked(ack, work)
        await self._poster.reply(request.place, reply, user=user)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        """A listener failed after its ack: tell the person, never leave them with silence."""
        incident = uuid.uuid4().hex[:8]
        log.error("a Slack interaction failed (incident %s): %r", incident, error)
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        channel = _channel(body) or body.get("channel_id")
        if not (user and channel):
            return
        with contextlib.suppress(SlackApiError):
            await self._client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=f":warning: Something went wrong on Tocsin's side (incident {incident}). "
                "Check the case with /ua show, then try again.",
            )

    async def _run(
        self, user: str, channel: str, text: str, respond: Any = None, ack: Any = None
    ) -> None:
        """Run one command as the user typed it in the channel, and answer it; with `ack`,
        Slack hears the command was received once it is saved."""
        request = slack_command(user, channel, text)
        work = functools.partial(self._commands.handle, request)
        reply = await (_saved_then_acked(ack, work) if ack else asyncio.to_thread(work))
        await self._poster.reply(request.place, reply, user=user, respond=respond)

    async def _on_step_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        verb = {"step_claim": "claim", "step_done": "done"}[action["action_id"]]
        await self._run(body["user"]["id"], _channel(body), f"{verb} {action['value']}")

    async def _on_snooze(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        code, n, delay = action["selected_option"]["value"].split()
        await self._run(body["user"]["id"], _channel(body), f"snooze {code} {n} {delay}")

    async def _on_skip_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        code, n = action["value"].split()
        if await self._refused(body["user"]["id"], _channel(body)):
            return
        await self._client.views_open(
            trigger_id=body["trigger_id"], view=reason_modal(code, int(n), _channel(body))
        )

    async def _on_skip_reason(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["reason"]["value"] or ""
        if not reason.strip():
            await ack(response_action="errors", errors={"reason": "Say why the step is skipped."})
            return
        await ack()
        code, n, channel = view["private_metadata"].split()
        await self._run(body["user"]["id"], channel, f"skip {code} {n} {reason}")

    async def _on_more(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        choice, code, n = action["selected_option"]["value"].split()
        if choice == "show":
            await self._run(body["user"]["id"], _channel(body), f"show {code}")
            return
        if await self._refused(body["user"]["id"], _channel(body)):
            return
        await self._client.views_open(
            trigger_id=body["trigger_id"], view=assign_modal(code, int(n), _channel(body))
        )

    async def _on_assign(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        person = view["state"]["values"]["person"]["person"]["selected_user"]
        code, n, channel = view["private_metadata"].split()
        try:
            info = await self._client.users_info(user=person)
            name = (info.get("user") or {}).get("name") or person
        except SlackApiError:
            name = person
        await self._run(body["user"]["id"], channel, f"assign {code} {n} @{name}")

    async def _refused(self, user: str, channel: str, respond: Any = None) -> bool:
        """Whether the person may not open a form that changes cases here; the refusal is
        the answer, before any form opens."""
        request = slack_command(user, channel, "")
        refused = await asyncio.to_thread(self._commands.may_start, request, Role.RESPONDER)
        if refused is not None:
            await self._poster.reply(request.place, refused, user=user, respond=respond)
        return refused is not None


async def _saved_then_acked(ack: Any, work: Callable[[], Message]) -> Message:
    """Run `work` and acknowledge once it is done, so that an acknowledged alert is saved
    even if Tocsin is killed a moment later; when saving is slow (a locked or restarting
    database), acknowledge anyway before Slack's three seconds run out."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    await asyncio.wait({task}, timeout=ACK_WITHIN_S)
    await ack()
    return await task


async def _skip_redeliveries(req: Any, resp: Any, next: Any) -> Any:
    """Slack redelivers what it thinks was not acknowledged: the first delivery was handled."""
    retries = req.headers.get("x-slack-retry-num") or ["0"]
    if retries[0] not in ("", "0"):
        return BoltResponse(status=200, body="")
    return await next()


def _channel(body: dict[str, Any]) -> str:
    """The channel an interaction came from (a card in a channel, or its container)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel or "")
