"""The daily digest read from the database, on both databases: every section counts all it
holds and shows the first lines, the longest due first; closed cases stay out of it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.domain.digest import SHOWN, digest_message
from bot.domain.messages import Bullets, Heading
from bot.store.models import Case, ChecklistStep, Contact, Destination, Target
from handlers.context import Services
from handlers.digest import gather_digest
from tests.factories import case_row, step_row

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def _case(
    session: Session, number: int, *, opened_days_ago: float, country: str = "HN", **row: Any
) -> Case:
    at = NOW - timedelta(days=opened_days_ago)
    case = Case(**{**case_row(year=2026, number=number, at=at), "country": country, **row})
    session.add(case)
    session.flush()
    return case


def _step(session: Session, case: Case, n: int, *, due: datetime, **row: Any) -> None:
    session.add(ChecklistStep(**{**step_row(case_id=case.id, n=n, due=due), **row}))


def _target(session: Session, case: Case, institution: str, position: int = 1) -> None:
    session.add(
        Target(
            case_id=case.id,
            position=position,
            category="embassy",
            institution=institution,
            name=institution,
            reason="fictional",
        )
    )


def _contact(
    session: Session,
    institution: str,
    *,
    country: str = "",
    government: str = "",
    verified: date | None = None,
) -> None:
    session.add(
        Contact(
            institution=institution,
            government=government,
            country=country,
            identity=f"{institution}.{government}.{country}@example.org".lower(),
            role="desk",
            email=f"{institution}.{government}.{country}@example.org".lower(),
            languages=[],
            verified_on=verified,
            updated_at=NOW,
        )
    )


def _digest(services: Services) -> dict[str, list[str]]:
    """The rendered digest: each heading with its lines."""
    with services.transaction() as session:
        room = Destination(
            platform="console", address="digest-room", timezone="UTC", created_at=NOW
        )
        session.add(room)
        session.flush()
        message = digest_message(gather_digest(session, services, room, NOW))
    sections: dict[str, list[str]] = {}
    heading = ""
    for block in message.blocks:
        if isinstance(block, Heading):
            heading = block.text
            sections[heading] = []
        elif isinstance(block, Bullets):
            sections[heading] = list(block.items)
    return sections


def test_sections_count_everything_and_show_the_longest_due_first(services: Services) -> None:
    with services.transaction() as session:
        late = _case(session, 1, opened_days_ago=30, origin_address="room")
        for n in range(1, SHOWN + 4):  # 13 overdue steps of @ana, step 13 the most overdue
            _step(session, late, n, due=NOW - timedelta(days=n), assignee="@ana")
        _step(session, late, 20, due=NOW - timedelta(days=40), assignee="@ana", status="done")
        _step(session, late, 21, due=NOW + timedelta(hours=2))  # due today, the lead's
        _step(session, late, 22, due=NOW + timedelta(days=2))  # later: in no section
        closed = _case(session, 2, opened_days_ago=40, status="closed", closed_at=NOW)
        # Closing a case leaves its unfinished steps open: they are no one's work any more.
        _step(session, closed, 1, due=NOW - timedelta(days=50), assignee="@ana")
        _step(session, closed, 2, due=NOW + timedelta(hours=1))
    sections = _digest(services)
    overdue = sections["Overdue, @ana (13)"]
    assert len(overdue) == SHOWN + 1 and overdue[-1] == "… and 3 more"
    assert overdue[0].startswith("UA-2026-0001 step 13:"), "the most overdue first"
    assert overdue[SHOWN - 1].startswith("UA-2026-0001 step 4:")
    assert [line.split(":")[0] for line in sections["Due today (1)"]] == ["UA-2026-0001 step 21"]
    assert "UA-2026-0002" not in str(sections), "a closed case's open steps are not listed"


def test_unowned_cases_are_open_ones_none_of_whose_steps_anyone_took(
    services: Services,
) -> None:
    with services.transaction() as session:
        taken = _case(session, 1, opened_days_ago=3)
        _step(session, taken, 1, due=NOW - timedelta(days=1), status="done", assignee="@bea")
        _step(session, taken, 2, due=NOW + timedelta(days=1))
        for number in range(2, SHOWN + 4):  # 12 cases whose steps nobody took
            nobody = _case(session, number, opened_days_ago=40 - number)
            _step(session, nobody, 1, due=NOW + timedelta(days=1), assignee="")
        closed = _case(session, 50, opened_days_ago=9, status="closed", closed_at=NOW)
        _step(session, closed, 1, due=NOW + timedelta(days=1))
    unowned = _digest(services)[f"Open cases nobody has taken a step of ({SHOWN + 2})"]
    assert unowned[:2] == ["UA-2026-0002", "UA-2026-0003"], "first opened first"
    assert unowned[-1] == "… and 2 more" and "UA-2026-0001" not in unowned


def test_stale_contacts_name_the_open_cases_that_rely_on_them(services: Services) -> None:
    long_ago = NOW.date() - timedelta(days=400)
    with services.transaction() as session:
        for number in range(1, SHOWN + 3):  # 12 open cases in Honduras through Canada's embassy
            case = _case(session, number, opened_days_ago=50 - number)
            _target(session, case, "embassy:CA")
        guatemala = _case(session, 20, opened_days_ago=5, country="GT")
        _target(session, guatemala, "embassy:CA")
        company = _case(session, 21, opened_days_ago=4, country="CO")
        _target(session, company, "oecd_ncp:US")
        _target(session, company, "iachr", 2)
        closed = _case(session, 22, opened_days_ago=9, status="closed", closed_at=NOW)
        _target(session, closed, "iachr")
        _contact(session, "embassy", government="CA", country="HN", verified=long_ago)
        _contact(session, "embassy", government="CA", country="GT")  # never verified
        _contact(session, "oecd_ncp", country="US", verified=long_ago)
        _contact(session, "iachr", verified=long_ago)  # serves every country
        _contact(session, "iachr", country="HN", verified=long_ago)  # no open case of it here
        _contact(session, "embassy", government="CA", country="CO", verified=NOW.date())
    lines = _digest(services)["Contacts open cases rely on, not verified for 180 days (4)"]
    by_contact = {line.split(":")[1].split()[0]: line.split(" — for ")[1] for line in lines}
    assert by_contact == {
        "embassy.ca.hn@example.org": ", ".join(f"UA-2026-{n:04d}" for n in range(1, 11))
        + " and 2 more",
        "embassy.ca.gt@example.org": "UA-2026-0020",
        "oecd_ncp..us@example.org": "UA-2026-0021",
        "iachr..@example.org": "UA-2026-0021",
    }
