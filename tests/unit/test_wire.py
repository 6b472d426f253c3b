"""Messages survive the outbox: to JSON and back, equal; retry delays stay in bounds."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from bot.domain.case import CaseView, StepView, TargetView
from bot.domain.commands.table import help_message
from bot.domain.messages import Message
from bot.domain.views import case_opened
from bot.domain.wire import message_from_json, message_to_json
from bot.outbox.dispatcher import LONGEST_RETRY, retry_delay

AT = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)


def test_a_case_card_round_trips_through_json() -> None:
    case = CaseView(
        code="UA-2026-0003",
        status="open",
        country="HN",
        country_name="Honduras",
        severity="high",
        profiles=("journalist",),
        threats=("raid",),
        summary="",
        opened_at=AT,
        targets=(TargetView("embassy", "Embassy of Norway", "why", None, "pending"),),
        steps=(StepView(1, "Call", "lead", None, "open", AT, None),),
    )
    for message in (case_opened(case, UTC), help_message(None), Message(fallback="x")):
        stored = json.loads(json.dumps(message_to_json(message)))
        assert message_from_json(stored) == message


def test_retry_delays_grow_are_jittered_capped_and_honour_retry_after() -> None:
    rng = random.Random(7)
    first = [retry_delay(0, None, rng) for _ in range(50)]
    assert all(timedelta(seconds=0.5) <= d <= timedelta(seconds=1) for d in first)
    assert len(set(first)) > 40  # jittered, so retries of many rows spread out
    assert all(retry_delay(30, None, rng) <= LONGEST_RETRY for _ in range(50))
    assert retry_delay(3, 12.0, rng) == timedelta(seconds=12)
