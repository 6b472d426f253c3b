"""Real time, real processes: a reminder appears, the process is killed, and after a restart the
escalation fires once."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import isolated_environment

FAST_PLAYBOOK = """\
name: Seconds
source: test playbook with second-long steps
as_of: 2026-11-01
reminders:
  repeat: 4s
  escalate_after: 1
steps:
  - id: call
    title: Call the defender
    owner: lead
    due: 2s
"""


class Running:
    """A `tocsin run` process whose output lines are collected as they come."""

    def __init__(self, environment: dict[str, str], cwd: Path) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment,
            cwd=cwd,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} did not appear; saw: {self.seen[-5:]}")

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.lines.get(timeout=0.1))

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def test_reminder_then_kill_then_restart_fires_the_escalation_once(tmp_path: Path) -> None:
    playbook = tmp_path / "seconds.yaml"
    playbook.write_text(FAST_PLAYBOOK)
    environment = isolated_environment(tmp_path / "tocsin.db", TOCSIN_PLAYBOOK=str(playbook))
    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=environment,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )

    first = Running(environment, tmp_path)
    try:
        first.type('ua new country=HN threats=raid summary="fictional real-time test"')
        first.wait_for("Opened UA-")
        assert "Reminder for lead: step 1 of" in first.wait_for("Reminder for", timeout=20)
    finally:
        first.kill()

    second = Running(environment, tmp_path)
    try:
        second.wait_for("Escalation to the case lead", timeout=20)
        second.drain(1.5)
    finally:
        second.kill()
    escalations = [line for line in second.seen if "Escalation to the case lead" in line]
    assert len(escalations) == 1, second.seen
    assert not [line for line in second.seen if line.startswith("Reminder for")], (
        "no reminder twice"
    )
