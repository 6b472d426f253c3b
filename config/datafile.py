"""Read a YAML data file into a pydantic model; every error names the file and the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DataFileError(ValueError):
    """A data file is unreadable or invalid; the message is `file:line: field: problem`."""


def load_model(path: Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Parse `path` and validate it as `model`."""
    text = _read(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise DataFileError(
            f"{path}:{line}: not valid YAML ({getattr(error, 'problem', error)})"
        ) from None
    lines = _line_index(node) if node is not None else {}
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        loc = tuple(problem["loc"])
        field = ".".join(str(part) for part in loc) or "(top level)"
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "is not a known field here"
        raise DataFileError(f"{path}:{_line_of(loc, lines)}: {field}: {message}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataFileError(f"{path}: cannot be read ({error.strerror})") from None


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """The 1-based line where each path of keys and list positions starts."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            lines.update(_line_index(value_node, child))
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, position)))
    return lines


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    normalised = tuple(str(part) if not isinstance(part, int) else part for part in loc)
    for end in range(len(normalised), -1, -1):
        if normalised[:end] in lines:
            return lines[normalised[:end]]
    return 1
