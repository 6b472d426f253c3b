"""Looking at cases: the list and one case in full."""

from __future__ import annotations

from bot.domain.case import Disclosure, Place
from bot.domain.messages import Message, error_message
from bot.domain.views import case_detail, case_list
from bot.store import cases as store
from handlers.context import Services


def list_cases(*, include_closed: bool, services: Services) -> Message:
    """`ua list [all]`."""
    with services.transaction() as session:
        rows = store.list_cases(session=session, include_closed=include_closed)
        views = [store.case_view(c, country_name=services.country_name(c.country)) for c in rows]
    return case_list(views, include_closed)


def show_case(code: str, *, place: Place, services: Services) -> Message:
    """`ua show CODE`, with names only where the place may see them."""
    disclosure = place.disclosure
    with services.transaction() as session:
        case = store.get_case(session=session, code=code)
        if case is None:
            return error_message(f"No case {code}. See the open cases with: ua list")
        view = store.case_view(
            case,
            country_name=services.country_name(case.country),
            detail=True,
            with_identity=disclosure is Disclosure.FULL,
        )
    return case_detail(view, services.zone_for(place), disclosure)
