"""Looking at cases: the list and one case in full."""

from __future__ import annotations

from bot.domain.case import Disclosure
from bot.domain.commands.forms import ListCases, ShowCase
from bot.domain.commands.request import Command
from bot.domain.messages import Message, error_message
from bot.domain.views import case_detail, case_list
from bot.store import cases as store
from bot.store.changes import record
from handlers.context import Services
from handlers.loading import visible_view
from handlers.registry import handles


@handles(ListCases)
def list_cases(form: ListCases, request: Command, services: Services) -> Message:
    """`ua list [all]`."""
    with services.transaction() as session:
        rows = store.list_cases(session=session, include_closed=form.include_closed)
        views = [store.case_view(c, country_name=services.country_name(c.country)) for c in rows]
    return case_list(views, form.include_closed)


@handles(ShowCase)
def show_case(form: ShowCase, request: Command, services: Services) -> Message:
    """`ua show CODE`, as much as the place may see; a read of the full details is audited."""
    code, actor, place = form.code, request.actor, request.place
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
