"""Transitions refuse what makes no sense, with a message that says what to do instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import lifecycle
from bot.domain.lifecycle import CaseState, StepState, StepStatus, TransitionError

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
OPEN = StepState(
    n=3, status=StepStatus.OPEN, assignee=None, due_at=NOW + timedelta(hours=1), gated_by=None
)
BLOCKED = StepState(
    n=5, status=StepStatus.BLOCKED, assignee=None, due_at=NOW, gated_by="consent.media"
)
CASE = CaseState(code="UA-2026-0001", status="open", outcome=None)


def test_done_twice_is_refused() -> None:
    done = lifecycle.complete(OPEN, "sent", NOW, CASE.code)
    assert (done.status, done.note, done.completed_at) == (StepStatus.DONE, "sent", NOW)
    with pytest.raises(TransitionError, match="Step 3 is already done"):
        lifecycle.complete(done, None, NOW, CASE.code)


def test_a_step_waiting_for_consent_cannot_be_done() -> None:
    with pytest.raises(TransitionError, match=r"ua consent UA-2026-0001 media=yes"):
        lifecycle.complete(BLOCKED, None, NOW, CASE.code)


def test_skip_needs_a_reason() -> None:
    with pytest.raises(TransitionError, match="Say why step 3 is skipped"):
        lifecycle.skip(OPEN, "  ", NOW)
    assert lifecycle.skip(OPEN, "partner did it", NOW).status is StepStatus.SKIPPED


def test_finished_steps_cannot_be_claimed_snoozed_or_skipped() -> None:
    skipped = lifecycle.skip(OPEN, "not needed", NOW)
    for change in (
        lambda s: lifecycle.claim(s, "ana"),
        lambda s: lifecycle.snooze(s, timedelta(hours=1), NOW),
        lambda s: lifecycle.skip(s, "again", NOW),
        lambda s: lifecycle.complete(s, None, NOW, CASE.code),
    ):
        with pytest.raises(TransitionError, match="Step 3 was skipped"):
            change(skipped)


def test_claiming_your_own_step_again_says_so() -> None:
    mine = lifecycle.claim(OPEN, "console:ana")
    with pytest.raises(TransitionError, match="already yours"):
        lifecycle.claim(mine, "console:ana")


def test_snooze_counts_from_now_when_overdue() -> None:
    overdue = StepState(
        n=1, status=StepStatus.OPEN, assignee=None, due_at=NOW - timedelta(days=1), gated_by=None
    )
    assert lifecycle.snooze(overdue, timedelta(hours=2), NOW).due_at == NOW + timedelta(hours=2)
    assert lifecycle.snooze(OPEN, timedelta(hours=2), NOW).due_at == NOW + timedelta(hours=3)


def test_consent_opens_and_withdrawal_blocks_only_pending_gated_steps() -> None:
    opened = lifecycle.apply_consent(BLOCKED, {"media": True})
    assert opened.status is StepStatus.OPEN
    assert lifecycle.apply_consent(opened, {"media": False}).status is StepStatus.BLOCKED
    assert lifecycle.apply_consent(OPEN, {"media": False}) == OPEN
    done = lifecycle.complete(opened, None, NOW, CASE.code)
    assert lifecycle.apply_consent(done, {"media": False}) == done


def test_close_needs_a_known_outcome_and_a_closed_case_refuses_changes() -> None:
    with pytest.raises(TransitionError, match="accepted: released, charges_dropped, relocated"):
        lifecycle.close(CASE, "happy", NOW)
    closed = lifecycle.close(CASE, "released", NOW)
    assert (closed.status, closed.outcome, closed.closed_at) == ("closed", "released", NOW)
    with pytest.raises(TransitionError, match="reopen it first with: ua reopen UA-2026-0001"):
        lifecycle.ensure_open(closed)
    with pytest.raises(TransitionError, match="is closed"):
        lifecycle.close(closed, "released", NOW)


def test_reopen_only_a_closed_case() -> None:
    with pytest.raises(TransitionError, match="is not closed"):
        lifecycle.reopen(CASE)
    reopened = lifecycle.reopen(lifecycle.close(CASE, "ongoing_risk", NOW))
    assert (reopened.status, reopened.outcome) == ("open", None)
