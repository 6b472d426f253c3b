"""The running scheduler on a real clock: big backlogs, failing deliveries, changes while it runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.app import Background
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.outbox.dispatcher import Connectors
from bot.store.leader import LeaderLock
from bot.store.models import Case, ChecklistStep
from handlers.commands import handle_line
from handlers.context import Services
from tests.factories import case_row, fresh_services, step_row

ROOM = Place("console", "room")


class Recorder:
    """A connector that records what it is sent, and can fail the first few sends."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[str] = []
        self.cards: list[str] = []
        self.failures = failures

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        if message.fallback.startswith("Opened "):
            self.cards.append(message.fallback)  # a case card no connector posted in the test
            return
        if self.failures:
            self.failures -= 1
            raise ConnectionError("chat service unreachable")
        self.sent.append(message.fallback)

    async def wait_for(self, count: int, timeout: float = 15.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sent) < count:
            assert asyncio.get_running_loop().time() < deadline, f"only {len(self.sent)} of {count}"
            await asyncio.sleep(0.05)


@pytest.fixture
async def running(
    tmp_path: Path, world: World
) -> AsyncIterator[tuple[Services, Recorder, Background]]:
    fast = Playbook.model_validate(
        {
            "name": "fast",
            "source": "test",
            "as_of": "2026-11-01",
            "reminders": {"repeat": "1h", "escalate_after": 2},
            "steps": [{"id": "call", "title": "Call", "owner": "lead", "due": "1s"}],
        }
    )
    services, engine = fresh_services(tmp_path / "tocsin.db", world, fast)
    recorder = Recorder()
    connectors = Connectors()
    connectors.register("console", recorder)
    background = Background(services, connectors, LeaderLock(engine))
    yield services, recorder, background
    await background.stop()
    engine.dispose()


def backlog(services: Services, steps: int) -> None:
    """One open case whose steps all fell due an hour ago."""
    past = datetime.now(UTC) - timedelta(hours=1)
    with services.transaction() as session:
        session.execute(insert(Case), [case_row(year=2026, number=900, at=past)])
        case_id = session.query(Case.id).scalar()
        session.execute(
            insert(ChecklistStep),
            [step_row(case_id=case_id, n=n, due=past) for n in range(1, steps + 1)],
        )


async def test_a_backlog_larger_than_one_batch_is_all_delivered(
    running: tuple[Services, Recorder, Background],
) -> None:
    services, recorder, background = running
    backlog(services, 650)
    await background.start()
    await recorder.wait_for(650)
    assert all("[late: this fell due while Tocsin was offline]" in text for text in recorder.sent)


async def test_a_failing_delivery_is_retried_and_does_not_stop_the_others(
    running: tuple[Services, Recorder, Background],
) -> None:
    services, recorder, background = running
    recorder.failures = 1
    backlog(services, 3)
    await background.start()
    await recorder.wait_for(3)  # the first failed once, then went, in order
    assert [text.split(" (")[0] for text in recorder.sent] == [
        f"Reminder for lead: step {n} of UA-2026-0900" for n in (1, 2, 3)
    ]
    handle_line(
        'ua new country=HN threats=raid summary="later"', actor="a", place=ROOM, services=services
    )
    await recorder.wait_for(4)
    assert recorder.failures == 0
    assert recorder.sent[3].startswith("Reminder for lead: step 1 of UA-2026-0901")


async def test_a_case_opened_while_the_scheduler_runs_is_reminded_on_time(
    running: tuple[Services, Recorder, Background],
) -> None:
    services, recorder, background = running
    await background.start()
    handle_line(
        'ua new country=HN threats=raid summary="now"', actor="a", place=ROOM, services=services
    )
    await recorder.wait_for(1, timeout=10)
    assert recorder.sent[0].startswith("Reminder for lead: step 1 of UA-")
    assert "late" not in recorder.sent[0]
