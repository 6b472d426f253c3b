"""`POST /v1/alerts` and `GET /v1/openapi.json` on Tocsin's HTTP server: a partner's signed
alert, checked in the order that changes nothing until it holds (content type, size, partner
and signature, rate, then the alert itself), and opened once per key."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from dataclasses import asdict
from typing import Any

from aiohttp import StreamReader, web

from bot.connectors.contract import ConnectorKit
from bot.connectors.webhook.openapi import ErrorBody, Problem, Problems, openapi_document
from bot.domain.partners import (
    MAX_BODY_BYTES,
    TOO_DEEP,
    AlertProblems,
    NoRoom,
    PartnerAccess,
    RateLimit,
    signature_problem,
)
from bot.errors import Unavailable

log = logging.getLogger(__name__)

ALERTS_PATH = "/v1/alerts"
OPENAPI_PATH = "/v1/openapi.json"
JSON = "application/json"
NO_ROOM_RETRY_S = 600  # an admin has to bind a room first


class WebhookConnector:
    """The partner routes, with one rate limit per partner for this process."""

    def __init__(self, kit: ConnectorKit) -> None:
        self._commands = kit.commands
        self._limits = RateLimit()
        self._document: dict[str, Any] | None = None

    def install(self, application: web.Application) -> None:
        """Add the routes to Tocsin's HTTP server (before it starts)."""
        application.router.add_post(ALERTS_PATH, self.alerts)
        application.router.add_get(OPENAPI_PATH, self.openapi)

    async def openapi(self, _: web.Request) -> web.Response:
        if self._document is None:  # built when first asked for, not at every start
            self._document = openapi_document()
        return web.json_response(self._document)

    async def alerts(self, request: web.Request) -> web.Response:
        """One alert from a partner; every answer is JSON and says what to do."""
        if request.content_type != JSON:
            return _refused(415, f"send the alert as {JSON} (Content-Type: {JSON})")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _too_large()
        body = await _whole_body(request.content)
        if body is None:
            return _too_large()
        name = request.headers.get("X-Tocsin-Partner", "")
        try:
            partner = await self._partner(name)
        except Exception as error:
            return _failed(error, name)
        if partner is None or partner.revoked:
            return _refused(401, f"no active partner '{name[:63]}': check X-Tocsin-Partner")
        refused = self._unsigned_or_too_fast(request, partner, body)
        if refused is not None:
            return refused
        return await self._take(body, partner, request.headers.get("Idempotency-Key"))

    def _unsigned_or_too_fast(
        self, request: web.Request, partner: PartnerAccess, body: bytes
    ) -> web.Response | None:
        """401 when the signature does not hold, 429 over the rate; None when it may go on."""
        problem = signature_problem(
            secret=partner.secret,
            timestamp=request.headers.get("X-Tocsin-Timestamp"),
            given=request.headers.get("X-Tocsin-Signature"),
            body=body,
            now=time.time(),
        )
        if problem is not None:
            return _refused(401, problem)
        wait = self._limits.wait(partner.name, partner.rate_per_minute, time.monotonic())
        if wait is None:
            return None
        seconds = math.ceil(wait)
        return _refused(
            429,
            f"over {partner.rate_per_minute} requests a minute: send again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )

    async def _partner(self, name: str) -> PartnerAccess | None:
        return await asyncio.to_thread(self._commands.partner, name)

    async def _take(self, body: bytes, partner: PartnerAccess, key: str | None) -> web.Response:
        data, problem = _parsed(body)
        if problem is not None:
            return _problems([Problem(field="", message=problem)])
        try:
            accepted = await asyncio.to_thread(self._commands.partner_alert, data, partner, key)
        except AlertProblems as error:
            return _problems([Problem(field=p.field, message=p.message) for p in error.problems])
        except NoRoom as error:
            return _refused(503, str(error), headers={"Retry-After": str(NO_ROOM_RETRY_S)})
        except Exception as error:
            return _failed(error, partner.name)
        return web.json_response(asdict(accepted), status=201 if accepted.opened else 200)


async def _whole_body(content: StreamReader) -> bytes | None:
    """The body however many packets it comes in; None once it is over MAX_BODY_BYTES (the
    rest is not read)."""
    body = bytearray()
    while chunk := await content.read(MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _parsed(body: bytes) -> tuple[Any, str | None]:
    """The body's JSON, or why it cannot be read (not UTF-8 or JSON, a number of thousands
    of digits, nesting deeper than Python's recursion limit)."""
    try:
        return json.loads(body.decode("utf-8")), None
    except RecursionError:
        return None, TOO_DEEP
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError among them
        return None, f"the body is not JSON: {error}"


def _failed(error: Exception, partner: str) -> web.Response:
    """503 when the database is briefly away, else 500 with an incident id to quote."""
    if isinstance(error, Unavailable):
        return _refused(
            503,
            "Tocsin's database is not answering; nothing was stored. Send the same "
            "request (same Idempotency-Key) again in a minute",
            headers={"Retry-After": "60"},
        )
    incident = uuid.uuid4().hex[:8]
    # The body may name a defender: log the partner and the incident, not the alert.
    log.exception("partner alert failed (incident %s, from %r)", incident, partner)
    return _refused(
        500,
        f"Tocsin failed on its side (incident {incident}); nothing was "
        "stored. Send it again; if it fails again, give the incident id to "
        "the organisation running Tocsin",
    )


def _refused(status: int, error: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(ErrorBody(error=error).model_dump(), status=status, headers=headers)


def _too_large() -> web.Response:
    return _refused(413, f"the body is over {MAX_BODY_BYTES // 1024} KB; an alert is far smaller")


def _problems(problems: list[Problem]) -> web.Response:
    return web.json_response(Problems(problems=problems).model_dump(), status=422)
