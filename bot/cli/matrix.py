"""`tocsin matrix trust|block`: the admin's word on a device, when no trusted device can give it."""

from __future__ import annotations

import argparse
import re
from typing import Any

from bot.connectors.matrix.trust import ManualTrust
from bot.errors import InputError
from config.settings import Settings

USER_ID = re.compile(r"^@[^\s:]+:\S+$")


def add_matrix_commands(commands: Any) -> None:
    """`tocsin matrix trust USER DEVICE KEY` and `tocsin matrix block USER DEVICE`."""
    matrix = commands.add_parser(
        "matrix", help="which Matrix devices may read Tocsin's messages"
    ).add_subparsers(dest="matrix_command", required=True, metavar="ACTION")
    trust = matrix.add_parser(
        "trust", help="let a device receive room keys (its key as its owner's app shows it)"
    )
    trust.add_argument("user", help="@person:example.org")
    trust.add_argument("device", help="device ID, as !ua devices lists it")
    trust.add_argument("key", nargs="+", help="the device's session key (spaces allowed)")
    trust.set_defaults(action=_trust)
    block = matrix.add_parser("block", help="never give a device room keys again")
    block.add_argument("user", help="@person:example.org")
    block.add_argument("device", help="device ID")
    block.set_defaults(action=_block)


def _trust(args: argparse.Namespace, settings: Settings) -> int:
    _check_user(args.user)
    key = "".join("".join(args.key).split())
    if len(key) != 43:
        raise InputError("the key is 43 characters (11 groups as apps show it): copy it whole")
    ManualTrust.load(settings.matrix_store_path).trust(args.user, args.device, key)
    print(f"{args.user} {args.device} is trusted once its key matches (Tocsin checks it).")
    return 0


def _block(args: argparse.Namespace, settings: Settings) -> int:
    _check_user(args.user)
    ManualTrust.load(settings.matrix_store_path).block(args.user, args.device)
    print(f"{args.user} {args.device} is blocked.")
    return 0


def _check_user(user: str) -> None:
    if not USER_ID.match(user):
        raise InputError(f"'{user}' is not a Matrix user ID: write it as @person:example.org")
