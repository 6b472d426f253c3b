"""Read a YAML data file into a pydantic model; every error names the file and the line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[int | str, ...]


# libyaml's parser when PyYAML has it (its wheels do): the world's files load 5x faster.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 booleans: only true/false, so Norway's code NO stays "NO"."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), [_first]
    )


class DataFileError(ValueError):
    """A data file is unreadable or invalid; the message is `file:line: field: problem`."""


@dataclass(frozen=True)
class DataFile(Generic[M]):
    """A validated model and where each of its parts stands in the file, for later checks."""

    path: Path
    model: M
    lines: dict[Loc, int]

    def error(self, loc: Loc, message: str) -> DataFileError:
        """An error about the part at `loc` (keys and list positions), naming file and line."""
        return _located(self.path, self.lines, loc, message)


def _located(path: Path, lines: dict[Loc, int], loc: Loc, message: str) -> DataFileError:
    field = ".".join(str(part) for part in loc) or "(top level)"
    return DataFileError(f"{path}:{_line_of(loc, lines)}: {field}: {message}")


def load_model(path: Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Parse `path` and validate it as `model`."""
    return load_data_file(path, model, context).model


def load_data_file(
    path: Path, model: type[M], context: dict[str, Any] | None = None
) -> DataFile[M]:
    """Parse `path`, validate it as `model`, and keep the line of every part."""
    text = _read(path)
    try:
        node, data = _parse(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(error, "problem", None) or error
        raise DataFileError(f"{path}:{line}: not valid YAML ({problem})") from None
    lines = _line_index(node) if node is not None else {}
    try:
        return DataFile(path, model.model_validate(data, context=context), lines)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            accepted = _fields_at(model, tuple(problem["loc"])[:-1])
            message = "is not a known field here" + (f"; accepted: {accepted}" if accepted else "")
        raise _located(path, lines, tuple(problem["loc"]), message) from None


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse."""
    loader = _Yaml12Loader(text)
    try:
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def _fields_at(model: type[BaseModel], loc: Loc) -> str:
    """The field names of the model found at `loc` inside `model`, for an unknown-field error."""
    current: Any = model
    for part in loc:
        if isinstance(part, str) and _is_model(current):
            current = (
                current.model_fields[part].annotation if part in current.model_fields else None
            )
        current = _inner_model(current)
        if current is None:
            return ""
    return ", ".join(current.model_fields) if _is_model(current) else ""


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _inner_model(annotation: Any) -> Any:
    """The model inside Optional[...], tuple[..., ...], list[...] or the annotation itself."""
    if _is_model(annotation):
        return annotation
    for argument in get_args(annotation):
        found = _inner_model(argument)
        if found is not None:
            return found
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataFileError(f"{path}: cannot be read ({error.strerror})") from None


def _line_index(node: yaml.Node, path: Loc = ()) -> dict[Loc, int]:
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


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1
