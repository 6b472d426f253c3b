"""Slack through slack-bolt: `/ua` in, replies and scheduled messages out, Socket or HTTP mode."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.charts import render_png
from bot.connectors.contract import DeliveryFailed
from bot.connectors.slack.blocks import fallback_text, render, to_blocks
from bot.connectors.slack.views import (
    ALERT_CALLBACK,
    alert_from_submission,
    assign_modal,
    new_alert_modal,
    reason_modal,
)
from bot.domain.access import Role
from bot.domain.alert import AlertError, parse_alert
from bot.domain.case import Place
from bot.domain.messages import Message, charts_of
from bot.domain.vocabulary import Profile, Threat
from bot.errors import StartupError
from bot.http import HttpServer
from bot.outbox.ledger import Ledger
from config.settings import Settings
from handlers.context import Services
from handlers.dispatch import Command, handle, handle_new_alert, may_start

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Retry-After is honoured each time; this many in a row means Slack is down, not busy.
RATE_LIMIT_RETRIES = 50
# After a crash, how many recent messages of a channel (or thread) are searched for a post
# that went out unrecorded. A backlog deeper than this could be posted twice.
LOOK_BACK = 200
DELIVERY_EVENT = "tocsin_delivery"
# Slack gives three seconds to acknowledge; work that takes longer is acknowledged first.
ACK_WITHIN_S = 2.0
MAX_OPTIONS = 100
MAX_ALT_TEXT = 1000  # Slack's limit on an image's alt text
# An app installed before charts has no files:write scope: the text goes out, and this says why
# its chart does not.
CANNOT_UPLOAD = frozenset({"missing_scope", "not_allowed_token_type", "file_uploads_disabled"})
CHART_NOT_SHARED = (
    ":warning: The chart could not be attached ({problem}): Tocsin's Slack app needs the "
    "files:write scope. Reinstall it from config/slack-manifest.yaml, or draw the chart with "
    "tocsin report --chart report.png"
)


class SlackConnector:
    """One Slack workspace: answers `/ua` and posts Tocsin's own messages."""

    def __init__(
        self, settings: Settings, services: Services, http: HttpServer | None = None
    ) -> None:
        """With `http`, Slack's events are served on Tocsin's shared HTTP server (add the
        connector before the server starts); without, the connector runs its own."""
        assert settings.slack_bot_token is not None
        self._settings = settings
        self._services = services
        self._posted = Ledger(services)
        self.client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
        )
        # Slack answers 429 with Retry-After when we call too fast: forms, private answers and
        # lookups wait and retry.
        self.client.retry_handlers.append(
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
        )
        # Posts fail at once instead: the outbox dispatcher retries them, honouring Retry-After,
        # without holding a row past its lease (a second dispatcher would post it again).
        self._poster = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
        )
        secret = settings.slack_signing_secret
        self.app = AsyncApp(
            client=self.client,
            signing_secret=secret.get_secret_value() if secret else None,
            request_verification_enabled=secret is not None,
        )
        self.app.middleware(_skip_redeliveries)
        self.app.error(self._on_error)
        self.app.command("/ua")(self._on_command)
        for action in ("step_claim", "step_done"):
            self.app.action(action)(self._on_step_button)
        self.app.action("step_snooze")(self._on_snooze)
        self.app.action("step_skip")(self._on_skip_button)
        self.app.view("skip_reason")(self._on_skip_reason)
        self.app.action("step_more")(self._on_more)
        self.app.view("assign_step")(self._on_assign)
        self.app.options("country")(self._on_country_search)
        self.app.options("home_country")(self._on_country_search)
        self.app.view(ALERT_CALLBACK)(self._on_alert_form)
        self.app.shortcut("raise_alert")(self._on_raise_shortcut)
        self._socket: AsyncSocketModeHandler | None = None
        self._http: web.AppRunner | None = None
        self._shared_http = http
        if http is not None and settings.slack_app_token is None:
            http.application.router.add_post(EVENTS_PATH, self._on_http)
        self.connected = False

    async def start(self) -> None:
        """Connect: Socket Mode when an app token is set, else an HTTP endpoint for events.

        Raises StartupError, saying what to fix, when a token is refused or the port is taken."""
        await self._check_tokens()
        app_token = self._settings.slack_app_token
        if app_token is not None:
            self._socket = AsyncSocketModeHandler(self.app, app_token.get_secret_value())
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack connected in Socket Mode")
            self.connected = True
            return
        self.connected = True
        if self._shared_http is not None:
            log.info("Slack events served at %s on Tocsin's HTTP server", EVENTS_PATH)
            return
        self._http = web.AppRunner(self.web_application())
        await self._http.setup()
        site = web.TCPSite(
            self._http, self._settings.tocsin_http_host, self._settings.tocsin_http_port
        )
        try:
            await site.start()
        except OSError as error:
            raise StartupError(
                f"cannot listen on {self._settings.tocsin_http_host}:"
                f"{self._settings.tocsin_http_port} ({error.strerror}): set TOCSIN_HTTP_PORT to "
                "a free port"
            ) from None
        log.info(
            "Slack events served at http://%s:%s%s",
            self._settings.tocsin_http_host,
            self._settings.tocsin_http_port,
            EVENTS_PATH,
        )

    async def _check_tokens(self) -> None:
        try:
            await self.client.auth_test()
            if self._settings.slack_app_token is not None:
                token = self._settings.slack_app_token.get_secret_value()
                await self.client.apps_connections_open(app_token=token)
        except SlackApiError as error:
            which = "SLACK_APP_TOKEN" if "apps.connections" in str(error) else "SLACK_BOT_TOKEN"
            raise StartupError(
                f"Slack refused {which} ({error.response.get('error')}): check the token in your "
                "Slack app's settings"
            ) from None
        except (aiohttp.ClientError, OSError):
            raise StartupError(
                f"Slack's Web API at {self._settings.slack_api_url} cannot be reached: check "
                "SLACK_API_URL and the network"
            ) from None

    async def stop(self) -> None:
        """Disconnect."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._http is not None:
            await self._http.cleanup()

    def web_application(self) -> web.Application:
        """The HTTP endpoint Slack posts commands, interactions and events to."""
        application = web.Application()
        application.router.add_post(EVENTS_PATH, self._on_http)
        application.router.add_get("/healthz", _healthy)
        return application

    async def _on_http(self, request: web.Request) -> web.Response:
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

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
        await self.client.views_open(trigger_id=trigger_id, view=view)

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
        matches = self._services.world.countries.search(payload.get("value", ""), limit=MAX_OPTIONS)
        await ack(
            options=[
                {"text": {"type": "plain_text", "text": c.name[:75]}, "value": c.alpha2}
                for c in matches
            ]
        )

    async def _on_alert_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        alert = alert_from_submission(view["state"]["values"])
        try:
            parse_alert(alert, self._services.world.countries)
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
        request = Command(actor=f"slack:{user}", place=Place("slack", channel), text="new")
        work = functools.partial(handle_new_alert, alert, request, self._services)
        reply = await _saved_then_acked(ack, work)
        await self.reply(request.place, reply, user=user)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        """A listener failed after its ack: tell the person, never leave them with silence."""
        incident = uuid.uuid4().hex[:8]
        log.error("a Slack interaction failed (incident %s): %r", incident, error)
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        channel = _channel(body) or body.get("channel_id")
        if not (user and channel):
            return
        with contextlib.suppress(SlackApiError):
            await self.client.chat_postEphemeral(
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
        request = Command(actor=f"slack:{user}", place=Place("slack", channel), text=text)
        work = functools.partial(handle, request, self._services)
        reply = await (_saved_then_acked(ack, work) if ack else asyncio.to_thread(work))
        await self.reply(request.place, reply, user=user, respond=respond)

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
        await self.client.views_open(
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
        await self.client.views_open(
            trigger_id=body["trigger_id"], view=assign_modal(code, int(n), _channel(body))
        )

    async def _on_assign(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        person = view["state"]["values"]["person"]["person"]["selected_user"]
        code, n, channel = view["private_metadata"].split()
        try:
            info = await self.client.users_info(user=person)
            name = (info.get("user") or {}).get("name") or person
        except SlackApiError:
            name = person
        await self._run(body["user"]["id"], channel, f"assign {code} {n} @{name}")

    async def _refused(self, user: str, channel: str, respond: Any = None) -> bool:
        """Whether the person may not open a form that changes cases here; the refusal is
        the answer, before any form opens."""
        request = Command(actor=f"slack:{user}", place=Place("slack", channel), text="")
        refused = await asyncio.to_thread(may_start, request, self._services, Role.RESPONDER)
        if refused is not None:
            await self.reply(request.place, refused, user=user, respond=respond)
        return refused is not None

    async def reply(
        self, place: Place, message: Message, *, user: str, respond: Any = None
    ) -> None:
        """Answer a command: in the channel when it concerns the team, else only to the asker.
        Where Tocsin cannot post (a private conversation it is not in), the command's own
        response URL still reaches the asker; when Slack is down, the asker hears that what
        was saved will follow."""
        try:
            await self._answer(place, message, user=user)
        except SlackApiError as error:
            problem = _error_code(error) or f"HTTP {error.response.status_code}"
            log.warning("could not answer in %s: %s", place, problem)
            hint = _cannot_post_hint(problem, delivery_failure(error).permanent, message)
            if respond is not None:
                with contextlib.suppress(SlackApiError, aiohttp.ClientError):
                    await respond(
                        text=f"{hint}\n{fallback_text(message)}", response_type="ephemeral"
                    )
                return
            with contextlib.suppress(SlackApiError):
                await self.client.chat_postEphemeral(channel=place.address, user=user, text=hint)

    async def _answer(self, place: Place, message: Message, *, user: str) -> None:
        if message.public:
            await self._post_now(place, message)
            return
        await self.client.chat_postEphemeral(
            channel=place.address, user=user, text=fallback_text(message), blocks=to_blocks(message)
        )

    async def _post_now(self, place: Place, message: Message) -> None:
        """Post a command's public answer at once; when it waits in the outbox, hold its row
        first so the dispatcher cannot post it too, and give it back if Slack refuses."""
        key = message.outbox_key

        async def post(known: dict[str, str]) -> None:
            await self._post(place, message, key, known)

        # A SlackApiError is Slack's refusal: nothing went out, and the dispatcher may try.
        await self._posted.post_now(
            key, place, _looked_up(message, key), post, refusals=(SlackApiError,)
        )

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Post from the outbox, or DeliveryFailed saying whether to try again (Slack's own
        rate-limit waits happen first). With a delivery `key`, what was already posted for it
        is not posted again; `maybe_sent` looks in the channel for a post an earlier attempt
        made but never recorded (the process was killed in between)."""
        try:
            if key is not None and maybe_sent:
                await self._adopt_earlier_post(place, message, key)
            # A post found (or recorded) under the key is not posted again; its charts are,
            # unless they were uploaded too.
            await self.post(place, message, key)
        except SlackApiError as error:
            raise delivery_failure(error) from None

    async def post(self, place: Place, message: Message, key: str | None = None) -> None:
        """Post to a channel. A message with a case card edits the card in place and says what
        changed in its thread; a reminder goes in the thread of its case's card. A keyed post
        carries its key in the message's metadata, where `_adopt_earlier_post` finds it."""
        await self._post(
            place, message, key, await self._posted.find_all(place, _looked_up(message, key))
        )

    async def _post(
        self, place: Place, message: Message, key: str | None, known: dict[str, str]
    ) -> None:
        """`post`, given what was posted already under the keys it needs (`_looked_up`)."""
        text = fallback_text(message)
        card = message.replaces if message.card else None
        if key is not None and key in known:
            # Delivered before a restart or a lost answer; its charts may not have been.
            await self._share_charts(place, message, key, known)
            return
        if card:
            await self._refresh_card(place, message, text, key, known.get(card))
            return
        response = await self._poster.chat_postMessage(
            channel=place.address,
            text=text,
            blocks=to_blocks(message),
            thread_ts=known.get(message.thread) if message.thread else None,
            metadata=_delivery_metadata(key),
        )
        await self._remember(place, response, key)
        await self._share_charts(place, message, key, known)

    async def _share_charts(
        self, place: Place, message: Message, key: str | None, known: dict[str, str]
    ) -> None:
        """Upload the message's charts as PNG images into the channel, after its text; with a
        delivery key, once (a retry after the text went out uploads only what is missing)."""
        charts = charts_of(message)
        shared = _charts_key(key)
        if not charts or (shared is not None and shared in known):
            return
        images = await asyncio.to_thread(lambda: [render_png(chart) for chart in charts])
        try:
            response = await self._poster.files_upload_v2(
                channel=place.address,
                file_uploads=[
                    {
                        "content": image,
                        "filename": f"{chart.name}.png",
                        "title": chart.title,
                        "alt_txt": chart.alt[:MAX_ALT_TEXT],
                    }
                    for chart, image in zip(charts, images, strict=True)
                ],
            )
            file_id = str((response.get("files") or [{}])[0].get("id", "shared"))
        except SlackApiError as error:
            if _error_code(error) not in CANNOT_UPLOAD:
                raise
            # The text went out; say why its chart did not, rather than fail the message.
            note = CHART_NOT_SHARED.format(problem=_error_code(error))
            file_id = str(
                (await self._poster.chat_postMessage(channel=place.address, text=note))["ts"]
            )
        if shared is not None:
            await self._posted.remember(place, shared, file_id)

    async def _adopt_earlier_post(self, place: Place, message: Message, key: str) -> bool:
        """Whether a message carrying `key` is already in the channel (or the thread it
        belongs in); if so it now stands for the key, and for the card it posted."""
        if await self._posted.find(place, key):
            return True
        thread = None
        if message.card and message.replaces:
            thread = await self._posted.find(place, message.replaces)
        elif message.thread:
            thread = await self._posted.find(place, message.thread)
        if thread is not None:
            found = await self._poster.conversations_replies(
                channel=place.address, ts=thread, include_all_metadata=True, limit=LOOK_BACK
            )
        else:
            found = await self._poster.conversations_history(
                channel=place.address, include_all_metadata=True, limit=LOOK_BACK
            )
        for earlier in found.get("messages") or []:
            payload = (earlier.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                await self._posted.remember(place, key, str(earlier["ts"]))
                if message.card and message.replaces and thread is None:
                    await self._posted.remember(place, message.replaces, str(earlier["ts"]))
                log.info("%s was posted before a restart: not posted again", key)
                return True
        return False

    async def _remember(self, place: Place, response: Any, *keys: str | None) -> None:
        """Record the posted message as standing for each of `keys` (None ones skipped)."""
        ts = str(response["ts"])
        await self._posted.remember_all(place, {key: ts for key in keys if key is not None})

    async def _refresh_card(
        self, place: Place, message: Message, text: str, key: str | None, ts: str | None
    ) -> None:
        """Post the card, or edit it where it was posted (`ts`) and say what changed in its
        thread."""
        assert message.replaces is not None
        card = render(message.card)
        if ts is not None:
            try:
                await self._poster.chat_update(channel=place.address, ts=ts, text=text, blocks=card)
            except SlackApiError as error:
                if _error_code(error) != "message_not_found":
                    raise
                ts = None  # someone deleted the card: post a fresh one, kept up to date from now
            else:
                response = await self._poster.chat_postMessage(
                    channel=place.address, thread_ts=ts, text=text, metadata=_delivery_metadata(key)
                )
                await self._remember(place, response, key)
                return
        response = await self._poster.chat_postMessage(
            channel=place.address, text=text, blocks=card, metadata=_delivery_metadata(key)
        )
        await self._remember(place, response, message.replaces, key)


async def _saved_then_acked(ack: Any, work: Callable[[], Message]) -> Message:
    """Run `work` and acknowledge once it is done, so that an acknowledged alert is saved
    even if Tocsin is killed a moment later; when saving is slow (a locked or restarting
    database), acknowledge anyway before Slack's three seconds run out."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    await asyncio.wait({task}, timeout=ACK_WITHIN_S)
    await ack()
    return await task


def _looked_up(message: Message, key: str | None) -> tuple[str | None, ...]:
    """The keys whose posts posting `message` depends on: its own, its card's, its thread's,
    and its charts'."""
    charts = _charts_key(key) if charts_of(message) else None
    return (key, message.replaces if message.card else None, message.thread, charts)


def _charts_key(key: str | None) -> str | None:
    """The key the charts of a keyed message are remembered under once uploaded."""
    return f"{key}:charts" if key is not None else None


def _delivery_metadata(key: str | None) -> dict[str, Any] | None:
    """Message metadata naming the delivery key (an opaque row number, nothing about a case)."""
    if key is None:
        return None
    return {"event_type": DELIVERY_EVENT, "event_payload": {"key": key}}


def _cannot_post_hint(problem: str, permanent: bool, message: Message) -> str:
    """What the asker is told when Tocsin could not post its answer in the channel."""
    if permanent:
        return (
            f":warning: Tocsin cannot post in this conversation ({problem}): invite it with "
            "/invite @Tocsin, or use a channel it is in."
        )
    if message.outbox_key is not None:
        return (
            f":hourglass: Slack is not taking messages right now ({problem}). Your request "
            "was saved; Tocsin posts the answer here as soon as Slack answers again."
        )
    return f":hourglass: Slack is not taking messages right now ({problem}). Try again shortly."


# Errors that waiting will not fix: the channel is gone or Tocsin was removed or revoked.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "account_inactive",
        "token_revoked",
        "invalid_auth",
        "missing_scope",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
    }
)


def delivery_failure(error: SlackApiError) -> DeliveryFailed:
    """What a failed Web API call means for the outbox: give up, wait as told, or retry."""
    code = _error_code(error)
    status = error.response.status_code
    if code in PERMANENT_ERRORS:
        return DeliveryFailed(f"Slack: {code}", permanent=True)
    retry_after = error.response.headers.get("Retry-After") if status == 429 else None
    wait = float(retry_after) if retry_after and str(retry_after).isdigit() else None
    return DeliveryFailed(f"Slack: {code or status}", retry_after=wait)


def _error_code(error: SlackApiError) -> str:
    """Slack's error code; empty when the answer was not Slack's JSON (an HTTP 500 page)."""
    data = error.response.data
    return str(data.get("error") or "") if isinstance(data, dict) else ""


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


async def _healthy(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})
