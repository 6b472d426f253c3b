"""Neutral messages as Slack Block Kit, within Slack's limits, with user text made inert."""

from __future__ import annotations

from typing import Any

from bot.domain.messages import (
    Block,
    Bullets,
    Chart,
    Fields,
    Group,
    Heading,
    Message,
    Note,
    Paragraph,
    StepItem,
    StepList,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FALLBACK = 3000
MAX_BUTTON = 75
ELLIPSIS = "…"
CUT_NOTE = "(cut to fit Slack: see the rest with ua show)"


def escape(text: str) -> str:
    """Make text inert in Slack mrkdwn: `<!channel>` or `<@U1>` typed by a user pings nobody."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def to_blocks(message: Message) -> list[dict[str, Any]]:
    """The message as Block Kit blocks; over 50 blocks, the last says that it was cut."""
    return render(message.blocks or (Paragraph(message.fallback),))


def render(source: tuple[Block, ...]) -> list[dict[str, Any]]:
    """Neutral blocks as Block Kit within Slack's 50 blocks: every step keeps its line, button
    rows go to the first open steps that fit (the rest say how to act by command), and only
    what still does not fit is cut, visibly."""
    others = sum(len(_convert(b)) for b in source if not isinstance(b, StepList))
    lines = sum(len(b.items) for b in source if isinstance(b, StepList))
    rows = max(MAX_BLOCKS - 1 - others - lines, 0)
    blocks: list[dict[str, Any]] = []
    for block in source:
        if isinstance(block, StepList):
            converted, rows = _steps(block, rows)
            blocks.extend(converted)
        else:
            blocks.extend(_convert(block))
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], _context(CUT_NOTE)]
    return blocks


def _steps(block: StepList, rows: int) -> tuple[list[dict[str, Any]], int]:
    """Each step's line; button rows while `rows` lasts; a hint when some steps have none."""
    converted: list[dict[str, Any]] = []
    without: list[int] = []
    for item in block.items:
        with_buttons = item.open and rows > 0
        converted.extend(_step(block.code, item) if with_buttons else _step_line(item))
        rows -= 1 if with_buttons else 0
        if item.open and not with_buttons:
            without.append(item.n)
    if without:
        converted.append(
            _context(
                f"No room for buttons on steps {', '.join(map(str, without))}: "
                f"use /ua done {block.code} N, /ua claim {block.code} N …"
            )
        )
    return converted, rows


def fallback_text(message: Message) -> str:
    """The notification text that goes with the blocks."""
    text = escape(message.fallback)
    return truncate(f":warning: {text}" if message.is_error else text, MAX_FALLBACK)


def _convert(block: Block) -> list[dict[str, Any]]:
    match block:
        case Heading(text=text):
            return [{"type": "header", "text": _plain(truncate(text, MAX_HEADER))}]
        case Paragraph(text=text):
            return _sections(escape(text))
        case Fields(pairs=pairs):
            lines = [f"*{escape(label)}:* {escape(value)}" for label, value in pairs]
            return _sections("\n".join(lines))
        case Bullets(items=items):
            return _sections("\n".join(f"• {escape(item)}" for item in items))
        case Note(text=text):
            return [_context(escape(text))]
        case Group(title=title, items=items):
            lines = [f"*{escape(title)}*", *(f"• {escape(item)}" for item in items)]
            return _sections("\n".join(lines))
        case StepList(code=code, items=items):
            return [part for item in items for part in _step(code, item)]
        case Chart():
            return []  # uploaded as an image after the message
    raise AssertionError(f"unknown block {block!r}")


SNOOZE_CHOICES = (("1 hour", "1h"), ("4 hours", "4h"), ("1 day", "1d"), ("1 week", "1w"))


def _step_line(item: StepItem) -> list[dict[str, Any]]:
    return _sections(truncate(escape(item.text), MAX_SECTION))


def _step(code: str, item: StepItem) -> list[dict[str, Any]]:
    """A step's line, and for an open step a row of buttons whose values name case and step."""
    section = _step_line(item)
    if not item.open:
        return section
    value = f"{code} {item.n}"
    return [
        *section,
        {
            "type": "actions",
            "block_id": f"step:{code}:{item.n}",
            "elements": [
                _button("Claim", "step_claim", value),
                _button("Done", "step_done", value, style="primary"),
                _button("Skip…", "step_skip", value),
                {
                    "type": "static_select",
                    "action_id": "step_snooze",
                    "placeholder": _plain("Snooze"),
                    "options": [
                        _option(label, f"{value} {delay}") for label, delay in SNOOZE_CHOICES
                    ],
                },
                {
                    "type": "overflow",
                    "action_id": "step_more",
                    "options": [
                        _option("Assign to…", f"assign {value}"),
                        _option("Show the case", f"show {value}"),
                    ],
                },
            ],
        },
    ]


def _button(label: str, action: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action,
        "text": _plain(truncate(label, MAX_BUTTON)),
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(truncate(label, MAX_BUTTON)), "value": value}


def _sections(text: str) -> list[dict[str, Any]]:
    """One or more sections of at most 3,000 characters, split at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > MAX_SECTION:
            chunks, current = _flush(chunks, current)
            chunks.append(line[:MAX_SECTION])
            line = line[MAX_SECTION:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_SECTION:
            chunks, current = _flush(chunks, current)
            candidate = line
        current = candidate
    chunks, _ = _flush(chunks, current)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in chunks or [" "]
    ]


def _flush(chunks: list[str], current: str) -> tuple[list[str], str]:
    return ([*chunks, current] if current else chunks), ""


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}],
    }
