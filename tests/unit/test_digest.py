"""The digest's rendering: each section shows its first lines and counts the rest."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.domain.digest import SHOWN, DigestInput, DigestStep, digest_message
from bot.domain.messages import Bullets, Heading

DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)


def _sections(data: DigestInput) -> dict[str, tuple[str, ...]]:
    blocks = digest_message(data).blocks
    return {
        heading.text: items.items
        for heading, items in zip(blocks[1::2], blocks[2::2], strict=True)
        if isinstance(heading, Heading) and isinstance(items, Bullets)
    }


def test_a_long_section_shows_its_first_lines_and_counts_the_rest() -> None:
    codes = [f"UA-2026-{n:04d}" for n in range(1, SHOWN + 6)]
    sections = _sections(DigestInput(day=DAY, tz=UTC, unowned_cases=codes))
    assert sections[f"Open cases nobody has taken a step of ({SHOWN + 5})"] == (
        *codes[:SHOWN],
        "… and 5 more",
    )


def test_a_section_read_in_part_says_how_many_it_holds() -> None:
    step = DigestStep(code="UA-2026-0001", n=2, title="Call", owner="@ana", due_at=NOW)
    data = DigestInput(
        day=DAY,
        tz=UTC,
        overdue=[step],
        new_cases=[("UA-2026-0009", "Honduras", "high")],
        totals={"overdue:@ana": 1_204, "new_cases": 1},
    )
    sections = _sections(data)
    assert sections["Overdue, @ana (1204)"] == (
        "UA-2026-0001 step 2: Call — @ana, due Fri 27 Nov 09:00",
        "… and 1,203 more",
    )
    assert sections["New cases in the last 24 hours (1)"] == ("UA-2026-0009 Honduras (high)",)


def test_an_empty_day_is_one_line_whatever_the_totals_say() -> None:
    message = digest_message(DigestInput(day=DAY, tz=UTC, totals={"due_today": 0}))
    assert message.fallback.endswith("nothing new, nothing overdue or due today.")
