"""The single entry point for commands from every surface: parse, route to a handler, reply."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.domain.access import Role
from bot.domain.alert import AlertError
from bot.domain.case import Place
from bot.domain.commands import (
    USAGE_NEW,
    Bind,
    CaseChange,
    CommandError,
    Digest,
    DraftAppeal,
    Help,
    LeadsHere,
    ListCases,
    NewCase,
    ParsedCommand,
    Purge,
    RecordFacts,
    RecordMeasure,
    RecordReply,
    ReportRequest,
    Roles,
    RouteAlert,
    SetConsent,
    SetDisclosure,
    SetRole,
    ShowCase,
    StepChange,
    Unbind,
    WeeklyReport,
    parse_command,
    strip_prefix,
)
from bot.domain.lifecycle import TransitionError
from bot.domain.messages import Message, error_message
from bot.domain.text import MAX_COMMAND_CHARS, clean
from bot.domain.views import help_message, routing_message
from bot.store.db import is_transient, patiently
from handlers.access import NOT_BOUND, refusal, refusal_for, standing
from handlers.admin import bind, disclosure, give_role, list_roles, unbind
from handlers.case_changes import change_case, record_facts, record_reply, set_consent
from handlers.cases import list_cases, show_case
from handlers.context import Services
from handlers.digest import digest_command, leads_here
from handlers.drafts import draft_command
from handlers.intake import new_case, triage_alert
from handlers.measures import record_measure
from handlers.report import report_command, weekly_command
from handlers.retention import purge
from handlers.steps import change_step

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    "Tocsin's database did not answer, so nothing was saved. Send the same command again in a "
    "minute; if this goes on, tell your admin (tocsin run's log says why)."
)


@dataclass(frozen=True, slots=True)
class Command:
    """A platform-neutral request: who asked, where, and the text after the `ua` prefix."""

    actor: str
    place: Place
    text: str


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


def _parse_and_run(command: Command, services: Services) -> Message:
    here = standing(actor=command.actor, place=command.place, services=services)
    binds = command.text.lower().split(maxsplit=1)[:1] == ["bind"]
    if not binds and not here.bound:
        return error_message(NOT_BOUND)
    if len(command.text) > MAX_COMMAND_CHARS:
        return error_message(
            f"That command is {len(command.text):,} characters long; Tocsin reads at most "
            f"{MAX_COMMAND_CHARS:,}. Shorten the summary or the note."
        )
    parsed = parse_command(clean(command.text))
    return refusal(parsed, here) or _run(parsed, command, services)


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


def _authorised(parsed: ParsedCommand, command: Command, services: Services) -> Message:
    here = standing(actor=command.actor, place=command.place, services=services)
    return refusal(parsed, here) or _run(parsed, command, services)


def _answer(command: Command, services: Services, run: Callable[[], Message]) -> Message:
    try:
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


def _run(parsed: ParsedCommand, command: Command, services: Services) -> Message:
    match parsed:
        case NewCase(alert=data):
            return new_case(data, actor=command.actor, place=command.place, services=services)
        case RouteAlert(alert=data):
            return routing_message(triage_alert(data, services))
        case ListCases(include_closed=include_closed):
            return list_cases(include_closed=include_closed, services=services)
        case ShowCase(code=code):
            return show_case(code, actor=command.actor, place=command.place, services=services)
        case Help(topic=topic):
            return help_message(topic)
        case StepChange():
            return change_step(parsed, actor=command.actor, place=command.place, services=services)
        case CaseChange():
            return change_case(parsed, actor=command.actor, place=command.place, services=services)
        case SetConsent():
            return set_consent(parsed, actor=command.actor, place=command.place, services=services)
        case RecordFacts():
            return record_facts(parsed, actor=command.actor, place=command.place, services=services)
        case RecordReply():
            return record_reply(parsed, actor=command.actor, place=command.place, services=services)
        case RecordMeasure():
            return record_measure(
                parsed, actor=command.actor, place=command.place, services=services
            )
        case Digest():
            return digest_command(parsed, place=command.place, services=services)
        case LeadsHere():
            return leads_here(place=command.place, services=services)
        case ReportRequest():
            return report_command(parsed, services=services)
        case WeeklyReport():
            return weekly_command(parsed, place=command.place, services=services)
        case DraftAppeal():
            return draft_command(
                parsed, actor=command.actor, place=command.place, services=services
            )
        case _:
            return _run_admin(parsed, command, services)


def _run_admin(parsed: ParsedCommand, command: Command, services: Services) -> Message:
    actor, place = command.actor, command.place
    match parsed:
        case Bind():
            return bind(parsed, actor=actor, place=place, services=services)
        case Unbind():
            return unbind(actor=actor, place=place, services=services)
        case SetDisclosure():
            return disclosure(parsed, actor=actor, place=place, services=services)
        case SetRole():
            return give_role(parsed, actor=actor, place=place, services=services)
        case Roles():
            return list_roles(place=place, services=services)
        case Purge():
            return purge(parsed, actor=actor, place=place, services=services)
    raise AssertionError(f"unhandled command {parsed!r}")
