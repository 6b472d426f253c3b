"""Reminders, escalations, catch-up, measures and digests with an injected clock, on both databases."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bot.connectors.console.render import render_text
from bot.domain.commands.forms import NewCase
from bot.domain.commands.table import parse_command
from bot.domain.commands.words import strip_prefix
from bot.domain.places import Place
from bot.store.db import create_database_engine
from bot.store.due import next_wakeup
from bot.store.leader import LeaderLock
from bot.store.models import Destination
from handlers.commands import handle_line
from handlers.context import Services
from handlers.intake import open_case_from_alert
from handlers.reminders import run_due
from tests.conftest import OPENED_AT, POSTGRES_URL, FrozenClock, fresh_postgres_schema

ROOM = Place(platform="console", address="room")
LEADS = Place(platform="console", address="leads")
CODE = "UA-2026-0001"
# High severity (arbitrary detention): in the default playbook step 1 is due after 30 minutes,
# reminders repeat every 2 hours and escalate after 2 of them.
NEW = 'ua new country=HN threats=arbitrary_detention profiles=journalist summary="held"'


def say(services: Services, line: str, actor: str = "console:ana") -> str:
    reply = handle_line(line, actor=actor, place=ROOM, services=services)
    assert reply is not None
    return render_text(reply)


def fire(
    services: Services, clock: FrozenClock, started_at: datetime = OPENED_AT, **later: float
) -> list[tuple[str, str]]:
    """Move the clock and run the scheduler (running since `started_at`); what it posts."""
    clock.advance(**later)
    return [
        (str(o.place), render_text(o.message))
        for o in run_due(services, clock.now, started_at=started_at)
    ]


def step_one(posts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [p for p in posts if "step 1 of" in p[1]]


def test_nothing_fires_before_the_step_is_due(services: Services, clock: FrozenClock) -> None:
    say(services, NEW)
    assert step_one(fire(services, clock, minutes=29)) == []


def test_a_due_step_reminds_its_owner_in_the_case_room(
    services: Services, clock: FrozenClock
) -> None:
    say(services, NEW)
    say(services, f"ua assign {CODE} 1 @bea")
    [(place, text)] = step_one(fire(services, clock, minutes=30))
    assert place == "console:room"
    assert text.startswith(f"Reminder for @bea: step 1 of {CODE}")
    assert "late" not in text
    assert step_one(fire(services, clock, minutes=1)) == [], "nothing fires twice"


def test_reminders_repeat_then_escalate_to_the_case_lead_then_the_team(
    services: Services, clock: FrozenClock
) -> None:
    with services.transaction() as session:
        session.add(
            Destination(platform="console", address="leads", is_lead=True, created_at=clock.now)
        )
    say(services, NEW)
    kinds = []
    for minutes in (30, 120, 120, 120, 120):
        [(place, text)] = step_one(fire(services, clock, minutes=minutes))
        kinds.append((place, text.split(":")[0]))
    assert kinds == [
        ("console:room", "Reminder for lead"),
        ("console:room", "Reminder for lead"),
        ("console:room", "Escalation to the case lead console"),
        ("console:room", "Escalation to the case lead console"),
        ("console:leads", "Escalation to the team lead"),
    ]


def test_a_snoozed_step_stays_quiet_until_the_snooze_ends(
    services: Services, clock: FrozenClock
) -> None:
    say(services, NEW)
    assert step_one(fire(services, clock, minutes=30))
    say(services, f"ua snooze {CODE} 1 1d")
    assert step_one(fire(services, clock, hours=23)) == []
    [(_, text)] = step_one(fire(services, clock, hours=2))
    assert text.startswith("Reminder for lead")


def test_done_and_close_cancel_reminders_at_once(services: Services, clock: FrozenClock) -> None:
    say(services, NEW)
    say(services, f"ua done {CODE} 1")
    assert step_one(fire(services, clock, hours=1)) == []
    say(services, f"ua close {CODE} released")
    assert [p for p in fire(services, clock, days=3) if CODE in p[1] and "Reminder" in p[1]] == []
    with services.transaction() as session:
        room = session.scalars(select(Destination).where(Destination.address == "room")).one()
        assert next_wakeup(session=session) == room.next_digest_at, "only the digest is left"


def test_after_downtime_everything_due_fires_once_in_due_order_marked_late(
    services: Services, clock: FrozenClock
) -> None:
    say(services, NEW)
    say(services, f"ua consent {CODE} government=yes")
    restarted = OPENED_AT + timedelta(hours=30)  # Tocsin was down from the opening until now
    posts = [text for _, text in fire(services, clock, restarted, hours=30) if "Reminder" in text]
    numbers = [int(text.split("step ")[1].split(" ")[0]) for text in posts]
    assert numbers and numbers == sorted(set(numbers), key=numbers.index)
    assert len(numbers) == len(set(numbers)), "each overdue step once"
    assert all("[late: this fell due while Tocsin was offline]" in text for text in posts)
    assert [t for _, t in fire(services, clock, restarted, seconds=1) if "Reminder" in t] == []


def test_a_step_opened_late_by_consent_is_not_called_late(
    services: Services, clock: FrozenClock
) -> None:
    say(services, NEW)
    clock.advance(hours=5)
    say(services, f"ua consent {CODE} government=yes")
    [text] = [t for _, t in fire(services, clock, seconds=1) if "step 3 of" in t]
    assert "late" not in text


def test_blocked_steps_wait_for_consent_then_remind(services: Services, clock: FrozenClock) -> None:
    say(services, NEW)
    assert not [t for _, t in fire(services, clock, hours=5) if "step 3 of" in t]
    say(services, f"ua consent {CODE} government=yes")
    assert [t for _, t in fire(services, clock, seconds=1) if "step 3 of" in t]


def test_the_scheduler_wakes_at_the_earliest_due_time(
    services: Services, clock: FrozenClock
) -> None:
    say(services, NEW)
    with services.transaction() as session:
        assert next_wakeup(session=session) == OPENED_AT + timedelta(minutes=30)


def test_a_digest_posts_at_the_destinations_local_time_across_dst(
    services: Services, clock: FrozenClock
) -> None:
    clock.now = datetime(2026, 3, 27, 12, tzinfo=UTC)
    say(services, NEW.replace("threats=arbitrary_detention", "threats=surveillance"))
    assert say(services, "ua digest at 09:00 Europe/Madrid").startswith(
        "Daily digest here at 09:00 Europe/Madrid; next on Sat 28 Mar 09:00 CET."
    )
    times = []
    for _ in range(3):
        with services.transaction() as session:
            room = session.scalars(select(Destination).where(Destination.address == "room")).one()
            when = room.next_digest_at
        assert when is not None
        clock.now = when
        digests = [
            o
            for o in run_due(services, clock.now, started_at=OPENED_AT)
            if "Daily digest" in o.message.fallback
        ]
        assert len(digests) == 1 and str(digests[0].place) == "console:room"
        times.append(when.isoformat())
    # 09:00 in Madrid: 08:00 UTC in winter time, 07:00 UTC from the 29 March change on.
    assert times == [
        "2026-03-28T08:00:00+00:00",
        "2026-03-29T07:00:00+00:00",
        "2026-03-30T07:00:00+00:00",
    ]


def test_ua_digest_posts_now_and_an_empty_day_is_one_line(services: Services) -> None:
    out = say(services, "ua digest")
    assert out.startswith("Daily digest, Fri 27 Nov 2026: nothing new")
    say(services, NEW)
    out = say(services, "ua digest")
    assert "New cases in the last 24 hours (1)" in out and f"{CODE} Honduras (high)" in out
    assert "Open cases nobody has taken a step of (1)" in out


def test_measures_add_follow_up_steps_on_their_cadence(
    services: Services, clock: FrozenClock
) -> None:
    say(services, NEW)
    out = say(services, f"ua measure {CODE} IACHR MC-123-26 requested")
    assert out.startswith(
        "IACHR precautionary measures MC-123-26: requested. Follow-up added, due Fri 04 Dec 2026"
    )
    assert "Check the status of the request for IACHR precautionary measures MC-123-26" in out
    out = say(services, f"ua measure {CODE} IACHR MC-123-26 granted review=2027-02-01")
    assert "superseded: granted" in out
    assert "is the state implementing them, and was the beneficiary consulted" in out
    assert "Review date of IACHR precautionary measures MC-123-26" in out
    follow_up = max(
        int(line.split(". ")[0].split()[-1])
        for line in out.splitlines()
        if "(granted): is the state" in line
    )
    clock.advance(days=30)
    posts = [
        o.message.fallback
        for o in run_due(services, clock.now, started_at=OPENED_AT)
        if f"step {follow_up} of" in o.message.fallback
    ]
    assert posts and posts[0].startswith("Reminder for legal")
    digest = say(services, "ua digest")
    assert "Measures due for follow-up (1)" in digest
    out = say(services, f"ua done {CODE} {follow_up} state says it assigned an escort")
    assert out.count("(granted): is the state implementing them") == 2, (
        "the next follow-up is planned"
    )
    out = say(services, f"ua measure {CODE} IACHR MC-123-26 lifted")
    assert "Follow-up added" not in out.splitlines()[0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"ua measure {CODE} OAS MC-1 granted", "! 'OAS' is not a body Tocsin follows measures of"),
        (f"ua measure {CODE} IACHR MC-1 approved", "! 'approved' is not a measure state"),
        (f"ua measure {CODE} IACHR MC-1 granted 20/11/2026", "! '20/11/2026' is not a date"),
        ("ua digest at 9am", "! '9am' is not a time of day"),
        ("ua digest at 09:00 Mars/Olympus", "! 'Mars/Olympus' is not a time zone"),
    ],
)
def test_bad_measure_and_digest_commands_say_what_is_accepted(
    services: Services, line: str, message: str
) -> None:
    say(services, NEW)
    assert say(services, line).startswith(message)


def test_destinations_are_created_where_cases_are_raised(services: Services) -> None:
    say(services, NEW)
    with services.transaction() as session:
        room = session.scalars(select(Destination).where(Destination.address == "room")).one()
        assert (room.digest_time, room.timezone) == ("09:00", "America/Tegucigalpa")
        assert room.next_digest_at == datetime(2026, 11, 27, 15, tzinfo=UTC)  # 09:00 CST


def test_one_scheduler_leads_and_a_standby_takes_over_when_it_dies(migrated_engine: Engine) -> None:
    first, second = LeaderLock(migrated_engine), LeaderLock(migrated_engine)
    try:
        assert first.try_acquire()
        if not first.shared:
            assert second.try_acquire(), "SQLite: one process by construction, always leader"
            return
        assert not second.try_acquire(), "a second instance waits"
        assert first.still_held()
        first.release()  # the leader's connection goes away, as when its process dies
        deadline = time.monotonic() + 5
        while not second.try_acquire():  # the server frees the lock as it notices the disconnect
            assert time.monotonic() < deadline, "the standby takes over"
            time.sleep(0.1)
    finally:
        first.release()
        second.release()


def test_tocsins_in_two_schemas_of_one_database_each_lead_their_own() -> None:
    """The PostgreSQL lock is per schema: another organisation's Tocsin on the same server (or
    another test run) never holds this one's scheduler up."""
    with fresh_postgres_schema("tocsin_one") as one, fresh_postgres_schema("tocsin_two") as two:
        engines = [
            create_database_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={s}"})
            for s in (one, two)
        ]
        locks = [LeaderLock(engine) for engine in engines]
        try:
            assert all(lock.try_acquire() for lock in locks)
            assert not LeaderLock(engines[0]).try_acquire(), "within one schema, one leader"
        finally:
            for lock in locks:
                lock.release()
            for engine in engines:
                engine.dispose()


