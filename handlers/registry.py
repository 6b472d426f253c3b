"""Which handler runs each form of command: a handler says so itself, with `@handles(Form)`."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, TypeVar

from bot.domain.commands.forms import ParsedCommand
from bot.domain.commands.request import Command
from bot.domain.messages import Message
from handlers.context import Services

Form = TypeVar("Form")
Handler = Callable[[Form, Command, Services], Message]
_HANDLERS: dict[type[Any], Handler[Any]] = {}


def handles(form: type[Form]) -> Callable[[Handler[Form]], Handler[Form]]:
    """Register the decorated function as what runs commands parsed into `form`."""

    def register(handler: Handler[Form]) -> Handler[Form]:
        if form in _HANDLERS:
            raise RuntimeError(f"{form.__name__} has two handlers")
        _HANDLERS[form] = handler
        return handler

    return register


def handler_for(command: ParsedCommand) -> Handler[Any]:
    """The handler of the command's form."""
    return _HANDLERS[type(command)]


def unhandled() -> list[str]:
    """The forms of the grammar no handler runs (none, once every handler module is loaded)."""
    forms = typing.get_args(ParsedCommand)
    return sorted(form.__name__ for form in forms if form not in _HANDLERS)
