"""The neutral message model every connector renders: Block Kit, Matrix HTML or plain text."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Heading:
    """A title line."""

    text: str


@dataclass(frozen=True, slots=True)
class Paragraph:
    """Running text."""

    text: str


@dataclass(frozen=True, slots=True)
class Fields:
    """Label and value pairs, such as a case's country and severity."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Bullets:
    """A list of short items."""

    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Note:
    """Small print: hints, sources, what to do next."""

    text: str


Block = Heading | Paragraph | Fields | Bullets | Note


@dataclass(frozen=True, slots=True)
class Message:
    """One reply or notice, made of blocks; `fallback` is the one-line text for notifications."""

    fallback: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)
    is_error: bool = False
    # A key naming what this message shows (`checklist:UA-2026-0042`): connectors that can edit
    # messages update the last one posted with the same key in place instead of posting anew.
    replaces: str | None = None
    # Whether the whole channel should see it (a case card, a step change, a digest) rather than
    # only the person who asked (help, lists, errors).
    public: bool = False


def error_message(text: str) -> Message:
    """A short message that says what went wrong and what to do."""
    return Message(fallback=text, blocks=(Paragraph(text),), is_error=True)
