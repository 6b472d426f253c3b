"""Start-up to ready and idle memory of `tocsin run` with the console connector on SQLite
(targets: ready under 1.5 s, idle memory under 120 MB).

Each sample is a fresh `python -m bot run` process on a migrated SQLite file, timed from the
spawn to the first 200 of `GET /readyz` (polled every 5 ms); the process then idles 3 s and its
resident memory (VmRSS) is read. The floor is a process that only starts Python and imports
`bot.cli`, the entry point. Run it as `python -m bench.startup`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.results import Figure, percentile, publish, spread
from bot.store.sealing import generate_key
from tests.ports import free_port

SAMPLES = 9
IDLE_S = 3.0
TARGET_S, TARGET_MB = 1.5, 120.0
ROOT = Path(__file__).resolve().parents[1]


def environment(database: Path, port: int) -> dict[str, str]:
    """This environment without Tocsin's settings, on the benchmark's own database and port."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MATRIX_", "TOCSIN_", "DATABASE_URL"))
    }
    return {
        **kept,
        "DATABASE_URL": f"sqlite:///{database}",
        "TOCSIN_DATA_KEY": KEY,
        "TOCSIN_HTTP_PORT": str(port),
    }


KEY = generate_key()


def migrated(folder: Path) -> None:
    """A SQLite database in `folder`, migrated as `tocsin migrate` does."""
    migrate = [sys.executable, "-m", "bot", "migrate"]
    env = environment(folder / "bench.db", free_port())
    subprocess.run(migrate, env=env, cwd=folder, check=True, capture_output=True)


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def resident_mb(pid: int) -> float:
    """VmRSS of the process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def one_start(folder: Path) -> tuple[float, float]:
    """Seconds from spawn to ready, and MB resident after idling."""
    port = free_port()
    env = environment(folder / "bench.db", port)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=folder,
        stdin=subprocess.PIPE,  # the console waits on it, as a terminal would
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ready(port):
            if process.poll() is not None or time.perf_counter() - started > 30:
                raise RuntimeError("tocsin run did not become ready")
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        time.sleep(IDLE_S)
        return seconds, resident_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


def import_floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import bot.cli"], check=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        migrated(folder)
        one_start(folder)  # warm the file system cache, as a restarted service has it
        samples = [one_start(folder) for _ in range(SAMPLES)]
    floors = [import_floor() for _ in range(SAMPLES)]
    seconds = [s for s, _ in samples]
    memory = [m for _, m in samples]
    ok = publish(
        [
            Figure(
                name="Start-up to ready (console, SQLite), median",
                value=statistics.median(seconds),
                unit="s",
                target=TARGET_S,
                direction="max",
                floor=statistics.median(floors),
                note=f"spawn to first 200 of /readyz: {spread([s * 1000 for s in seconds])} ms; "
                f"max {max(seconds):.2f} s; floor = Python start + import bot.cli",
            ),
            Figure(
                name="Idle memory after start-up (console, SQLite)",
                value=percentile(memory, 95),
                unit="MB",
                target=TARGET_MB,
                direction="max",
                note=f"VmRSS {IDLE_S:.0f} s after ready, p95 of {len(memory)} starts: "
                f"{spread(memory)} MB",
            ),
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
