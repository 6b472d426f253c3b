"""Block Kit rendering stays within Slack's limits and keeps user text inert."""

from __future__ import annotations

from bot.connectors.slack.blocks import fallback_text, render, to_blocks
from bot.domain.messages import Bullets, Group, Heading, Message, Paragraph, StepItem, StepList


def test_user_text_cannot_ping_or_link() -> None:
    blocks = to_blocks(Message(fallback="<!channel>", blocks=(Paragraph("<!here> & <@U1>"),)))
    assert blocks[0]["text"]["text"] == "&lt;!here&gt; &amp; &lt;@U1&gt;"
    assert fallback_text(Message(fallback="<!channel>")) == "&lt;!channel&gt;"


def test_long_headers_and_sections_are_cut_or_split_within_limits() -> None:
    blocks = render(
        (Heading("H" * 400), Paragraph(("line " * 200 + "\n") * 10), Group("T", ("x" * 5000,)))
    )
    assert len(blocks[0]["text"]["text"]) == 150 and blocks[0]["text"]["text"].endswith("…")
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) > 2 and all(len(b["text"]["text"]) <= 3000 for b in sections)


def test_every_step_keeps_its_line_and_buttons_go_where_they_fit() -> None:
    items = tuple(StepItem(n=n, text=f"step {n} " + "z" * 4000, open=True) for n in range(1, 40))
    blocks = render((Heading("UA-2026-0001"), StepList("UA-2026-0001", items)))
    assert len(blocks) <= 50
    lines = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert [line.split()[1] for line in lines] == [str(n) for n in range(1, 40)]
    assert all(len(line) <= 3000 for line in lines)
    assert sum(b["type"] == "actions" for b in blocks) == 9
    assert "No room for buttons on steps 10, 11" in blocks[-1]["elements"][0]["text"]


def test_what_cannot_fit_at_all_is_cut_visibly() -> None:
    items = tuple(StepItem(n=n, text=f"step {n}", open=False) for n in range(1, 80))
    blocks = render((StepList("UA-2026-0001", items),))
    assert len(blocks) == 50 and "cut to fit Slack" in blocks[-1]["elements"][0]["text"]


def test_open_steps_get_buttons_whose_texts_fit() -> None:
    [line, row] = render((StepList("UA-2026-0001", (StepItem(n=3, text="Alert", open=True),)),))
    assert row["block_id"] == "step:UA-2026-0001:3"
    labels = [e["text"]["text"] for e in row["elements"] if "text" in e]
    assert labels == ["Claim", "Done", "Skip…"] and all(len(label) <= 75 for label in labels)
    snooze = next(e for e in row["elements"] if e["action_id"] == "step_snooze")
    assert [o["value"] for o in snooze["options"]] == [
        "UA-2026-0001 3 1h",
        "UA-2026-0001 3 4h",
        "UA-2026-0001 3 1d",
        "UA-2026-0001 3 1w",
    ]
    assert line["type"] == "section"


def test_finished_steps_have_no_buttons() -> None:
    blocks = render((StepList("UA-2026-0001", (StepItem(n=1, text="[x] done", open=False),)),))
    assert [b["type"] for b in blocks] == ["section"]


def test_bullets_render_as_one_section() -> None:
    [section] = render((Bullets(("a", "b")),))
    assert section["text"]["text"] == "• a\n• b"
