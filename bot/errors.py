"""Errors every entry point reports the same way: one line, exit status 2."""

from __future__ import annotations


class InputError(ValueError):
    """A file or argument given on the command line is unreadable, too large or malformed."""
