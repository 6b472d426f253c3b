"""Sustained intake through the console path (target, our choice: at least 20 alerts a second).

A real `tocsin run` process (console connector, SQLite, outbox and dispatcher running) is fed
300 distinct `ua new …` lines on its standard input at once, as fast as a pipe takes them; the
figure is alerts divided by the seconds from the first line written to the last case card
printed. Every alert opens a case, saves its targets, steps, audit and outbox rows in one
transaction, and its card is delivered. Three runs on one database; the median run is the figure.
The same figure through Slack (emulator) comes from bench.slack_ack. Run it as
`python -m bench.intake`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.results import Figure, publish
from bench.startup import environment, migrated, ready
from tests.ports import free_port

ALERTS = 300
RUNS = 3
TARGET_PER_S = 20.0
COUNTRIES = ["HN", "GT", "CO", "MX", "BR", "PH", "KE", "IN"]
THREATS = ["arbitrary_detention", "death_threat", "judicial_harassment", "surveillance"]


def alert_line(n: int) -> str:
    country, threat = COUNTRIES[n % len(COUNTRIES)], THREATS[n % len(THREATS)]
    return (
        f"ua new country={country} threats={threat} profiles=journalist "
        f'summary="Fictional alert {n} for the intake benchmark" separate=true\n'
    )


def one_run(folder: Path) -> float:
    """Alerts per second from the first line written to the last card printed."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=environment(folder / "bench.db", port),
        cwd=folder,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    cards = threading.Semaphore(0)
    stdout = process.stdout

    def count_cards() -> None:
        for line in stdout:
            if line.startswith("Opened UA-"):
                cards.release()

    threading.Thread(target=count_cards, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while not ready(port):
            assert process.poll() is None and time.monotonic() < deadline, "tocsin run failed"
            time.sleep(0.01)
        started = time.perf_counter()
        process.stdin.write("".join(alert_line(n) for n in range(ALERTS)))
        process.stdin.flush()
        for _ in range(ALERTS):
            assert cards.acquire(timeout=120), "a case card never came"
        return ALERTS / (time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> int:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        migrated(folder)
        rates = [one_run(folder) for _ in range(RUNS)]
    ok = publish(
        [
            Figure(
                name="Intake through the console path (database + outbox), sustained",
                value=statistics.median(rates),
                unit="alerts/s",
                target=TARGET_PER_S,
                direction="min",
                note=f"{ALERTS} alerts piped at once, first line to last card; runs: "
                + ", ".join(f"{r:.1f}" for r in rates),
            )
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
