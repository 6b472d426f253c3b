"""/healthz and /readyz: alive, and ready only when the database, connectors and scheduler are."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bot.app import readiness
from bot.connectors.http import HttpServer
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.outbox import queue
from handlers.context import Services
from tests.conftest import FrozenClock
from tests.ports import free_port


async def get(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def test_ready_reports_the_backlog_and_not_ready_without_a_database(
    services: Services, clock: FrozenClock, tmp_path: Path
) -> None:
    before = readiness(services, {}, lambda: True).outbox_pending
    with services.transaction() as session:
        queue.enqueue(
            session=session, place=Place("console", "r"), message=Message("x"), now=clock()
        )
    clock.advance(seconds=90)
    report = readiness(services, {"matrix": lambda: True}, lambda: True)
    assert report.ready and report.outbox_pending == before + 1
    assert report.oldest_pending_seconds == 90

    nowhere = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    broken = replace(services, sessions=sessionmaker(nowhere))
    server = HttpServer("127.0.0.1", free_port())
    server.serve_readiness(lambda: readiness(broken, {"slack": lambda: False}, lambda: True))
    await server.start()
    try:
        assert (await get(f"http://127.0.0.1:{server.port}/healthz"))[0] == 200
        status, body = await get(f"http://127.0.0.1:{server.port}/readyz")
        assert status == 503
        assert body["ready"] is False and body["database"] is False
        assert body["connectors"] == {"slack": False}
    finally:
        await server.stop()
        nowhere.dispose()
