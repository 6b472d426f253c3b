"""`tocsin reminders` and `tocsin digest`: what the scheduler will do next, and a digest now."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from bot.app import opened
from bot.connectors.console.render import render_text
from bot.domain.digest import digest_message
from bot.domain.places import Place
from bot.domain.reminders import kind_of
from bot.errors import InputError
from bot.store.due import pending_steps, scheduled_digests
from bot.store.models import Destination
from config.settings import Settings
from handlers.digest import gather_digest

SHOWN = 50


def add_upcoming_commands(commands: Any) -> None:
    """`tocsin reminders [--json]` and `tocsin digest [--destination ID] [--json]`."""
    reminders = commands.add_parser("reminders", help="what the scheduler will do next")
    reminders.add_argument("--json", action="store_true", help="print JSON for scripts")
    reminders.set_defaults(action=_reminders)
    digest = commands.add_parser("digest", help="print a destination's digest now")
    digest.add_argument("--destination", type=int, help="destination id (see tocsin reminders)")
    digest.add_argument("--json", action="store_true", help="print JSON for scripts")
    digest.set_defaults(action=_digest)


def _reminders(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as app, app.services.transaction() as session:
        policy = app.services.playbook.reminders
        rows: list[dict[str, Any]] = [
            {
                "case": s.case.code,
                "step": s.n,
                "title": s.title,
                "due": _iso(s.due_at),
                "at": _iso(s.next_reminder_at),
                "kind": kind_of(s.reminders_sent, policy).value,
            }
            for s in pending_steps(session=session, limit=SHOWN)
        ]
        rows += [
            {
                "destination": d.id,
                "place": f"{d.platform}:{d.address}",
                "at": _iso(d.next_digest_at),
                "kind": "digest",
            }
            for d in scheduled_digests(session=session)
        ]
    rows.sort(key=lambda r: str(r["at"]))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print("Nothing is scheduled.")
    for row in [] if args.json else rows:
        what = (
            f"{row['case']} step {row['step']}: {row['title']}"
            if "case" in row
            else (f"digest for destination {row['destination']} ({row['place']})")
        )
        print(f"{row['at']}  {row['kind']:16} {what}")
    return 0


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as app, app.services.transaction() as session:
        destination = _destination(
            session.get(Destination, args.destination) if args.destination else None,
            args,
            app.services.tz,
        )
        data = gather_digest(session, app.services, destination, app.services.clock())
    if args.json:
        fields = {k: v for k, v in asdict(data).items() if k != "tz"}
        print(json.dumps(fields, ensure_ascii=False, indent=2, default=_iso))
    else:
        print(render_text(digest_message(data)))
    return 0


def _destination(found: Destination | None, args: argparse.Namespace, tz: Any) -> Destination:
    if args.destination is not None and found is None:
        raise InputError(f"no destination {args.destination}; see them with 'tocsin reminders'")
    if found is not None:
        return found
    place = Place("cli", "digest")
    return Destination(
        platform=place.platform, address=place.address, timezone=getattr(tz, "key", "UTC")
    )


def _iso(moment: date | datetime | None) -> str | None:
    return moment.isoformat() if moment else None
