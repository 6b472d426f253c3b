"""Fault injection: Slack failing, Tocsin killed, the database locked or restarting, while
alerts arrive. After each drill every acknowledged alert has exactly one case, every case card
reached the channel exactly once, every reminder fired once, and the outbox is empty.

Each drill's tally is printed at the end of the session ("fault drills")."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.db import create_database_engine
from bot.store.models import Case, Defender
from tests.conftest import fresh_postgres_schema, isolated_environment
from tests.fault_drill import (
    ADMIN,
    DRILL_PLAYBOOK,
    SECRET,
    Tally,
    TocsinProcess,
    delivered_cards,
    raise_alerts,
    settle,
    slash,
    tally,
)
from tests.ports import free_port
from tests.slack_emulator import SlackEmulator
from tests.tcp_fault import FaultyProxy

ALERTS = 50
EVERYONE = list(range(1, ALERTS + 1))


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh, empty schema on the test PostgreSQL server; its name."""
    with fresh_postgres_schema("tocsin_drill") as schema:
        yield schema


def postgres_url(schema: str, port: int = 5432) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/test?options=-csearch_path%3D{schema}"


async def drill_process(
    folder: Path, emulator: SlackEmulator, database_url: str | None = None
) -> TocsinProcess:
    """`tocsin run` for a drill, migrated, started and bound to the drill channel; on SQLite
    in `folder` unless `database_url` says otherwise."""
    playbook = folder / "drill-playbook.yaml"
    playbook.write_text(DRILL_PLAYBOOK)
    port = free_port()
    extra = {"DATABASE_URL": database_url} if database_url else {}
    environment = isolated_environment(
        folder / "tocsin.db",
        SLACK_BOT_TOKEN=emulator.bot_token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=emulator.api_url,
        TOCSIN_HTTP_PORT=str(port),
        TOCSIN_ADMINS=f"slack:{ADMIN}",
        TOCSIN_PLAYBOOK=str(playbook),
        **extra,
    )
    process = TocsinProcess(folder, environment, port)
    await process.tocsin("migrate")
    await process.start()
    async with aiohttp.ClientSession() as http:
        assert await slash(http, process.events_url, "bind Drill team", user=ADMIN)
    await emulator.wait_for("chat.postMessage")
    await process.outbox_empty()  # the drill starts from a quiet channel
    return process


def cases_by_person(database_url: str) -> Counter[str]:
    """How many cases each drill defender has."""
    engine = create_database_engine(database_url)
    try:
        with Session(engine) as session:
            names = session.scalars(select(Defender.name).join(Case, Case.id == Defender.case_id))
            return Counter(str(name) for name in names)
    finally:
        engine.dispose()


async def finish(
    scenario: str,
    process: TocsinProcess,
    emulator: SlackEmulator,
    database_url: str,
    *,
    accepted: list[int],
    started: float,
    resent: int = 0,
) -> Tally:
    """Let the drill settle, count what arrived, and check the outbox is empty."""
    cards, reminders = await settle(emulator, len(accepted))
    result = tally(
        scenario,
        sent=ALERTS,
        accepted=len(accepted),
        cases_by_person=cases_by_person(database_url),
        cards=cards,
        reminders=reminders,
        started=started,
        resent=resent,
    )
    result.found_after_restart = process.found_after_restart()
    report = await process.tocsin("outbox")
    assert report.strip().startswith("0 pending") and "; 0 failed" in report, report
    assert (result.duplicates, result.losses) == (0, 0), result.line()
    return result


