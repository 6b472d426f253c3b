"""The scheduler (targets: start-up rebuild with 100,000 pending reminders under 3 s, memory
under 300 MB; firing lateness p99 under 500 ms with 1,000 reminders due in the same minute).

Start-up: fills a SQLite database with 1,000 open cases of 100 open steps each, then, in fresh
processes, times what `tocsin run` does before it serves: build the application and start the
scheduler, which derives its single timer from the database. Medians of five runs; the floor is
a process that only imports the same modules.

Lateness: a fresh database holds 1,000 open cases of 15 steps (the default playbook's size), one
step of each due one after another across one minute (from 5 s after the scheduler starts), the
other 14,000 next week; the real scheduler, outbox and dispatcher
run on this loop and deliver to a connector that notes when each reminder reached it. Lateness
is that moment minus the step's due time.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.results import Figure, percentile, publish, spread
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.outbox.dispatcher import Connectors
from bot.store.db import create_database_engine
from bot.store.leader import LeaderLock
from bot.store.migrate import upgrade_to_head
from bot.store.models import Case, ChecklistStep
from bot.store.sealing import generate_key, use_keys
from config.playbook import load_playbook
from config.world import load_world
from tests.factories import case_row, fresh_services, step_row

CASES, STEPS_PER_CASE = 1_000, 100
# The benchmark's own data key, for the filling and the measured processes alike.
DATA_KEY = generate_key()
TARGET_SECONDS, TARGET_MB = 3.0, 300.0
TARGET_LATENESS_MS = 500.0
DUE_IN_THE_MINUTE, STEPS_A_CASE = 1_000, 15
REMINDER = re.compile(r"step (\d+) of (UA-\d{4}-\d{4})")

MEASURE = """
import asyncio, json, resource, sys, time
start = time.perf_counter()
from bot.app import Background, build_application
from bot.outbox.dispatcher import Connectors
from bot.store.leader import LeaderLock
from config.settings import load_settings
mode = sys.argv[1]
if mode == "startup":
    app = build_application(load_settings())
    async def main():
        background = Background(app.services, Connectors(), LeaderLock(app.engine))
        await background.start()
        job = background.scheduler._aps.get_job("tocsin-next-due")
        await background.stop()
        return job is not None
    armed = asyncio.run(main())
else:
    armed = None
elapsed = time.perf_counter() - start
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "rss_mb": rss_mb, "armed": armed}))
"""


def fill(url: str) -> None:
    """1,000 open cases with 100 open, pending steps each."""
    use_keys([DATA_KEY])
    engine = create_database_engine(url)
    upgrade_to_head(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(Case),
            [case_row(year=2031, number=n, at=now, origin="stdin") for n in range(1, CASES + 1)],
        )
        connection.execute(
            insert(ChecklistStep),
            [
                step_row(case_id=case, n=n, due=now + timedelta(minutes=case * n))
                for case in range(1, CASES + 1)
                for n in range(1, STEPS_PER_CASE + 1)
            ],
        )
    engine.dispose()


def run(mode: str, url: str) -> dict[str, float]:
    environment = {"DATABASE_URL": url, "TOCSIN_DATA_KEY": DATA_KEY, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, mode],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


class Arrivals:
    """A console connector that notes when each reminder reaches it."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], datetime] = {}

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        found = REMINDER.search(message.fallback)
        if found:
            self.at.setdefault((found[2], int(found[1])), datetime.now(UTC))


async def lateness_ms(folder: Path) -> list[float]:
    """Milliseconds each of the minute's reminders reached the connector after its due time."""
    # Imported here, after the start-up runs: a child's ru_maxrss starts at its parent's
    # resident size, so whatever this process loads first is counted in theirs.
    from bot.app import Background

    world = load_world()
    services, engine = fresh_services(folder / "lateness.db", world, load_playbook(world))
    start = datetime.now(UTC) + timedelta(seconds=5)
    later = start + timedelta(days=7)
    due: dict[tuple[str, int], datetime] = {}
    rows = []
    for number in range(1, DUE_IN_THE_MINUTE + 1):
        at = start + timedelta(seconds=60 * (number - 1) / DUE_IN_THE_MINUTE)
        due[(f"UA-2032-{number:04d}", 1)] = at
        rows.append(step_row(case_id=number, n=1, due=at))
        rows += [step_row(case_id=number, n=n, due=later) for n in range(2, STEPS_A_CASE + 1)]
    with services.transaction() as session:
        session.execute(
            insert(Case),
            [case_row(year=2032, number=n, at=start) for n in range(1, DUE_IN_THE_MINUTE + 1)],
        )
        session.execute(insert(ChecklistStep), rows)
    arrivals = Arrivals()
    connectors = Connectors()
    connectors.register("console", arrivals)
    background = Background(services, connectors, LeaderLock(engine))
    await background.start()
    try:
        deadline = time.monotonic() + 120
        while len(arrivals.at) < len(due) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        await background.stop()
        engine.dispose()
    missing = len(due) - len(arrivals.at)
    assert missing == 0, f"{missing} reminders never arrived"
    return [(arrivals.at[key] - at).total_seconds() * 1000 for key, at in due.items()]


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        fill(url)
        took = time.perf_counter() - started
        print(f"filled {CASES * STEPS_PER_CASE:,} pending reminders in {took:.1f} s")
        floor = [run("imports", url) for _ in range(5)]
        startup = [run("startup", url) for _ in range(5)]
        late = asyncio.run(lateness_ms(Path(folder)))
    assert all(r["armed"] for r in startup), "the scheduler armed its timer"
    seconds = [r["seconds"] for r in startup]
    rss = [r["rss_mb"] for r in startup]
    ok = publish(
        [
            Figure(
                name="Scheduler start-up with 100,000 pending reminders (SQLite), median",
                value=statistics.median(seconds),
                unit="s",
                target=TARGET_SECONDS,
                direction="max",
                floor=statistics.median(r["seconds"] for r in floor),
                note=f"fresh process to armed timer, {len(seconds)} runs: "
                f"{spread([s * 1000 for s in seconds])} ms; floor = the same imports only",
            ),
            Figure(
                name="Scheduler start-up: peak memory",
                value=statistics.median(rss),
                unit="MB",
                target=TARGET_MB,
                direction="max",
                floor=statistics.median(r["rss_mb"] for r in floor),
                note="ru_maxrss of the process; floor = a process that only imports",
            ),
            Figure(
                name="Reminder firing lateness p99, 1,000 due in one minute",
                value=percentile(late, 99),
                unit="ms",
                target=TARGET_LATENESS_MS,
                direction="max",
                note=f"due time to the connector, through outbox and dispatcher: {spread(late)} "
                f"ms; max {max(late):.0f} ms; 14,000 more pending",
            ),
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
