"""Opening a case from an alert, whatever surface it came from."""

from __future__ import annotations

from typing import Any

from bot.domain.alert import parse_alert
from bot.domain.case import CaseView, Place
from bot.domain.directory import Directory
from bot.domain.messages import Message
from bot.domain.triage import Triage, triage
from bot.domain.views import case_opened
from bot.store.cases import open_case
from handlers.contacts import directory_for
from handlers.context import Services
from handlers.digest import ensure_destination
from handlers.loading import visible_view


def triage_alert(data: Any, services: Services, directory: Directory | None = None) -> Triage:
    """Validate and route an alert without storing anything (AlertError on bad input).

    The directory is read from the database unless one is given.
    """
    alert = parse_alert(data, services.world.countries)
    if directory is None:
        directory = directory_for(alert, services)
    return triage(alert, services.world, services.playbook, directory, today=services.today())


def open_case_from_alert(data: Any, *, actor: str, place: Place, services: Services) -> CaseView:
    """Validate, route and store the alert as a new case in one transaction."""
    result = triage_alert(data, services)
    with services.transaction() as session:
        now = services.clock()
        case = open_case(
            session=session, triage=result, actor=actor, place=place, now=now, tz=services.tz
        )
        ensure_destination(session=session, place=place, services=services, now=now)
        return visible_view(session, services, case, place)


def new_case(data: Any, *, actor: str, place: Place, services: Services) -> Message:
    """`ua new …`: open the case and reply with its code and first step."""
    view = open_case_from_alert(data, actor=actor, place=place, services=services)
    return case_opened(view, services.zone_for(place))