async def test_slack_failing_for_30_seconds_while_50_alerts_arrive(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    started = time.monotonic()
    process = await drill_process(tmp_path, emulator)
    try:
        emulator.outage(30, retry_after=2)
        accepted = await raise_alerts(process, EVERYONE, emulator, every_s=0.3)
        assert accepted == EVERYONE
        await finish(
            "Slack 500/429 for 30 s",
            process,
            emulator,
            f"sqlite:///{tmp_path / 'tocsin.db'}",
            accepted=accepted,
            started=started,
        )
    finally:
        await process.stop()
    assert [c for c in emulator.calls if c.method.endswith(("#500", "#429"))], "no post failed"
    told = [c.args["text"] for c in emulator.calls if c.method == "response_url"]
    assert any("Slack is not taking messages right now" in t for t in told)


async def test_killed_mid_burst_and_restarted(
    emulator: SlackEmulator, tmp_path: Path, postgres_schema: str
) -> None:
    """SIGKILL while alerts arrive and cards are being posted; what was not acknowledged,
    the responders send again (Slack showed them an error)."""
    started = time.monotonic()
    database_url = postgres_url(postgres_schema)
    process = await drill_process(tmp_path, emulator, database_url)
    try:
        # Slack answers slowly: at the kill, cards are in the channel that Tocsin never heard
        # were posted. After the restart it must find them there, not post them again.
        emulator.post_latency_s = 1.0
        acknowledged: list[int] = []
        burst = asyncio.create_task(
            raise_alerts(process, EVERYONE, emulator, every_s=0.1, accepted=acknowledged)
        )
        while len(acknowledged) < 20 or len(delivered_cards(emulator)) < 3:
            await asyncio.sleep(0.01)
        while not emulator.unanswered:  # a post made, its answer not yet back
            await asyncio.sleep(0.005)
        process.kill()
        await burst
        emulator.post_latency_s = 0.0
        await process.start()
        unacknowledged = [n for n in EVERYONE if n not in acknowledged]
        assert unacknowledged, "the kill came after the burst"
        resent = await raise_alerts(process, unacknowledged, emulator)
        assert sorted(acknowledged + resent) == EVERYONE
        result = await finish(
            "SIGKILL mid-burst, restart (PostgreSQL)",
            process,
            emulator,
            database_url,
            accepted=EVERYONE,
            started=started,
            resent=len(unacknowledged),
        )
        assert result.found_after_restart, "the kill left no post unrecorded"
    finally:
        await process.stop()


async def test_the_sqlite_database_locked_for_8_seconds(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    """Another process holds the write lock longer than SQLite's own 5 s wait."""
    started = time.monotonic()
    process = await drill_process(tmp_path, emulator)
    locker = sqlite3.connect(
        tmp_path / "tocsin.db", isolation_level=None, timeout=30, check_same_thread=False
    )
    try:
        burst = asyncio.create_task(raise_alerts(process, EVERYONE, emulator, every_s=0.2))
        await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")
        await asyncio.sleep(8)
        locker.execute("COMMIT")
        accepted = await burst
        assert accepted == EVERYONE
        await finish(
            "SQLite locked for 8 s",
            process,
            emulator,
            f"sqlite:///{tmp_path / 'tocsin.db'}",
            accepted=accepted,
            started=started,
        )
    finally:
        locker.close()
        await process.stop()


async def test_postgresql_restarting_for_5_seconds(
    emulator: SlackEmulator, tmp_path: Path, postgres_schema: str
) -> None:
    """Every connection dropped and new ones refused for 5 s, as a server restart does."""
    started = time.monotonic()
    proxy = FaultyProxy(5432)
    await proxy.start()
    process = await drill_process(tmp_path, emulator, postgres_url(postgres_schema, proxy.port))
    try:
        burst = asyncio.create_task(raise_alerts(process, EVERYONE, emulator, every_s=0.2))
        await asyncio.sleep(2)
        proxy.outage(5)
        accepted = await burst
        assert accepted == EVERYONE and proxy.refused, "the outage met no connection"
        await finish(
            "PostgreSQL restart, 5 s",
            process,
            emulator,
            postgres_url(postgres_schema),
            accepted=accepted,
            started=started,
        )
    finally:
        await process.stop()
        await proxy.stop()
