"""Reports from the database, on SQLite and PostgreSQL: cases opened, worked, answered and
closed through the real commands, then counted, checked against figures counted by hand."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

import handlers.report as report_handlers
from bot.cli import main
from bot.connectors.matrix.people import MATRIX_PEOPLE
from bot.domain.commands.request import NO_MENTIONS, Command
from bot.domain.messages import Chart, Group, Message, charts_of
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.report import SUPPRESSED, Report, ReportData, Scope
from bot.domain.world import World
from bot.store.db import create_database_engine, session_factory
from bot.store.migrate import alembic_config, upgrade_to_head
from bot.store.models import Case, ChecklistStep, Destination, OutboxMessage, Target
from handlers.commands import handle
from handlers.context import Services
from handlers.reminders import run_due
from handlers.report import make_report, weekly_summary
from tests.conftest import OPENED_AT, FrozenClock
from tests.factories import bind_place, case_row, step_row

CONSOLE = Place("console", "reports")
ROOM = Place("matrix", "!reports:example.org", encrypted=True)
# Seven fictional cases in scope (and one a year before it), counted by hand below.
CASES = [
    "country=HN threats=death_threat,arbitrary_detention profiles=journalist perpetrators=state",
    "country=HN threats=death_threat profiles=land perpetrators=state",
    "country=HN threats=death_threat profiles=journalist perpetrators=state",
    "country=GT threats=arbitrary_detention profiles=lawyer perpetrators=state",
    "country=GT threats=arbitrary_detention profiles=lawyer perpetrators=state",
    "country=GT threats=arbitrary_detention profiles=lawyer perpetrators=state",
    "country=CO threats=death_threat profiles=journalist perpetrators=non_state",
]


def run(services: Services, text: str, place: Place = CONSOLE, actor: str = "ana") -> Message:
    # As the place's connector hands the command over, naming people its way.
    people = MATRIX_PEOPLE if place.platform == "matrix" else NO_MENTIONS
    reply = handle(Command(actor=actor, place=place, text=text, people=people), services)
    assert not reply.is_error, reply.fallback
    return reply


def opened(services: Services, fields: str) -> str:
    reply = run(services, f'new {fields} severity=high summary="fictional, for a report test"')
    return reply.fallback.split()[1].rstrip(":")


def _canada(services: Services, code: str) -> tuple[int, int]:
    """The checklist step that contacts Canada's embassy, and that target's number (T…)."""
    with services.transaction() as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        step = next(s for s in case.steps if "Embassy of Canada" in (s.target_name or ""))
        number = next(i for i, t in enumerate(case.targets, 1) if t.institution == "embassy:CA")
        return step.n, number


def _worked_cases(services: Services, clock: FrozenClock) -> list[str]:
    """The cases, and what the team did on them, hour by hour after they were opened."""
    clock.advance(days=-400)
    opened(services, CASES[0])  # a year before the report's scope
    clock.advance(days=400)
    codes = [opened(services, fields) for fields in CASES]
    hn = codes[:3]
    for code in hn:  # Canada's embassy contacted 2, 4 and 6 hours after opening
        clock.advance(hours=2)
        step, _ = _canada(services, code)
        run(services, f"consent {code} government=yes")
        run(services, f"done {code} {step} called the human rights officer")
    clock.advance(hours=4)  # +10 h: the embassy answers all three (8, 6 and 4 hours later)
    for code in hn:
        _, target = _canada(services, code)
        run(services, f"reply {code} T{target} will raise it with the ministry")
    run(services, f"done {hn[0]} 1")  # a later step: the first action stays at 2 hours
    for n, code in enumerate(hn, start=1):
        run(services, f"measure {code} IACHR MC-{n}-26 requested 2026-11-27")
        run(services, f"measure {code} IACHR MC-{n}-26 granted 2026-11-27")
    clock.advance(hours=38)  # +48 h: the Honduran cases close
    run(services, f"measure {hn[2]} IACHR MC-3-26 lifted 2026-11-29")
    for code in hn:
        run(services, f"close {code} released", actor="lead")
    return codes


@pytest.fixture
def worked(services: Services, clock: FrozenClock) -> list[str]:
    return _worked_cases(services, clock)


def _report(services: Services, **scope: Any) -> Report:
    values: dict[str, Any] = {"since": date(2026, 1, 1), "until": date(2026, 12, 31), **scope}
    with services.transaction() as session:
        return make_report(session, services, Scope(**values))


def test_the_report_counts_what_was_done_as_counted_by_hand(
    services: Services, worked: list[str]
) -> None:
    report = _report(services)
    # Counted by hand, published rounded to the nearest 5 (the exact count in brackets).
    assert report.value("summary", "cases") == 5  # 7: not the case opened a year earlier
    assert (report.value("summary", "closed"), report.value("summary", "open")) == (5, 5)  # 3, 4
    # 3 + 3 + 1 = 7, published as 5, 5, <3 and 5: cases at most 7 and Honduras and Guatemala at
    # least 3 each would leave Colombia exactly 1, so the breakdown by country is left out.
    assert report.section("by_country") == []
    assert report.value("by_threat", "death_threat") == 5  # 4
    assert report.value("by_threat", "arbitrary_detention") == 5  # 4
    assert {r.key: r.value for r in report.section("by_profile")} == {
        "journalist": 5,  # 3
        "lawyer": 5,  # 3
        "land": SUPPRESSED,
    }
    assert report.value("by_perpetrator", "state") == 5  # 6
    assert report.value("by_perpetrator", "non_state") == SUPPRESSED
    assert report.value("by_severity", "high") == 5  # 7
    assert report.value("by_outcome", "released") == 5  # 3
    assert report.value("by_outcome", "open") == 5  # 4
    assert report.value("cases_by_period", "2026-11-01/all") == 5  # 7
    assert report.value("cases_by_period", "2026-11-01/death_threat") == 5  # 4


def test_times_targets_and_measures_as_counted_by_hand(
    services: Services, worked: list[str]
) -> None:
    report = _report(services)
    assert report.value("time_to_first_action", "all") == 5  # 3
    assert report.value("time_to_first_action", "all", "median_hours") == 4.0
    assert report.value("time_to_first_action", "all", "p90_hours") == ""  # fewer than 10
    assert report.value("time_to_close", "high") == 5  # 3
    assert report.value("time_to_close", "high", "median_hours") == 48.0
    assert report.value("targets", "embassy:CA", "contacted") == 5  # 3
    assert report.value("targets", "embassy:CA", "answered") == 5  # 3
    assert report.value("targets", "embassy:CA", "median_reply_hours") == 6.0
    assert report.value("targets", "embassy:CA", "proposed") == 5  # 7: on every case
    assert {r.label for r in report.section("measures")} == {"IACHR (precautionary)"}
    assert report.value("measures", "iachr", "requested") == 5  # 3
    assert report.value("measures", "iachr", "granted") == 5  # 3
    assert report.value("measures", "iachr", "lifted") == SUPPRESSED


def test_a_report_of_one_country_or_period_counts_only_its_cases(
    services: Services, worked: list[str]
) -> None:
    assert _report(services, country="HN").value("summary", "cases") == 5  # 3
    earlier = _report(services, since=date(2025, 1, 1), until=date(2025, 12, 31))
    assert earlier.value("summary", "cases") == SUPPRESSED
    assert earlier.value("by_country", "HN") == SUPPRESSED
    nothing = _report(services, since=date(2024, 1, 1), until=date(2024, 1, 31))
    assert nothing.value("summary", "cases") == 0 and nothing.section("by_country") == []


def test_no_name_or_summary_reaches_the_report(services: Services, clock: FrozenClock) -> None:
    for person in ("Fictional Ana", "Fictional Bea", "Fictional Carla"):
        run(
            services,
            f'new country=HN threats=raid profiles=journalist summary="{person} seized '
            f'at home" defender="{person}" organisation="Fictional Collective"',
        )
    message = run(services, "report since=2026-01-01")
    text = repr(message)
    assert "Fictional" not in text and "seized" not in text
    assert (
        "Raid: 5"
        in next(b for b in message.blocks if isinstance(b, Group) and "threat" in b.title).items
    )


def test_ua_report_answers_in_the_room_and_checks_what_it_is_given(
    services: Services, worked: list[str]
) -> None:
    reply = run(services, "report since=2026-11-01 country=Honduras")
    assert reply.public and "Honduras" in reply.fallback
    assert "about 5 cases opened" in reply.fallback  # 3
    [chart] = charts_of(reply)
    assert chart.panels[1].labels == ("Honduras",)
    assert not charts_of(run(services, "report chart=no"))
    bad = handle(Command(actor="ana", place=CONSOLE, text="report country=Atlantis"), services)
    assert bad.is_error and "Atlantis" in bad.fallback
    weeks = handle(
        Command(actor="ana", place=CONSOLE, text="report since=2000-01-01 period=week"), services
    )
    assert weeks.is_error and "shorter period" in weeks.fallback


def test_reports_over_ranges_a_day_apart_are_the_same_report(
    services: Services, worked: list[str], clock: FrozenClock
) -> None:
    # The cases were opened on 27 November: a report to the 26th and one to the 27th would
    # count that day's cases alone. Both cover the whole month instead, up to today.
    pairs = [
        ("since=2026-11-01", "since=2026-11-02"),
        ("since=2026-11-01 until=2026-11-26", "since=2026-11-01 until=2026-11-27"),
    ]
    for first, second in pairs:
        one, other = run(services, f"report {first}"), run(services, f"report {second}")
        assert one == other
        assert f"2026-11-01 to {clock.now.date()}: about 5 cases opened" in one.fallback


@pytest.mark.parametrize("asked", ["until=9999-12-31", "since=1999-12-31"])
def test_a_date_out_of_range_gets_one_short_line_in_chat(services: Services, asked: str) -> None:
    reply = handle(Command(actor="ana", place=CONSOLE, text=f"report {asked}"), services)
    name = asked.split("=")[0]
    assert reply.is_error
    assert reply.fallback == f"{name} must be a date between 2000-01-01 and 2027-11-27."


def test_a_date_out_of_range_gets_one_short_line_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--until", "9999-12-31"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in error
    latest = datetime.now(UTC).date() + timedelta(days=365)
    assert f"until must be a date between 2000-01-01 and {latest}" in error
    assert not (tmp_path / "none.db").exists()


def test_the_default_until_is_todays_date_in_utc(services: Services, clock: FrozenClock) -> None:
    # 03:00 UTC on 30 November is still the 29th in Honduras, the organisation's time zone.
    clock.now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    opened(services, CASES[0])
    reply = run(services, "report")
    assert "2025-12-01 to 2026-11-30" in reply.fallback
    assert reply.fallback.endswith("<3 cases opened.")


def test_every_case_is_in_one_weekly_summary_where_monday_comes_before_utc(
    services: Services, clock: FrozenClock
) -> None:
    # Monday 09:00 in Auckland is Sunday 20:00 UTC: a case opened at 22:00 UTC that Sunday
    # comes after that Monday's summary, and must be in the next one.
    auckland = Destination(timezone="Pacific/Auckland")
    sundays = [datetime(2026, 11, 29, 20, 0, tzinfo=UTC) + timedelta(weeks=n) for n in range(3)]
    clock.now = sundays[0] + timedelta(hours=2)
    opened(services, CASES[0])
    summaries = []
    for now in sundays:
        with services.transaction() as session:
            summaries.append(weekly_summary(session, services, auckland, now).fallback)
    assert [text.endswith("<3 cases opened.") for text in summaries] == [False, True, False]
    # Monday-to-Sunday UTC weeks, one after the other: the one that ended before each Monday.
    assert [text.split(": ")[1] for text in summaries] == [
        "2026-11-16 to 2026-11-22",
        "2026-11-23 to 2026-11-29",
        "2026-11-30 to 2026-12-06",
    ]


def test_a_report_on_sqlite_does_not_keep_alert_intake_waiting(
    tmp_path: Path,
    world: World,
    playbook: Playbook,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "tocsin.db"
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    services = Services(
        sessions=session_factory(engine),
        world=world,
        playbook=playbook,
        tz=ZoneInfo("America/Tegucigalpa"),
        clock=clock,
    )
    opened(services, CASES[0])
    writes: list[str] = []
    gather = report_handlers.gather_report

    def gather_then_write(session: Session, scope: Scope) -> ReportData:
        data = gather(session, scope)  # the report has read: its transaction is under way
        writer = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")  # what alert intake does to store a case
            writer.execute("ROLLBACK")
            writes.append("written")
        except sqlite3.OperationalError as error:
            writes.append(str(error))
        finally:
            writer.close()
        return data

    monkeypatch.setattr(report_handlers, "gather_report", gather_then_write)
    try:
        run(services, "report")
    finally:
        engine.dispose()
    assert writes == ["written"]


def test_observers_read_reports_and_only_leads_turn_the_weekly_summary_on(
    services: Services,
) -> None:
    bind_place(services, ROOM)
    admin = replace(services, admins=frozenset({"matrix:@admin:example.org"}))
    run(admin, "role @olga:example.org observer", place=ROOM, actor="@admin:example.org")
    observer = Command(actor="@olga:example.org", place=ROOM, text="report")
    assert not handle(observer, services).is_error
    refused = handle(replace(observer, text="report weekly on"), services)
    assert refused.is_error and "lead" in refused.fallback


def test_the_weekly_summary_comes_on_monday_with_its_chart_and_stops_when_asked(
    services: Services, clock: FrozenClock
) -> None:
    bind_place(services, ROOM)
    admin = replace(services, admins=frozenset({"matrix:@admin:example.org"}))
    answer = run(admin, "report weekly on", place=ROOM, actor="@admin:example.org")
    assert "every Monday at 09:00" in answer.fallback
    with services.transaction() as session:
        room = session.scalars(select(Destination).where(Destination.address == ROOM.address)).one()
        due = room.next_weekly_report_at
        zone = ZoneInfo(room.timezone)
    assert due is not None and due.astimezone(zone).weekday() == 0
    assert due.astimezone(zone).strftime("%H:%M") == "09:00" and due > OPENED_AT
    opened(services, CASES[0])
    sent = [item for item in run_due(services, due, started_at=due) if item.place == ROOM]
    weekly = [item.message for item in sent if item.message.fallback.startswith("Weekly summary")]
    assert len(weekly) == 1
    [chart] = charts_of(weekly[0])
    assert isinstance(chart, Chart) and chart.panels[0].title == "Cases opened per week"
    assert len(chart.panels[0].labels) == 12  # the twelve whole weeks before this Monday
    with services.transaction() as session:
        queued = session.scalars(select(OutboxMessage).where(OutboxMessage.address == ROOM.address))
        assert any(row.payload.get("fallback", "").startswith("Weekly summary") for row in queued)
        room = session.scalars(select(Destination).where(Destination.address == ROOM.address)).one()
        assert room.next_weekly_report_at == due + timedelta(days=7)
    run(admin, "report weekly off", place=ROOM, actor="@admin:example.org")
    later = due + timedelta(days=7)
    again = run_due(services, later, started_at=later)
    assert not [i for i in again if i.message.fallback.startswith("Weekly summary")]
    # Unbinding a room turns its summary off too: nothing stays scheduled for a silent room.
    run(admin, "report weekly on", place=ROOM, actor="@admin:example.org")
    run(admin, "unbind", place=ROOM, actor="@admin:example.org")
    with services.transaction() as session:
        weekly = select(Destination.next_weekly_report_at).where(
            Destination.address == ROOM.address
        )
        assert session.scalar(weekly) is None


def test_a_done_step_marks_its_targets_contacted_once(
    services: Services, clock: FrozenClock
) -> None:
    code = opened(services, CASES[0])
    step, _ = _canada(services, code)
    run(services, f"consent {code} government=yes")
    clock.advance(hours=1)
    run(services, f"done {code} {step}")
    with services.transaction() as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        canada = next(t for t in case.targets if t.institution == "embassy:CA")
        others = [t for t in case.targets if t.contacted_at is not None and t is not canada]
        assert case.first_action_at == OPENED_AT + timedelta(hours=1)
        assert canada.contacted_at == OPENED_AT + timedelta(hours=1)
        assert canada.status == "contacted" and others == []
        assert (
            session.scalar(
                select(ChecklistStep.status).where(
                    ChecklistStep.case_id == case.id, ChecklistStep.n == step
                )
            )
            == "done"
        )
        assert session.scalars(select(Target).where(Target.case_id == case.id)).first() is not None


def test_migrating_gives_existing_cases_their_first_action(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0009_digest_indexes")
    done = OPENED_AT + timedelta(hours=3)
    with engine.begin() as connection:
        for number in (1, 2):
            row = case_row(year=2026, number=number, at=OPENED_AT)
            connection.execute(Case.__table__.insert().values(**row))
        steps = [
            {**step_row(case_id=1, n=1, due=OPENED_AT), "status": "done", "completed_at": done},
            {
                **step_row(case_id=1, n=2, due=OPENED_AT),
                "status": "done",
                "completed_at": done + timedelta(hours=5),
            },
            {
                **step_row(case_id=1, n=3, due=OPENED_AT),
                "status": "skipped",
                "completed_at": OPENED_AT,
            },
            {**step_row(case_id=2, n=1, due=OPENED_AT), "completed_at": None},
        ]
        connection.execute(ChecklistStep.__table__.insert(), steps)
    upgrade_to_head(engine)
    with Session(engine) as session:
        rows = session.execute(select(Case.number, Case.first_action_at))
        first = {number: at for number, at in rows}
    engine.dispose()
    assert first == {1: done, 2: None}
