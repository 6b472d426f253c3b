"""Reminder chains, local times across daylight saving, and the digest's shape: pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.digest import DigestInput, DigestStep, digest_message
from bot.domain.local_time import TimeOfDayError, next_local_time, parse_time_of_day
from bot.domain.playbook import ReminderPolicy
from bot.domain.reminders import OverdueStep, ReminderKind, kind_of, next_reminder, reminder_message
from bot.domain.vocabulary import Severity

POLICY = ReminderPolicy.model_validate(
    {"repeat": {"critical": "5s", "high": "1h", "medium": "1d"}, "escalate_after": 2}
)
NOW = datetime(2026, 11, 27, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "kind"),
    [
        (0, ReminderKind.OWNER),
        (1, ReminderKind.OWNER),
        (2, ReminderKind.CASE_LEAD),
        (3, ReminderKind.CASE_LEAD),
        (4, ReminderKind.TEAM_LEAD),
        (9, ReminderKind.TEAM_LEAD),
    ],
)
def test_reminders_go_to_the_owner_then_the_case_lead_then_the_team(
    sent: int, kind: ReminderKind
) -> None:
    assert kind_of(sent, POLICY) is kind


def test_the_next_reminder_counts_from_now_by_severity() -> None:
    assert next_reminder(NOW, Severity.CRITICAL, POLICY) == NOW + timedelta(seconds=5)
    assert next_reminder(NOW, Severity.MEDIUM, POLICY) == NOW + timedelta(days=1)


def overdue(planned: datetime, sent: int = 0) -> OverdueStep:
    return OverdueStep(
        code="UA-2026-0001",
        n=3,
        title="Alert the embassy",
        owner="@bea",
        lead="@ana",
        severity=Severity.HIGH,
        due_at=planned,
        planned_at=planned,
        reminders_sent=sent,
    )


def test_a_reminder_names_owner_step_and_how_to_finish_it() -> None:
    text = reminder_message(overdue(NOW), ReminderKind.OWNER, UTC).fallback
    assert text == (
        "Reminder for @bea: step 3 of UA-2026-0001 (Alert the embassy) was due Fri 27 Nov 15:00 UTC."
        " Mark it with: ua done UA-2026-0001 3"
    )


def test_a_reminder_fired_after_downtime_is_marked_late() -> None:
    late = reminder_message(overdue(NOW), ReminderKind.OWNER, UTC, late=True)
    assert "[late: this fell due while Tocsin was offline]" in late.fallback
    assert "late" not in reminder_message(overdue(NOW), ReminderKind.OWNER, UTC).fallback


def test_escalations_name_the_lead_and_the_count() -> None:
    lead = reminder_message(overdue(NOW, sent=2), ReminderKind.CASE_LEAD, UTC).fallback
    assert (
        lead.startswith("Escalation to the case lead @ana:") and "after 2 reminders to @bea" in lead
    )
    team = reminder_message(overdue(NOW, sent=4), ReminderKind.TEAM_LEAD, UTC).fallback
    assert team.startswith("Escalation to the team lead:") and "(high case)" in team


MADRID = ZoneInfo("Europe/Madrid")


def test_a_digest_time_keeps_its_local_hour_across_the_spring_change() -> None:
    # Europe/Madrid moves from CET (UTC+1) to CEST (UTC+2) on 29 March 2026.
    before = next_local_time(datetime(2026, 3, 28, 9, tzinfo=UTC), time(9), MADRID)
    after = next_local_time(before, time(9), MADRID)
    assert before == datetime(2026, 3, 29, 7, tzinfo=UTC)  # already CEST on the 29th at 09:00
    assert after == datetime(2026, 3, 30, 7, tzinfo=UTC)
    first = next_local_time(datetime(2026, 3, 27, 9, tzinfo=UTC), time(9), MADRID)
    assert first == datetime(2026, 3, 28, 8, tzinfo=UTC)  # still CET on the 28th


def test_a_digest_time_keeps_its_local_hour_across_the_autumn_change() -> None:
    # Back to CET on 25 October 2026.
    assert next_local_time(datetime(2026, 10, 24, 8, tzinfo=UTC), time(9), MADRID) == datetime(
        2026, 10, 25, 8, tzinfo=UTC
    )
    assert next_local_time(datetime(2026, 10, 24, 6, tzinfo=UTC), time(9), MADRID) == datetime(
        2026, 10, 24, 7, tzinfo=UTC
    )


def test_a_time_skipped_by_the_spring_change_still_happens_that_day() -> None:
    at = next_local_time(datetime(2026, 3, 28, 23, tzinfo=UTC), time(2, 30), MADRID)
    assert at.date() == date(2026, 3, 29)


@pytest.mark.parametrize("text", ["9", "25:00", "09:60", "nine", ""])
def test_a_bad_time_of_day_is_refused(text: str) -> None:
    with pytest.raises(TimeOfDayError):
        parse_time_of_day(text)


def test_an_empty_day_is_one_line() -> None:
    message = digest_message(DigestInput(day=date(2026, 11, 27), tz=UTC))
    assert (
        message.fallback
        == "Daily digest, Fri 27 Nov 2026: nothing new, nothing overdue or due today."
    )
    assert len(message.blocks) == 1


def test_overdue_steps_are_grouped_by_owner() -> None:
    step = DigestStep(code="UA-2026-0001", n=3, title="Alert", owner="@bea", due_at=NOW)
    other = DigestStep(code="UA-2026-0002", n=1, title="Call", owner="@ana", due_at=NOW)
    message = digest_message(DigestInput(day=date(2026, 11, 27), tz=UTC, overdue=[step, other]))
    headings = [b.text for b in message.blocks if hasattr(b, "text")]
    assert headings == ["Daily digest, Fri 27 Nov 2026", "Overdue, @ana (1)", "Overdue, @bea (1)"]


def test_messages_tocsin_gave_up_on_are_in_the_digest_with_what_to_do() -> None:
    undelivered = [("slack:C9", 2, "Slack: is_archived")]
    data = DigestInput(day=date(2026, 11, 27), tz=UTC, undelivered=undelivered)
    text = str(digest_message(data).blocks)
    assert "tocsin outbox --failed" in text and "slack:C9: 2 — Slack: is_archived" in text