def test_a_skipped_follow_up_still_plans_the_next(services: Services) -> None:
    say(services, NEW)
    out = say(services, f"ua measure {CODE} IACHR MC-9-26 granted")
    n = max(
        int(line.split(". ")[0].split()[-1]) for line in out.splitlines() if "(granted)" in line
    )
    out = say(services, f"ua skip {CODE} {n} the state answered already")
    assert out.count("(granted): is the state implementing them") == 2


def test_lifting_a_measure_ends_its_review_and_a_new_review_date_moves_it(
    services: Services,
) -> None:
    say(services, NEW)
    say(services, f"ua measure {CODE} IACHR MC-9-26 granted review=2027-01-10")
    out = say(services, f"ua measure {CODE} IACHR MC-9-26 extended review=2027-03-01")
    assert out.count("Review date of IACHR") == 1 and "due Mon 01 Mar 09:00" in out
    out = say(services, f"ua measure {CODE} IACHR MC-9-26 lifted")
    review = next(line for line in out.splitlines() if "Review date of IACHR" in line)
    assert "[-]" in review and "superseded: lifted" in review


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("granted 9999-12-31", "is not a plausible date"),
        ("granted 0001-01-01", "is not a plausible date"),
        ("granted review=2020-01-01", "give a review date between today"),
    ],
)
def test_implausible_measure_dates_are_refused(
    services: Services, words: str, message: str
) -> None:
    say(services, NEW)
    assert message in say(services, f"ua measure {CODE} IACHR MC-9-26 {words}")


def test_escalations_go_to_the_room_set_with_ua_leads_here(
    services: Services, clock: FrozenClock
) -> None:
    say(services, NEW)
    assert handle_line("ua leads here", actor="a", place=LEADS, services=services) is not None
    posts = []
    for minutes in (30, 120, 120, 120, 120):
        posts += step_one(fire(services, clock, minutes=minutes))
    assert posts[-1][0] == "console:leads" and posts[-1][1].startswith(
        "Escalation to the team lead"
    )


def test_a_case_raised_where_tocsin_cannot_post_is_reminded_in_the_team_room(
    services: Services, clock: FrozenClock
) -> None:
    say(services, "ua digest")  # the team room exists
    parsed = parse_command(strip_prefix(NEW) or "")
    assert isinstance(parsed, NewCase)
    place = Place("cli", "alert.json")  # as `tocsin alert new alert.json` stores it
    open_case_from_alert(parsed.alert, actor="cli", place=place, services=services)
    [(place, text)] = step_one(fire(services, clock, minutes=30))
    assert place == "console:room" and text.startswith("Reminder for lead")
