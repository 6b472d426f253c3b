"""Neutral messages as Matrix event content: HTML `formatted_body` with a plain `body`."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from bot.connectors.console.render import render_text
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

HTML_FORMAT = "org.matrix.custom.html"
# Synapse refuses events over 64 KiB, and an edit carries both bodies, encrypted (+⅓).
MAX_BODY_CHARS = 10_000
CUT_NOTE = "… (cut: the message was too long; use !ua show for the rest)"
MATRIX_USER_ID = re.compile(r"^@[^\s:]+:[^\s]+$")


def content(message: Message, blocks: tuple[Block, ...] | None = None) -> dict[str, Any]:
    """An `m.notice` for the message (or for `blocks` instead of its own), pinging only the
    Matrix users in `message.mentions`."""
    shown = Message(
        fallback=message.fallback,
        # Charts go as image events of their own (`image`).
        blocks=tuple(
            b for b in (message.blocks if blocks is None else blocks) if not isinstance(b, Chart)
        ),
        is_error=message.is_error,
    )
    users = mentioned_users(message)
    body = _cut(plain_body(shown))
    html = html_body(shown)
    if len(html) > MAX_BODY_CHARS:
        # Never cut HTML inside a tag: fall back to the (cut) plain text.
        html = f"<p>{_lines(body)}</p>"
    if users:
        body = f"{' '.join(users)}: {body}"
        html = " ".join(_pill(user) for user in users) + ": " + html
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": HTML_FORMAT,
        "formatted_body": html,
        "m.mentions": {"user_ids": list(users)} if users else {},
    }


def image(
    chart: Chart, *, size: int, width: int, height: int, url: str, file: dict[str, Any] | None
) -> dict[str, Any]:
    """An `m.image` of a chart uploaded to `url`; in an encrypted room the upload was
    encrypted and `file` carries the keys to decrypt it (sent inside the encrypted event)."""
    content: dict[str, Any] = {
        "msgtype": "m.image",
        "body": chart.alt or chart.title,
        "filename": f"{chart.name}.png",
        "info": {"mimetype": "image/png", "size": size, "w": width, "h": height},
        "m.mentions": {},
    }
    if file is None:
        content["url"] = url
    else:
        content["file"] = {"url": url, **file}
    return content


def edit(original_event_id: str, new: dict[str, Any], *, summary: str) -> dict[str, Any]:
    """An `m.replace` edit of `original_event_id` to the content `new`; `summary` is the short
    fallback for clients that do not show edits (the full text would double the event's size)."""
    return {
        "msgtype": new["msgtype"],
        "body": f"* {summary}",
        "format": HTML_FORMAT,
        "formatted_body": f"* {escape(summary)}",
        "m.new_content": new,
        "m.mentions": {},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
    }


def in_thread(
    root_event_id: str, new: dict[str, Any], *, reply_to: str | None = None
) -> dict[str, Any]:
    """The content posted in the thread under `root_event_id`, answering `reply_to` when given
    (else with the reply fallback clients without threads show)."""
    return {
        **new,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root_event_id,
            "is_falling_back": reply_to is None,
            "m.in_reply_to": {"event_id": reply_to or root_event_id},
        },
    }


def in_reply_to(event_id: str, new: dict[str, Any]) -> dict[str, Any]:
    """The content as a reply to one event (an answer to a command)."""
    return {**new, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


def mentioned_users(message: Message) -> tuple[str, ...]:
    """The Matrix user IDs among the people a message is addressed to."""
    return tuple(dict.fromkeys(m for m in message.mentions if MATRIX_USER_ID.match(m)))


def plain_body(message: Message) -> str:
    """The plain-text body; errors start with a warning sign."""
    text = render_text(message)
    return f"⚠️ {text.removeprefix('! ')}" if message.is_error else text


def html_body(message: Message) -> str:
    """The HTML body, every piece of user text escaped."""
    html = "".join(_block_html(block) for block in message.blocks or (Paragraph(message.fallback),))
    return f"⚠️ {html}" if message.is_error else html


def _block_html(block: Block) -> str:
    match block:
        case Heading(text=text):
            return f"<h4>{escape(text)}</h4>"
        case Paragraph(text=text):
            return f"<p>{_lines(text)}</p>"
        case Fields(pairs=pairs):
            return _list(f"<b>{escape(label)}:</b> {_lines(value)}" for label, value in pairs)
        case Bullets(items=items):
            return _list(_lines(item) for item in items)
        case Note(text=text):
            return f"<p><em>{_lines(text)}</em></p>"
        case StepList(items=items):
            return _list(_lines(item.text) for item in items)
        case Group(title=title, items=items):
            return f"<p><b>{escape(title)}</b></p>" + _list(_lines(item) for item in items)
    raise AssertionError(f"unknown block {block!r}")


def _list(items: Any) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _lines(text: str) -> str:
    return "<br>".join(escape(line) for line in text.splitlines())


def _pill(user_id: str) -> str:
    return f'<a href="https://matrix.to/#/{escape(user_id)}">{escape(user_id)}</a>'


def _cut(text: str) -> str:
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + CUT_NOTE
