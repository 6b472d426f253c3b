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


@dataclass(frozen=True, slots=True)
class Group:
    """A titled list kept together (one category of targets on a case card)."""

    title: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepItem:
    """One checklist step; `open` steps can be acted on (claim, done, skip, snooze, assign)."""

    n: int
    text: str
    open: bool


@dataclass(frozen=True, slots=True)
class StepList:
    """A case's checklist: chat connectors add a button row to each open step."""

    code: str
    items: tuple[StepItem, ...]


@dataclass(frozen=True, slots=True)
class Series:
    """One named run of values over a panel's labels; None where nothing may be drawn."""

    name: str
    values: tuple[float | None, ...]
    style: str = "bar"  # or "line"


@dataclass(frozen=True, slots=True)
class Panel:
    """One plot of a chart: `bars` over time (with lines on top), or `hbars` by category."""

    kind: str
    title: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str = "cases"


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart posted as an image (a PNG drawn when it is sent); `alt` describes it in words
    for screen readers and for surfaces that show no images."""

    name: str
    title: str
    alt: str
    panels: tuple[Panel, ...]
    # Small print under the chart (what it leaves out, and why).
    note: str = ""


Block = Heading | Paragraph | Fields | Bullets | Note | StepList | Group | Chart


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
    # The case card this message refreshes: connectors that keep one card per case (Slack,
    # Matrix) edit it in place with these blocks and post the message itself in its thread.
    card: tuple[Block, ...] = ()
    # The key of a card whose thread this message belongs in (reminders of a case's steps).
    thread: str | None = None
    # The step this message is about (`step:UA-2026-0042:3`): chat connectors let a reaction to
    # it (✅ in Matrix) act on that step.
    about: str | None = None
    # Who this message is addressed to (an owner, a lead), as the case records them; connectors
    # notify only these people, never whoever the text happens to name.
    mentions: tuple[str, ...] = ()
    # The outbox row that also carries this message (`outbox:17`): the connector answering the
    # command posts it at once under this delivery key and marks the row sent; should it fail
    # or die, the dispatcher delivers the row, and the key keeps it from landing twice.
    outbox_key: str | None = None


def error_message(text: str) -> Message:
    """A short message that says what went wrong and what to do."""
    return Message(fallback=text, blocks=(Paragraph(text),), is_error=True)


def charts_of(message: Message) -> tuple[Chart, ...]:
    """The charts a message carries, which chat connectors post as images."""
    return tuple(block for block in message.blocks if isinstance(block, Chart))
