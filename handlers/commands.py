"""The single entry point for commands from every surface: parse, check who may, run the
handler of the command's form (`handlers.registry`), and reply."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from bot.domain.access import Role
from bot.domain.alert import AlertError
from bot.domain.commands.alert_words import USAGE_NEW
from bot.domain.commands.forms import Bind, CommandError, Help, NewCase, ParsedCommand
from bot.domain.commands.request import Command
from bot.domain.commands.table import help_message, parse_command
from bot.domain.commands.words import strip_prefix
from bot.domain.lifecycle import TransitionError
from bot.domain.messages import Message, error_message
from bot.domain.places import Place
from bot.domain.text import MAX_COMMAND_CHARS, clean
from bot.store.acting import acting_from
from bot.store.db import is_transient, patiently

# Each handler module registers its handlers (@handles) as it is imported.
from handlers import (  # noqa: F401
    admin,
    case_changes,
    cases,
    digest,
    drafts,
    intake,
    measures,
    report,
    retention,
    steps,
)
from handlers.access import NOT_BOUND, refusal, refusal_for, standing
from handlers.context import Services
from handlers.registry import handler_for, handles, unhandled

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    "Tocsin's database did not answer, so nothing was saved. Send the same command again in a "
    "minute; if this goes on, tell your admin (tocsin run's log says why)."
)


def handle_line(line: str, *, actor: str, place: Place, services: Services) -> Message | None:
    """A raw line as typed (`ua …`); None when it is not addressed to Tocsin."""
    words = strip_prefix(line)
    if words is None:
        return None
    return handle(Command(actor=actor, place=place, text=words), services)


def handle(command: Command, services: Services) -> Message:
    """Answer one command. Bad input gets a short message and changes nothing; never a traceback.
    Where Tocsin is not bound, whatever the text, the answer is how to bind it."""
    return _answer(command, services, lambda: _parse_and_run(command, services))


def handle_new_alert(alert: dict[str, Any], command: Command, services: Services) -> Message:
    """Open a case from fields gathered another way (a guided conversation), answered as
    `ua new key=value…` is."""
    return _answer(command, services, lambda: _authorised(NewCase(alert=alert), command, services))


def may_start(command: Command, services: Services, needed: Role) -> Message | None:
    """Why something needing the `needed` role may not even begin here (a form or a guided
    conversation asks nothing of someone who could not finish it); None when it may."""
    try:
        here = standing(actor=command.actor, place=command.place, services=services)
        return refusal_for(needed, here)
    except Exception:
        log.exception("could not check access")
        return error_message("Tocsin could not check who may do this here; try again shortly.")


@handles(Help)
def show_help(form: Help, request: Command, services: Services) -> Message:
    """`ua help [command]`."""
    return help_message(form.topic)


def _parse_and_run(command: Command, services: Services) -> Message:
    here = standing(actor=command.actor, place=command.place, services=services)
    binds = command.text.lower().split(maxsplit=1)[:1] == [Bind.verb]
    if not binds and not here.bound:
        return error_message(NOT_BOUND)
    if len(command.text) > MAX_COMMAND_CHARS:
        return error_message(
            f"That command is {len(command.text):,} characters long; Tocsin reads at most "
            f"{MAX_COMMAND_CHARS:,}. Shorten the summary or the note."
        )
    parsed = parse_command(clean(command.text))
    return refusal(parsed, here) or _run(parsed, command, services)


def _authorised(parsed: ParsedCommand, command: Command, services: Services) -> Message:
    here = standing(actor=command.actor, place=command.place, services=services)
    return refusal(parsed, here) or _run(parsed, command, services)


def _run(parsed: ParsedCommand, command: Command, services: Services) -> Message:
    return handler_for(parsed)(parsed, command, services)


def _answer(command: Command, services: Services, run: Callable[[], Message]) -> Message:
    try:
        with acting_from(command.origin):
            reply = patiently(run)
        services.changes.notify()
        return reply
    except (CommandError, TransitionError) as error:
        return error_message(str(error))
    except AlertError as error:
        usage = f" Usage: {USAGE_NEW}" if error.message == "is required" else ""
        return error_message(f"Not accepted: {error}.{usage}")
    except Exception as error:
        if is_transient(error):
            log.error("command from %s given up: the database stayed unavailable", command.place)
            return error_message(DATABASE_DOWN)
        incident = uuid.uuid4().hex[:8]
        # The command text may name a defender: log the incident id and place, not the text.
        log.exception("command failed (incident %s, from %s)", incident, command.place)
        return error_message(
            f"Something went wrong on Tocsin's side and nothing was changed. "
            f"Try again; if it happens again, give your admin the incident id {incident}."
        )


if unhandled():  # a form of the grammar nobody would answer: refuse to start
    raise RuntimeError(f"no handler for {', '.join(unhandled())}")
