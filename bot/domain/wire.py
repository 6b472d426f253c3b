"""Messages as plain JSON and back, so a message can wait in the outbox across restarts."""

from __future__ import annotations

from dataclasses import asdict, fields
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
    Panel,
    Paragraph,
    Series,
    StepItem,
    StepList,
)

_BLOCKS: dict[str, type[Block]] = {
    cls.__name__: cls for cls in (Heading, Paragraph, Fields, Bullets, Note, Group, StepList)
}


def message_to_json(message: Message) -> dict[str, Any]:
    """The message as JSON-ready data; `message_from_json` gives it back equal."""
    data = {f.name: getattr(message, f.name) for f in fields(message)}
    data["blocks"] = [_block_to_json(b) for b in message.blocks]
    data["card"] = [_block_to_json(b) for b in message.card]
    data["mentions"] = list(message.mentions)
    return data


def message_from_json(data: dict[str, Any]) -> Message:
    """The message `message_to_json` made."""
    values = dict(data)
    values["blocks"] = tuple(_block_from_json(b) for b in data.get("blocks", ()))
    values["card"] = tuple(_block_from_json(b) for b in data.get("card", ()))
    values["mentions"] = tuple(data.get("mentions", ()))
    return Message(**values)


def _block_to_json(block: Block) -> dict[str, Any]:
    return {"type": type(block).__name__, **asdict(block)}


def _block_from_json(data: dict[str, Any]) -> Block:
    values = {k: v for k, v in data.items() if k != "type"}
    kind = data["type"]
    if kind == "Fields":
        return Fields(pairs=tuple((str(a), str(b)) for a, b in values["pairs"]))
    if kind in ("Bullets", "Group"):
        values["items"] = tuple(values["items"])
    if kind == "Chart":
        return _chart_from_json(values)
    if kind == "StepList":
        items = tuple(StepItem(**item) for item in values["items"])
        return StepList(code=values["code"], items=items)
    return _BLOCKS[kind](**values)


def _chart_from_json(values: dict[str, Any]) -> Chart:
    panels = tuple(
        Panel(
            kind=p["kind"],
            title=p["title"],
            labels=tuple(p["labels"]),
            series=tuple(
                Series(name=s["name"], values=tuple(s["values"]), style=s["style"])
                for s in p["series"]
            ),
            unit=p["unit"],
        )
        for p in values["panels"]
    )
    return Chart(
        name=values["name"],
        title=values["title"],
        alt=values["alt"],
        panels=panels,
        note=values.get("note", ""),
    )
