"""`tocsin draft`: a draft appeal at the console, as text or as an .eml a mail client opens."""

from __future__ import annotations

import argparse
import sys
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from bot.app import opened
from bot.domain.case import Disclosure
from bot.domain.commands.forms import CommandError
from bot.domain.commands.words import normalise_case_code
from bot.domain.drafts import LANGUAGES, pick_targets
from bot.errors import InputError
from config.letters import LetterTemplates
from config.settings import Settings
from handlers.drafts import Draft, make_draft


def add_draft_commands(commands: Any) -> None:
    """`tocsin draft`."""
    draft = commands.add_parser(
        "draft",
        help="a draft letter to one of a case's targets (Tocsin never sends it)",
    )
    draft.add_argument("code", help="the case, e.g. UA-2026-0042")
    draft.add_argument(
        "--target",
        required=True,
        help="T2 (its number in ua show), an institution id (iachr, embassy:CA) or part of a name",
    )
    draft.add_argument("--lang", choices=LANGUAGES, help="default: the target's usual language")
    draft.add_argument("--format", choices=("txt", "eml"), default="txt")
    draft.add_argument("--out", metavar="FILE", help="write the draft here, not to the screen")
    draft.set_defaults(action=_draft)


def _draft(args: argparse.Namespace, settings: Settings) -> int:
    from bot.connectors.console.connector import CONSOLE

    with opened(settings) as app:
        try:
            code = normalise_case_code(args.code)
            with app.services.transaction() as session:
                draft = make_draft(
                    session,
                    app.services,
                    code=code,
                    choose=lambda view: pick_targets(view, args.target),
                    language=args.lang,
                    place=CONSOLE,
                    actor="console",
                    # The person at the console runs Tocsin's database: they see it all.
                    level=Disclosure.FULL,
                )
        except CommandError as error:
            raise InputError(str(error)) from None
        letters = app.services.letters
    if args.format == "eml":
        _write(args.out, eml(draft, letters))
    else:
        _write(args.out, plain_text(draft).encode("utf-8"))
    return 0


def plain_text(draft: Draft) -> str:
    """The draft as text: who it goes to, the subject line, the letter."""
    to = ", ".join(draft.recipients) or "(no address on file: use the institution's form)"
    return f"To: {to}\nSubject: {draft.letter.subject}\n\n{draft.letter.body}"


def eml(draft: Draft, letters: LetterTemplates) -> bytes:
    """An unsent e-mail (RFC 5322) with a text and an HTML part, for a mail client to open."""
    message = EmailMessage(policy=SMTP)
    if draft.recipients:
        message["To"] = ", ".join(draft.recipients)
    message["Subject"] = draft.letter.subject
    # Outlook and Thunderbird open a message marked unsent as a draft, ready to edit and send.
    message["X-Unsent"] = "1"
    message.set_content(draft.letter.body)
    message.add_alternative(letters.html(draft.letter, draft.language), subtype="html")
    return message.as_bytes()


def _write(name: str | None, data: bytes) -> None:
    if name is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        Path(name).write_bytes(data)
    except OSError as error:
        raise InputError(f"cannot write '{name}': {error.strerror}") from None
    print(f"tocsin: draft written to {name}", file=sys.stderr)
