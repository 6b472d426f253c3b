"""Which device the command being handled came from, for every audit event it writes: set once
where a command enters the handlers, so no handler has to pass it along."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.domain.commands.request import Origin

_acting_from: ContextVar[Origin | None] = ContextVar("acting_from", default=None)


@contextmanager
def acting_from(origin: Origin | None) -> Iterator[None]:
    """Record `origin` with every audit event written inside the block."""
    token = _acting_from.set(origin)
    try:
        yield
    finally:
        _acting_from.reset(token)


def acting_device() -> tuple[str | None, str | None]:
    """The device and its trust for the audit event being written (None, None: no device)."""
    origin = _acting_from.get()
    return (origin.device, origin.trust) if origin else (None, None)
