"""`tocsin matrix bootstrap|trust|block|accept`: the bot's cross-signing identity, and the
admin's word on a device or a member's identity when no trusted device can give it."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from typing import TYPE_CHECKING, Any

from bot.connectors.matrix.signed_json import decode
from bot.connectors.matrix.trust import ManualTrust
from bot.errors import InputError, StartupError
from bot.store.sealing import keyring, use_keys
from config.settings import Settings

if TYPE_CHECKING:
    from bot.connectors.matrix.bootstrap import Bootstrapped

# matrix-nio is imported only by the commands that talk to the homeserver: every other
# `tocsin` command starts without it (half a second saved on each).

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
    accept = matrix.add_parser(
        "accept",
        help="accept a member's new identity (its master key, checked with them by phone or in "
        "person)",
    )
    accept.add_argument("user", help="@person:example.org")
    accept.add_argument("key", nargs="+", help="the new master key, as Tocsin's notice shows it")
    accept.set_defaults(action=_accept)
    start = matrix.add_parser(
        "bootstrap",
        help="give Tocsin's account its cross-signing identity (once) and sign its device",
    )
    start.add_argument(
        "--recovery-key",
        action="store_true",
        help="the account already has an identity: type its recovery key to take it back",
    )
    start.add_argument(
        "--reset",
        action="store_true",
        help="replace the account's identity (every member's app will warn that it changed)",
    )
    start.set_defaults(action=_bootstrap)
    verify = matrix.add_parser(
        "verify",
        help="say whether the emoji of a verification with a member match (Tocsin must run)",
    )
    verify.add_argument("user", nargs="?", help="@person:example.org (default: the only one)")
    answer = verify.add_mutually_exclusive_group()
    answer.add_argument("--yes", action="store_true", help="they match (without asking)")
    answer.add_argument("--no", action="store_true", help="they differ: cancel")
    verify.set_defaults(action=_verify)


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


def _accept(args: argparse.Namespace, settings: Settings) -> int:
    from bot.connectors.matrix.devices import fingerprint

    _check_user(args.user)
    key = "".join("".join(args.key).split())
    try:
        valid = len(decode(key)) == 32
    except ValueError:
        valid = False
    if not valid:
        raise InputError("a master key is 43 characters (11 groups as Tocsin shows it): copy it")
    ManualTrust.load(settings.matrix_store_path).accept_identity(args.user, key, verified=True)
    print(f"{args.user}'s identity {fingerprint(key)} is accepted: their signed devices get keys.")
    return 0


def _bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from bot.connectors.matrix.bootstrap import Outcome
    from bot.connectors.matrix.devices import fingerprint

    if not settings.matrix_enabled:
        raise StartupError(
            "MATRIX_HOMESERVER is not set: configure Matrix first (see .env.example)"
        )
    use_keys(settings.data_keys)
    recovery = (
        settings.matrix_recovery_key.get_secret_value() if settings.matrix_recovery_key else None
    )
    if args.recovery_key and recovery is None:
        recovery = getpass.getpass("Recovery key (12 groups of 4): ")
    done = asyncio.run(_bootstrap_account(settings, recovery, reset=args.reset))
    if done.outcome is Outcome.NOT_HELD:
        print(
            "tocsin: the account already has a cross-signing identity that this store does not "
            "hold. Run again with --recovery-key (or set MATRIX_RECOVERY_KEY); only if the "
            "recovery key is lost, --reset makes a new identity.",
            file=sys.stderr,
        )
        return 1
    print(f"Tocsin's identity: master key {fingerprint(done.master_key or '')} ({done.outcome}).")
    print("Tocsin's device is signed with it: Element shows its messages as verified by owner.")
    if done.recovery_key:
        print(
            "\nRecovery key (shown only now: keep it in your organisation's password manager; "
            "with it a new server or a lost store signs Tocsin's device again):\n\n"
            f"    {done.recovery_key}\n"
        )
    return 0


async def _bootstrap_account(
    settings: Settings, recovery: str | None, *, reset: bool
) -> Bootstrapped:
    from nio import AsyncClient, AsyncClientConfig

    from bot.connectors.matrix.api import HomeserverError
    from bot.connectors.matrix.bootstrap import NeedsPassword, bootstrap
    from bot.connectors.matrix.login import log_in, secure_store
    from bot.connectors.matrix.secret_storage import RecoveryKeyError
    from bot.connectors.matrix.store_key import pickle_key

    assert settings.matrix_homeserver and settings.matrix_user_id
    store = settings.matrix_store_path
    secure_store(store)
    client = AsyncClient(
        settings.matrix_homeserver,
        settings.matrix_user_id,
        store_path=str(store),
        config=AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=False,
            pickle_key=pickle_key(store, keyring()),
        ),
    )
    password = settings.matrix_password.get_secret_value() if settings.matrix_password else None
    try:
        await log_in(client, settings)
        if client.should_upload_keys:
            await client.keys_upload()
        try:
            return await bootstrap(
                client, store, keyring(), password=password, recovery_key=recovery, reset=reset
            )
        except NeedsPassword:
            if not sys.stdin.isatty():
                raise StartupError(
                    "the homeserver wants the account's password to publish Tocsin's identity: "
                    "set MATRIX_PASSWORD, or run this in a terminal to type it"
                ) from None
            typed = getpass.getpass(f"Password of {settings.matrix_user_id} (asked once): ")
            return await bootstrap(
                client, store, keyring(), password=typed, recovery_key=recovery, reset=reset
            )
    except NeedsPassword:
        raise StartupError("the homeserver refused the password: check it and try again") from None
    except RecoveryKeyError as error:
        raise InputError(str(error)) from None
    except HomeserverError as error:
        raise StartupError(f"the homeserver refused: {error}") from None
    finally:
        await client.close()


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from bot.connectors.matrix.verifying import read_pending, write_answer

    pending = read_pending(settings.matrix_store_path)
    if args.user:
        _check_user(args.user)
        pending = [p for p in pending if p.get("user") == args.user]
    if not pending:
        print(
            "tocsin: no verification waits for a word. Start it from the member's app "
            "(Element: Tocsin's profile → Verify), then run this again.",
            file=sys.stderr,
        )
        return 1
    if len(pending) > 1:
        users = ", ".join(sorted(str(p.get("user")) for p in pending))
        raise InputError(f"several verifications wait ({users}): name the member")
    entry = pending[0]
    emoji = "  ".join(f"{symbol} {name}" for symbol, name in entry.get("emoji", []))
    print(f"{entry.get('user')} (device {entry.get('device')}): {emoji}")
    matches = args.yes or (
        not args.no and input("Do these match what their app shows? [y/N] ").strip().lower() == "y"
    )
    write_answer(settings.matrix_store_path, str(entry.get("user")), matches)
    print("Confirmed: Tocsin finishes the verification." if matches else "Rejected: cancelled.")
    return 0


def _check_user(user: str) -> None:
    if not USER_ID.match(user):
        raise InputError(f"'{user}' is not a Matrix user ID: write it as @person:example.org")
