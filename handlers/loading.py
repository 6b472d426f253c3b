"""Finding the case a command names, and refusing changes to closed ones."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain import lifecycle
from bot.domain.case import CaseView, Place, disclose
from bot.domain.lifecycle import TransitionError
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


def visible_view(session: Session, services: Services, case: Case, place: Place) -> CaseView:
    """The case in detail as `place` may see it (its disclosure applied before any rendering)."""
    view = case_view(
        case, country_name=services.country_name(case.country), detail=True, identity=True
    )
    return disclose(view, services.disclosure_for(session, place))
