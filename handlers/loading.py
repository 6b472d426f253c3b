"""Finding the case a command names, and refusing changes to closed ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.domain import lifecycle
from bot.domain.case import CaseView, disclose
from bot.domain.lifecycle import TransitionError
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.domain.views import checklist_message
from bot.outbox.queue import enqueue
from bot.store.cases import case_view
from bot.store.changes import case_state
from bot.store.models import Case
from handlers.context import Services


def found(case: Case | None, code: str) -> Case:
    """The case, or a TransitionError saying there is none."""
    if case is None:
        raise TransitionError(f"No case {code}. See the open cases with: ua list")
    return case


def open_case_for_change(case: Case | None, code: str) -> Case:
    checked = found(case, code)
    lifecycle.ensure_open(case_state(checked))
    return checked


# The connector that answers a command posts its public reply at once; the dispatcher steps in
# only when that has not happened within this grace.
REPLY_GRACE = timedelta(seconds=5)


def card_reply(
    session: Session, services: Services, case: Case, place: Place, headline: str
) -> Message:
    """The checklist reply to a change of the case, written to the outbox in the change's
    transaction, so the team hears of it even if posting fails or the process dies now."""
    view = visible_view(session, services, case, place)
    message = checklist_message(view, services.zone_for_place(session, place), headline)
    return queued(session, services, place, message, case.code)


def queued(
    session: Session, services: Services, place: Place, message: Message, case_code: str | None
) -> Message:
    """The public message (about the case `case_code`, if any), also written to the outbox in
    the caller's transaction (for a place Tocsin can post to only)."""
    if not message.public or not place.deliverable:
        return message
    key = enqueue(
        session=session,
        place=place,
        message=message,
        now=services.clock(),
        due_in=REPLY_GRACE,
        case_code=case_code,
    )
    return replace(message, outbox_key=key)


def visible_view(session: Session, services: Services, case: Case, place: Place) -> CaseView:
    """The case in detail as `place` may see it (its disclosure applied before any rendering)."""
    view = case_view(
        case, country_name=services.country_name(case.country), detail=True, identity=True
    )
    return disclose(view, services.disclosure_for(session, place))
