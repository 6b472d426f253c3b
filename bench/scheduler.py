"""Start-up with 100,000 pending reminders (targets: rebuild under 3 s, memory under 300 MB).

Fills a SQLite database with 1,000 open cases of 100 open steps each, then, in fresh processes,
times what `tocsin run` does before it serves: build the application and start the scheduler,
which derives its single timer from the database. Reports medians of three runs, and the memory
of a process that only imports Tocsin as the floor.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bot.store.db import create_database_engine
from bot.store.migrate import upgrade_to_head
from bot.store.models import Case, ChecklistStep
from bot.store.sealing import generate_key, use_keys
from tests.factories import case_row, step_row

CASES, STEPS_PER_CASE = 1_000, 100
# The benchmark's own data key, for the filling and the measured processes alike.
DATA_KEY = generate_key()
TARGET_SECONDS, TARGET_MB = 3.0, 300.0

MEASURE = """
import asyncio, json, resource, sys, time
start = time.perf_counter()
from bot.app import build_application
from bot.delivery import Delivery
from bot.scheduler import Scheduler
from bot.store.leader import LeaderLock
from config.settings import load_settings
mode = sys.argv[1]
if mode == "startup":
    app = build_application(load_settings())
    async def main():
        scheduler = Scheduler(app.services, Delivery(), LeaderLock(app.engine))
        await scheduler.start()
        job = scheduler._aps.get_job("tocsin-next-due")
        await scheduler.stop()
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


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        fill(url)
        took = time.perf_counter() - started
        print(f"filled {CASES * STEPS_PER_CASE:,} pending reminders in {took:.1f} s")
        floor = [run("imports", url) for _ in range(3)]
        startup = [run("startup", url) for _ in range(3)]
    seconds = statistics.median(r["seconds"] for r in startup)
    rss = statistics.median(r["rss_mb"] for r in startup)
    floor_rss = statistics.median(r["rss_mb"] for r in floor)
    floor_seconds = statistics.median(r["seconds"] for r in floor)
    assert all(r["armed"] for r in startup), "the scheduler armed its timer"
    print(f"floor (imports only):      {floor_seconds:.2f} s, {floor_rss:.0f} MB")
    print(
        f"start-up with the backlog: {seconds:.2f} s ({TARGET_SECONDS / seconds:.1f}x under "
        f"{TARGET_SECONDS:.0f} s), {rss:.0f} MB peak "
        f"({TARGET_MB / rss:.1f}x under {TARGET_MB:.0f} MB)"
    )
    return 0 if seconds < TARGET_SECONDS and rss < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
