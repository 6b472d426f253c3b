"""Read `ua …` lines from standard input and print the replies; ends at EOF or `quit`."""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from typing import TextIO

from bot.connectors.console.render import render_text
from bot.connectors.contract import ConnectorKit
from bot.domain.commands.request import Command
from bot.domain.commands.words import strip_prefix
from bot.domain.messages import Message
from bot.domain.places import Place

CONSOLE = Place(platform="console", address="stdin")
_QUIT = {"quit", "exit", r"\q"}


class ConsoleConnector:
    """A terminal or a pipe as a Tocsin surface, for trying Tocsin and for scripts."""

    def __init__(self, kit: ConnectorKit, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout):
        self._commands = kit.commands
        self._posted = kit.ledger
        self._stdin = stdin
        self._stdout = stdout
        self._actor = f"console:{_user_name()}"

    async def run(self) -> None:
        """Answer lines until the input ends."""
        interactive = self._stdin.isatty()
        if interactive:
            self._print("Tocsin console. Type 'ua help' for commands, 'quit' to leave.")
        lines: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        # A daemon thread: a process told to stop must not wait for a line that never comes.
        threading.Thread(target=self._read, args=(loop, lines), daemon=True).start()
        while True:
            if interactive:
                self._stdout.write("tocsin> ")
                self._stdout.flush()
            line = await lines.get()
            if not line or line.strip().lower() in _QUIT:
                return
            await self._answer(line)

    def _read(self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str]) -> None:
        """Hand each input line to the loop, then "" at the end of input."""
        try:
            for line in iter(self._stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")
        except RuntimeError:  # the loop closed: Tocsin is stopping
            return

    async def _answer(self, line: str) -> None:
        if not line.strip() or line.lstrip().startswith("#"):
            return
        words = strip_prefix(line)
        if words is None:
            self._print("! Commands start with 'ua'. Try: ua help")
            return
        command = Command(actor=self._actor, place=CONSOLE, text=words)
        reply = await asyncio.to_thread(self._commands.handle, command)
        if reply.outbox_key is not None:  # printed here: the dispatcher must not print it again
            await self._posted.remember(CONSOLE, reply.outbox_key, reply.outbox_key)
        self._print(render_text(reply))
        await self._posted.delivered(reply.outbox_key)

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Print a message Tocsin sends on its own (reminders, digests). A terminal cannot take
        a line back, so the delivery key is recorded first: after a crash at that very moment
        the line is missing rather than printed twice."""
        if key is not None:
            if await self._posted.find(place, key):
                return
            await self._posted.remember(place, key, key)
        self._print(render_text(message))

    def _print(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
