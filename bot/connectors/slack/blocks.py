"""Neutral messages as Slack Block Kit, within Slack's limits, with user text made inert."""

from __future__ import annotations

from typing import Any

from bot.domain.messages import Block, Bullets, Fields, Heading, Message, Note, Paragraph

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FALLBACK = 3000
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
    blocks: list[dict[str, Any]] = []
    for block in message.blocks or (Paragraph(message.fallback),):
        blocks.extend(_convert(block))
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], _context(CUT_NOTE)]
    return blocks


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
    raise AssertionError(f"unknown block {block!r}")


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
