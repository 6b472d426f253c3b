"""schemathesis against `POST /v1/alerts` from its own OpenAPI document: valid and invalid
alerts, signed or not, must never get a 500, an undocumented status or a body that breaks the
document. The server runs in a thread with its own event loop (schemathesis calls are
synchronous and pytest-asyncio's loop does not run during a synchronous test)."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from bot.app import connector_kit
from bot.connectors.webhook.connector import WebhookConnector
from bot.connectors.webhook.openapi import SIGNING_HEADERS, openapi_document
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.partners import add_partner
from handlers.context import Services
from tests.factories import bind_place, fresh_services

SECRET = "fictional-fuzzing-secret"
EXAMPLES = 400
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


class Signed(requests.auth.AuthBase):
    """Signs the exact bytes requests sends, as a partner's library would; a case that left a
    signing header out (a negative case) goes unsigned, to be refused."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not all(name in request.headers for name in SIGNING_HEADERS):
            return request
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else body
        stamp = str(int(time.time()))
        mac = hmac.new(SECRET.encode(), f"v1:{stamp}:".encode() + raw, hashlib.sha256)
        request.headers["X-Tocsin-Partner"] = "fuzz"
        request.headers["X-Tocsin-Timestamp"] = stamp
        request.headers["X-Tocsin-Signature"] = "v1=" + mac.hexdigest()
        return request


class ServerThread:
    """The partner routes on 127.0.0.1, served from a thread of their own."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.session = requests.Session()
        #: The status of every answer, for the fixture's last word.
        self.statuses: list[int] = []

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        application = web.Application()
        WebhookConnector(connector_kit(self._services)).install(application)
        self._runner = web.AppRunner(application)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(10), "the partner API did not start"
        return self

    def __exit__(self, *_: Any) -> None:
        self.session.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def server(tmp_path: Path, world: World, playbook: Playbook) -> Iterator[ServerThread]:
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    bind_place(services, Place("slack", "CFUZZ"))
    with services.transaction() as session:
        add_partner(
            session=session,
            name="fuzz",
            secret=SECRET,
            destinations=["slack:CFUZZ"],
            rate_per_minute=10_000,
            now=datetime.now(UTC),
        )
    with ServerThread(services) as running:
        yield running
    engine.dispose()
    # Both doors were reached: alerts were taken or refused as invalid, not only unsigned.
    answered = collections.Counter(running.statuses)
    print(f"partner API fuzzed: {sorted(answered.items())}")
    assert {200, 201} & set(answered) and 422 in answered and 401 in answered, answered


# A negative case may also be too large: 413 is the document's answer to a body over 64 KB,
# beside schemathesis's own list of the statuses that refuse invalid data.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
SCHEMA = schemathesis.openapi.from_dict(
    openapi_document(),
    config=SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [*REFUSALS, "5xx"]}}}
    ),
)


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_the_partner_api_keeps_to_its_document_whatever_it_is_sent(
    case: Any, server: ServerThread
) -> None:
    response = case.call_and_validate(
        base_url=server.base_url, session=server.session, auth=Signed(), checks=CHECKS
    )
    server.statuses.append(response.status_code)
