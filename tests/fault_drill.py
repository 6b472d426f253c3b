"""Fault drills: a real `tocsin run` process on the Slack emulator, alerts raised at it while
something breaks, and a tally of what reached the channel once everything settled."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.connectors.slack.connector import EVENTS_PATH
from tests.slack_emulator import SlackEmulator, form_body, signed_headers, slash_command

SECRET = "fictional-signing-secret"
ADMIN = "U0ADMIN"
CHANNEL = "C1"
# Two steps falling due seconds after a case opens, reminded once a day: each case's two
# reminders fire during the drill, exactly once each.
DRILL_PLAYBOOK = """\
name: Fault drill
source: tests
as_of: 2026-11-01
reminders: {repeat: 1d, escalate_after: 5}
steps:
  - {id: call, title: Call the family, owner: lead, due: 2s}
  - {id: write, title: Write to the embassy, owner: responder, due: 4s}
"""
STEPS = 2
CODE = re.compile(r"UA-\d{4}-\d{4}")

#: Every drill's tally, printed at the end of the test session (see tests/conftest.py).
TALLIES: list[Tally] = []


def alert_text(n: int) -> str:
    """`/ua` text of drill alert `n`: a fictional defender of its own, so no two are alike."""
    return (
        f'new country=HN threats=arbitrary_detention profiles=journalist defender="Drill Person {n}" '
        f'summary="drill alert {n}: held at a police station"'
    )


@dataclass
class Tally:
    """What one drill sent and what arrived."""

    scenario: str
    alerts_sent: int = 0
    accepted: int = 0
    cases: int = 0
    cards: int = 0
    duplicates: int = 0
    losses: int = 0
    reminders: int = 0
    reminders_expected: int = 0
    resent: int = 0
    #: Posts a killed process made without recording them, found in the channel afterwards.
    found_after_restart: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.scenario:<34} alerts sent {self.alerts_sent:>3}  accepted {self.accepted:>3}  "
            f"cases {self.cases:>3}  cards {self.cards:>3}  duplicates {self.duplicates}  "
            f"losses {self.losses}  reminders {self.reminders}/{self.reminders_expected}  "
            f"{self.seconds:.0f} s"
            + (f"  ({self.resent} unacknowledged, sent again)" if self.resent else "")
            + (
                f"  ({self.found_after_restart} unrecorded posts found in Slack, not repeated)"
                if self.found_after_restart
                else ""
            )
        )


class TocsinProcess:
    """`tocsin run` with Slack in HTTP mode, started, killed and restarted by the drill."""

    def __init__(self, folder: Path, environment: dict[str, str], port: int) -> None:
        self.folder, self.environment, self.port = folder, environment, port
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "tocsin.log"

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    async def tocsin(self, *arguments: str) -> str:
        """Run a `tocsin` command on the drill's database; what it printed. (Off the event
        loop: the database may be reached through a proxy running on it.)"""
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", *arguments],
            env=self.environment,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                env=self.environment,
                cwd=self.folder,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        await self.ready()

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait until /readyz says the database, Slack and the scheduler are up."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.log()
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/readyz") as answer:
                        if answer.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"tocsin run never became ready:\n{self.log()}")

    async def outbox_empty(self, timeout: float = 15.0) -> None:
        """Wait until /readyz reports nothing pending in the outbox."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                async with http.get(f"http://127.0.0.1:{self.port}/readyz") as answer:
                    if (await answer.json()).get("outbox_pending") == 0:
                        return
                await asyncio.sleep(0.05)
        raise AssertionError(f"the outbox never emptied:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as when a host dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self) -> None:
        """SIGTERM, as a platform stops a process; it must exit cleanly within 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        stopping = time.monotonic()
        await asyncio.to_thread(self.process.wait, 15)
        assert time.monotonic() - stopping < 10, "a platform kills what takes longer"
        assert self.process.returncode == 0, self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def found_after_restart(self) -> int:
        """How many posts a restarted Tocsin found already in Slack (see SlackConnector)."""
        return self.log_path.read_text(errors="replace").count("was posted before a restart")


async def slash(
    http: aiohttp.ClientSession, url: str, text: str, *, user: str = "U1", response_url: str = ""
) -> bool:
    """`/ua TEXT` as Slack posts it; whether Tocsin acknowledged it (Slack shows an error to
    the person otherwise, and they send it again)."""
    fields = slash_command(text, user=user, channel=CHANNEL)
    if response_url:
        fields["response_url"] = response_url
    body = form_body(fields)
    try:
        async with http.post(
            url,
            data=body,
            headers=signed_headers(body, SECRET),
            timeout=aiohttp.ClientTimeout(total=3),
        ) as answer:
            return answer.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def raise_alerts(
    process: TocsinProcess,
    numbers: list[int],
    emulator: SlackEmulator,
    *,
    every_s: float = 0.05,
    accepted: list[int] | None = None,
) -> list[int]:
    """Raise the drill alerts `numbers` one after another; those Tocsin acknowledged (also
    appended, as they come, to `accepted` when given)."""
    accepted = [] if accepted is None else accepted
    async with aiohttp.ClientSession() as http:
        for n in numbers:
            if await slash(
                http, process.events_url, alert_text(n), response_url=emulator.response_url()
            ):
                accepted.append(n)
            await asyncio.sleep(every_s)
    return accepted


def delivered_cards(emulator: SlackEmulator) -> Counter[str]:
    """How many times each case's card was posted in the drill channel."""
    return Counter(
        code
        for post in emulator.posted("chat.postMessage")
        if post.get("channel") == CHANNEL
        and not post.get("thread_ts")
        and (code := _code(post, "Opened "))
    )


def delivered_reminders(emulator: SlackEmulator) -> Counter[tuple[str, str]]:
    """How many times each (case, step) reminder was posted."""
    found: Counter[tuple[str, str]] = Counter()
    for post in emulator.posted("chat.postMessage"):
        text = str(post.get("text", ""))
        match = re.match(r"Reminder for \w+: step (\d+) of (UA-\d{4}-\d{4})", text)
        if match:
            found[(match.group(2), match.group(1))] += 1
    return found


def _code(post: dict[str, object], prefix: str) -> str | None:
    text = str(post.get("text", ""))
    match = CODE.search(text)
    return match.group(0) if text.startswith(prefix) and match else None


async def settle(
    emulator: SlackEmulator, cases: int, *, timeout: float = 150.0
) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Wait until every case's card and reminders arrived (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        cards, reminders = delivered_cards(emulator), delivered_reminders(emulator)
        if (len(cards) >= cases and len(reminders) >= cases * STEPS) or (
            time.monotonic() > deadline
        ):
            await asyncio.sleep(1.0)  # anything posted twice would arrive now
            return delivered_cards(emulator), delivered_reminders(emulator)
        await asyncio.sleep(0.2)


def tally(
    scenario: str,
    *,
    sent: int,
    accepted: int,
    cases_by_person: Counter[str],
    cards: Counter[str],
    reminders: Counter[tuple[str, str]],
    started: float,
    resent: int = 0,
) -> Tally:
    """Count duplicates (a second case for one alert, a card or reminder posted twice) and
    losses (an accepted alert without a case, a case without its card or a reminder)."""
    cases = sum(cases_by_person.values())
    result = Tally(scenario, alerts_sent=sent, accepted=accepted, cases=cases, resent=resent)
    result.cards = sum(cards.values())
    result.reminders = sum(reminders.values())
    result.reminders_expected = cases * STEPS
    result.duplicates = (
        sum(n - 1 for n in cases_by_person.values() if n > 1)
        + sum(n - 1 for n in cards.values() if n > 1)
        + sum(n - 1 for n in reminders.values() if n > 1)
    )
    result.losses = (
        max(accepted - len(cases_by_person), 0)
        + max(cases - len(cards), 0)
        + max(result.reminders_expected - len(reminders), 0)
    )
    result.seconds = time.monotonic() - started
    TALLIES.append(result)
    return result
