"""Looking at cases: the list and one case in full."""

from __future__ import annotations

from bot.domain.case import Disclosure, Place
from bot.domain.messages import Message, error_message
from bot.domain.views import case_detail, case_list
from bot.store import cases as store
from bot.store.changes import record
from handlers.context import Services
from handlers.loading import visible_view


def list_cases(*, include_closed: bool, services: Services) -> Message:
    """`ua list [all]`."""
    with services.transaction() as session:
        rows = store.list_cases(session=session, include_closed=include_closed)
        views = [store.case_view(c, country_name=services.country_name(c.country)) for c in rows]
    return case_list(views, include_closed)


def show_case(code: str, *, actor: str, place: Place, services: Services) -> Message:
    """`ua show CODE`, as much as the place may see; a read of the full details is audited."""
    with services.transaction() as session:
        case = store.get_case(session=session, code=code)
        if case is None:
            return error_message(f"No case {code}. See the open cases with: ua list")
        view = visible_view(session, services, case, place)
        level = services.disclosure_for(session, place)
        if level is Disclosure.FULL:
            record(
                session=session,
                case=case,
                actor=actor,
                place=place,
                action="read_full",
                now=services.clock(),
                detail={},
                changes_case=False,
            )
        tz = services.zone_for_place(session, place)
    return case_detail(view, tz, level)
