"""Tocsin's own HTTP server: health and readiness, and the routes connectors add (Slack's
events in HTTP mode, partners' alerts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from aiohttp import web

from bot.errors import StartupError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Readiness:
    """What `/readyz` reports."""

    database: bool
    connectors: dict[str, bool]
    scheduler: bool
    outbox_pending: int
    outbox_failed: int
    oldest_pending_seconds: float | None

    @property
    def ready(self) -> bool:
        """Ready when the database answers, every connector is connected and the scheduler runs
        (a backlog is reported, not a reason to take Tocsin out of service)."""
        return self.database and all(self.connectors.values()) and self.scheduler


class HttpServer:
    """One aiohttp server on TOCSIN_HTTP_HOST:TOCSIN_HTTP_PORT, in Tocsin's event loop."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.application = web.Application()
        self.application.router.add_get("/healthz", _alive)
        self._runner: web.AppRunner | None = None

    def serve_readiness(self, check: Callable[[], Readiness]) -> None:
        """Answer `/readyz` with `check()` (run off the event loop): 200 when ready, else 503."""

        async def ready(_: web.Request) -> web.Response:
            try:
                report = await asyncio.wait_for(asyncio.to_thread(check), timeout=5)
            except Exception:
                log.exception("the readiness check failed")
                return web.json_response({"ready": False, "error": "check failed"}, status=503)
            body = {"ready": report.ready, **asdict(report)}
            return web.json_response(body, status=200 if report.ready else 503)

        self.application.router.add_get("/readyz", ready)

    async def start(self) -> None:
        """Listen, or StartupError saying to choose another port."""
        self._runner = web.AppRunner(self.application)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            raise StartupError(
                f"cannot listen on {self.host}:{self.port} ({error.strerror}): set "
                "TOCSIN_HTTP_PORT to a free port"
            ) from None
        log.info("health at http://%s:%s/healthz and /readyz", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _alive(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})
