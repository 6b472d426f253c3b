"""`tocsin partners add|list|revoke`: who may send alerts to `POST /v1/alerts`."""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from bot.app import opened
from bot.domain.partners import DEFAULT_RATE_PER_MINUTE, valid_name
from bot.errors import InputError
from bot.store.partners import add_partner, all_partners, find_partner, revoke_partner
from config.settings import Settings

PLATFORMS = ("slack", "matrix")


def add_partners_commands(commands: Any) -> None:
    """`tocsin partners …`."""
    partners = commands.add_parser(
        "partners", help="partner organisations that send alerts over signed HTTP"
    ).add_subparsers(dest="partners_command", required=True, metavar="ACTION")
    add = partners.add_parser("add", help="add a partner and print its secret, once")
    add.add_argument("name", help="lower-case letters, digits, - and _ (sent as X-Tocsin-Partner)")
    add.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="PLATFORM:ADDRESS",
        help="where its cases are posted: slack:C0123ABC or matrix:!room:example.org (repeat)",
    )
    add.add_argument(
        "--rate",
        type=int,
        default=DEFAULT_RATE_PER_MINUTE,
        metavar="N",
        help=f"requests a minute (default {DEFAULT_RATE_PER_MINUTE})",
    )
    add.set_defaults(action=_add)
    listing = partners.add_parser("list", help="every partner, its destinations and state")
    listing.set_defaults(action=_list)
    revoke = partners.add_parser("revoke", help="refuse a partner's requests from now on")
    revoke.add_argument("name")
    revoke.set_defaults(action=_revoke)


def _destination(text: str) -> str:
    platform, _, address = text.partition(":")
    if platform not in PLATFORMS or not address:
        raise InputError(
            f"--to {text}: write slack:CHANNEL_ID or matrix:!room:server (a place Tocsin is in)"
        )
    return f"{platform}:{address}"


def _add(args: argparse.Namespace, settings: Settings) -> int:
    if not valid_name(args.name):
        raise InputError(
            f"'{args.name}' is not a partner name: use lower-case letters, digits, - and _"
        )
    if not 1 <= args.rate <= 10_000:
        raise InputError("--rate is requests a minute, from 1 to 10000")
    destinations = [_destination(text) for text in args.to]
    secret = secrets.token_urlsafe(32)
    with opened(settings) as app, app.services.transaction() as session:
        existing = find_partner(session=session, name=args.name)
        if existing is not None and not existing.revoked:
            raise InputError(
                f"partner {args.name} exists; for a new secret, revoke it "
                f"(tocsin partners revoke {args.name}) and add it again"
            )
        add_partner(
            session=session,
            name=args.name,
            secret=secret,
            destinations=destinations,
            rate_per_minute=args.rate,
            now=app.services.clock(),
        )
    print(secret)
    print(
        f"tocsin: partner {args.name} added. Give it the secret above over a secure channel: "
        "it is stored encrypted and never shown again.",
        file=sys.stderr,
    )
    if not destinations:
        print(
            "tocsin: no --to given: its cases go to the leads' room, else the first bound room.",
            file=sys.stderr,
        )
    return 0


def _list(_args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as app, app.services.transaction() as session:
        for row in all_partners(session=session):
            state = "revoked" if row.revoked_at else "active"
            places = ", ".join(row.destinations) or "(leads' room)"
            print(f"{row.name}  {state}  {row.rate_per_minute}/min  {places}")
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as app, app.services.transaction() as session:
        if not revoke_partner(session=session, name=args.name, now=app.services.clock()):
            raise InputError(f"no partner {args.name}")
    print(f"tocsin: partner {args.name} revoked: its requests now get 401", file=sys.stderr)
    return 0
