"""Neutral messages as plain text for a terminal."""

from __future__ import annotations

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
    StepList,
)


def render_text(message: Message) -> str:
    """The message as lines of plain text; errors start with '! '."""
    lines: list[str] = []
    for block in message.blocks or (Paragraph(message.fallback),):
        lines.extend(_block_lines(block))
    text = "\n".join(lines)
    return f"! {text}" if message.is_error else text


def _block_lines(block: Block) -> list[str]:
    match block:
        case Heading(text=text):
            return [text]
        case Paragraph(text=text):
            return [text]
        case Fields(pairs=pairs):
            width = max((len(label) for label, _ in pairs), default=0)
            return [f"  {label + ':':{width + 1}} {value}" for label, value in pairs]
        case Bullets(items=items):
            return [f"  - {item}" for item in items]
        case Note(text=text):
            return [f"  ({text})"]
        case StepList(items=items):
            return [f"  - {item.text}" for item in items]
        case Group(title=title, items=items):
            return [title, *(f"  - {item}" for item in items)]
        case Chart(title=title):
            return [
                f"  (chart: {title}. A terminal shows no image: tocsin report --chart FILE.png)"
            ]
    raise AssertionError(f"unknown block {block!r}")
