"""Opening a case from an alert, whatever surface it came from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.alert import parse_alert
from bot.domain.case import CaseView
from bot.domain.commands.forms import NewCase, RouteAlert
from bot.domain.commands.request import Command
from bot.domain.directory import Directory
from bot.domain.duplicates import WINDOW, likely_duplicate
from bot.domain.messages import Message, Paragraph
from bot.domain.places import Place
from bot.domain.triage import Triage, triage
from bot.domain.views import case_opened, routing_message
from bot.outbox.queue import enqueue
from bot.store.cases import case_by_source, get_case, open_case, recent_open_cases
from bot.store.changes import record
from bot.store.models import Case
from handlers.contacts import directory_for
from handlers.context import Services
from handlers.digest import ensure_destination
from handlers.loading import queued, visible_view
from handlers.registry import handles


def triage_alert(data: Any, services: Services, directory: Directory | None = None) -> Triage:
    """Validate and route an alert without storing anything (AlertError on bad input).

    The directory is read from the database unless one is given.
    """
    alert = parse_alert(data, services.world.countries)
    if directory is None:
        directory = directory_for(alert, services)
    return triage(alert, services.world, services.playbook, directory, today=services.today())


@dataclass(frozen=True, slots=True)
class Intake:
    """The case an alert maps to, and whether this alert opened it (or, not opened, whether
    it was taken for a likely duplicate of that case)."""

    view: CaseView
    opened: bool
    duplicate: bool = False
    # The reply to post, already in the outbox, when one was asked for and a case was opened.
    message: Message | None = None


def open_case_from_alert(data: Any, *, actor: str, place: Place, services: Services) -> CaseView:
    """Validate, route and store the alert as a new case in one transaction (the case its
    source id already opened, when it has one)."""
    return take_alert(data, actor=actor, place=place, services=services).view


def take_alert(
    data: Any,
    *,
    actor: str,
    place: Place,
    services: Services,
    reply: Callable[[CaseView, tzinfo], Message] | None = None,
    announce_to: Sequence[Place] = (),
) -> Intake:
    """`open_case_from_alert`, saying whether a case was opened: an alert whose
    `source.external_id` was seen before (a retry, a resubmitted form) maps to that case.
    A new case's card also goes to each place of `announce_to`, as that place may see it."""
    result = triage_alert(data, services)
    source_id = result.alert.source.external_id
    try:
        with services.transaction() as session:
            seen = _case_from_source(session, services, source_id, place)
            if seen is not None:
                return Intake(seen, opened=False)
            now = services.clock()
            twin = None if result.alert.separate else _twin(session, result, now)
            if twin is not None:
                record(
                    session=session,
                    case=twin,
                    actor=actor,
                    place=place,
                    action="duplicate_alert",
                    now=now,
                    detail={"threats": [t.value for t in result.alert.threats]},
                )
                shown = visible_view(session, services, twin, place)
                notice = None
                if reply is not None:  # the room hears of it even if posting fails now
                    said = duplicate_notice(twin.code)
                    notice = queued(session, services, place, said, twin.code)
                return Intake(shown, opened=False, duplicate=True, message=notice)
            case = open_case(
                session=session, triage=result, actor=actor, place=place, now=now, tz=services.tz
            )
            ensure_destination(session=session, place=place, services=services, now=now)
            view = visible_view(session, services, case, place)
            message = None
            if reply is not None:
                said = reply(view, services.zone_for_place(session, place))
                message = queued(session, services, place, said, case.code)
            for other in announce_to:
                shown = visible_view(session, services, case, other)
                card = case_opened(shown, services.zone_for_place(session, other))
                enqueue(session=session, place=other, message=card, now=now, case_code=case.code)
            return Intake(view, opened=True, message=message)
    except IntegrityError:
        if source_id is None:
            raise
        with services.transaction() as session:  # the same id, committed a moment before
            earlier = _case_from_source(session, services, source_id, place)
        if earlier is None:
            raise
        return Intake(earlier, opened=False)


def duplicate_notice(code: str) -> Message:
    """What the room is told when an alert is taken for a repeat of case `code`."""
    text = (
        f"Not opened: this looks like {code} (the same defender in the same country, "
        f"overlapping threats, opened in the last 24 hours), so it was added to {code}'s "
        "log. If it is a separate incident, send it again with separate=yes."
    )
    return Message(fallback=text, blocks=(Paragraph(text),), public=True)


def _twin(session: Session, result: Triage, now: datetime) -> Case | None:
    """An open case this alert most likely repeats (same defender, country, threats, a day)."""
    alert = result.alert
    code = likely_duplicate(
        country=alert.country,
        threats=frozenset(t.value for t in alert.threats),
        defender=alert.defender.name,
        now=now,
        recent=recent_open_cases(session=session, country=alert.country, since=now - WINDOW),
    )
    return get_case(session=session, code=code) if code is not None else None


def _case_from_source(
    session: Session, services: Services, source_id: str | None, place: Place
) -> CaseView | None:
    case = case_by_source(session=session, source_id=source_id) if source_id else None
    return visible_view(session, services, case, place) if case is not None else None


@handles(NewCase)
def new_case_command(form: NewCase, request: Command, services: Services) -> Message:
    """`ua new …`."""
    return new_case(form.alert, actor=request.actor, place=request.place, services=services)


@handles(RouteAlert)
def route_alert(form: RouteAlert, request: Command, services: Services) -> Message:
    """`ua route …`: whom to engage and why, without opening a case."""
    return routing_message(triage_alert(form.alert, services))


def new_case(data: Any, *, actor: str, place: Place, services: Services) -> Message:
    """Open the case and reply with its code and first step."""
    intake = take_alert(data, actor=actor, place=place, services=services, reply=case_opened)
    if not intake.opened and not intake.duplicate:
        text = (
            f"Already opened as {intake.view.code}: an alert with the same source id came "
            f"before, so no second case was opened. See it with: ua show {intake.view.code}"
        )
        return Message(fallback=text, blocks=(Paragraph(text),))
    assert intake.message is not None
    return intake.message
