"""`tocsin outbox [--failed] [--retry ID|all]`: what waits to be delivered, and what failed."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import opened
from bot.errors import InputError
from bot.outbox import queue
from bot.store.models import OutboxMessage
from config.settings import Settings


def add_outbox_commands(commands: Any) -> None:
    """`tocsin outbox`."""
    outbox = commands.add_parser(
        "outbox", help="messages waiting to be delivered; --failed: those given up on"
    )
    outbox.add_argument("--failed", action="store_true", help="list the dead-letter rows")
    outbox.add_argument(
        "--retry", metavar="ID|all", help="put a failed row (or all of them) back in the queue"
    )
    outbox.set_defaults(action=_outbox)


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as app, app.services.transaction() as session:
        now = app.services.clock()
        if args.retry:
            row_id = None if args.retry == "all" else _row_id(args.retry)
            count = queue.retry_dead(session=session, now=now, row_id=row_id)
            print(f"{count} failed message(s) back in the queue; a running Tocsin sends them.")
            return 0
        status = queue.DEAD if args.failed else queue.PENDING
        backlog = queue.backlog(session=session)
        for row in queue.rows(session=session, status=status):
            print(_line(row))
    oldest = (
        f", oldest written {backlog.oldest_pending:%Y-%m-%d %H:%M:%S} UTC"
        if (backlog.oldest_pending)
        else ""
    )
    print(f"{backlog.pending} pending{oldest}; {backlog.dead} failed (tocsin outbox --failed)")
    return 0


def _line(row: OutboxMessage) -> str:
    # Where and why, never what: the message may name a defender.
    error = f"  last error: {row.last_error}" if row.last_error else ""
    return (
        f"#{row.id}  {row.platform}:{row.address}  written {row.created_at:%Y-%m-%d %H:%M:%S}  "
        f"attempts {row.attempts}  next {row.next_attempt_at:%H:%M:%S}{error}"
    )


def _row_id(text: str) -> int:
    if not text.isdigit():
        raise InputError(
            f"--retry takes a row number from 'tocsin outbox --failed', or all; not '{text}'"
        )
    return int(text)
