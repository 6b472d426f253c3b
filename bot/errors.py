"""Errors every entry point reports the same way: one line (exit status 2 at the command line)."""

from __future__ import annotations


class InputError(ValueError):
    """A file or argument given on the command line is unreadable, too large or malformed."""


class StartupError(RuntimeError):
    """Tocsin cannot start; the message says what to do."""


class Unavailable(RuntimeError):
    """The database is briefly unavailable (a lock held, a server restarting): nothing was
    stored, and the same request may be sent again shortly."""
