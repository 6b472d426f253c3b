"""Slack through slack-bolt: `/ua` in, replies and scheduled messages out, Socket or HTTP mode.

The connector holds the workspace's clients and the bolt app, and starts and stops them; what
Slack sends is read in `listeners`, what Tocsin posts goes out through `posting`, its modals
are built in `forms` and its messages rendered as Block Kit in `blocks`.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.connectors.contract import ConnectorKit
from bot.connectors.slack.listeners import SlackListeners
from bot.connectors.slack.posting import SlackPoster
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.errors import StartupError
from config.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Retry-After is honoured each time; this many in a row means Slack is down, not busy.
RATE_LIMIT_RETRIES = 50


class SlackConnector:
    """One Slack workspace: answers `/ua` and posts Tocsin's own messages."""

    def __init__(
        self, settings: Settings, kit: ConnectorKit, routes: web.Application | None = None
    ) -> None:
        """With `routes` (Tocsin's shared HTTP server, before it starts), Slack's events are
        served there in HTTP mode; without, the connector runs a server of its own."""
        assert settings.slack_bot_token is not None
        self._settings = settings
        token = settings.slack_bot_token.get_secret_value()
        self.client = AsyncWebClient(token=token, base_url=settings.slack_api_url)
        # Slack answers 429 with Retry-After when we call too fast: forms, private answers and
        # lookups wait and retry.
        self.client.retry_handlers.append(
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
        )
        # Posts fail at once instead: the outbox dispatcher retries them, honouring Retry-After,
        # without holding a row past its lease (a second dispatcher would post it again).
        poster = AsyncWebClient(token=token, base_url=settings.slack_api_url)
        self._poster = SlackPoster(self.client, poster, kit.ledger)
        secret = settings.slack_signing_secret
        self.app = AsyncApp(
            client=self.client,
            signing_secret=secret.get_secret_value() if secret else None,
            request_verification_enabled=secret is not None,
        )
        SlackListeners(self.app, self.client, kit.commands, self._poster)
        self._socket: AsyncSocketModeHandler | None = None
        self._http: web.AppRunner | None = None
        self._shares_http = routes is not None
        if routes is not None and settings.slack_app_token is None:
            routes.router.add_post(EVENTS_PATH, self._on_http)
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
        if self._shares_http:
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

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Post from the outbox (see `SlackPoster.send`)."""
        await self._poster.send(place, message, key, maybe_sent=maybe_sent)


async def _healthy(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})
