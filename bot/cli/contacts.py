"""`tocsin contacts …`: the organisation's directory from the command line."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from bot.app import opened
from bot.domain.directory import STALE_AFTER_DAYS, Contact
from bot.errors import InputError
from config.settings import Settings
from handlers.contacts import import_directory, list_contacts, stale_contacts


def add_contacts_commands(commands: Any) -> None:
    """`tocsin contacts import|list|stale`."""
    contacts = commands.add_parser("contacts", help="the organisation's directory").add_subparsers(
        dest="contacts_command", required=True, metavar="ACTION"
    )
    load = contacts.add_parser("import", help="add or update contacts from a YAML or CSV file")
    load.add_argument("file", nargs="?", help="directory file (default: TOCSIN_DIRECTORY)")
    load.add_argument("--replace", action="store_true", help="also remove contacts not in the file")
    load.set_defaults(action=_contacts_import)
    show = contacts.add_parser("list", help="list contacts")
    show.add_argument("--country", help="only contacts in this country (code or name)")
    show.set_defaults(action=_contacts_list)
    stale = contacts.add_parser("stale", help="contacts not verified recently")
    stale.add_argument("--days", type=int, default=STALE_AFTER_DAYS, help="default: %(default)s")
    stale.set_defaults(action=_contacts_stale)


def _contacts_import(args: argparse.Namespace, settings: Settings) -> int:
    name = args.file or settings.tocsin_directory
    if name is None:
        raise InputError("name the directory file, or set TOCSIN_DIRECTORY")
    with opened(settings) as app:
        summary = import_directory(Path(name), replace=args.replace, services=app.services)
    print(f"{summary.added} added, {summary.updated} updated, {summary.removed} removed")
    return 0


def _contacts_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as app:
        contacts = list_contacts(country=args.country, services=app.services)
        today = app.services.today()
    _print_contacts(contacts, today)
    return 0


def _contacts_stale(args: argparse.Namespace, settings: Settings) -> int:
    if args.days < 0:
        raise InputError("--days must be 0 or more")
    with opened(settings) as app:
        contacts = stale_contacts(days=args.days, services=app.services)
        today = app.services.today()
    _print_contacts(
        contacts, today, empty=f"Every contact was verified in the last {args.days} days."
    )
    return 0


def _print_contacts(contacts: list[Contact], today: date, empty: str = "No contacts.") -> None:
    if not contacts:
        print(empty)
    for c in contacts:
        where = " ".join(part for part in (c.government and f"[{c.government}]", c.country) if part)
        print(f"{c.institution:24} {where or '-':10} {c.describe(today)}")
