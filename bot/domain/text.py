"""Cleaning text that arrives from outside before anything reads it."""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 control characters except tab and newline, the bidirectional overrides and
# isolates that can make a message read differently from what it says, and lone surrogates
# (JSON can carry them; no database or chat can store them).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MAX_COMMAND_CHARS = 25_000


def clean(text: str) -> str:
    """The text without control characters (a carriage return becomes a newline)."""
    return _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_all(data: Any) -> Any:
    """Every string in nested JSON-like data, cleaned."""
    if isinstance(data, str):
        return clean(data)
    if isinstance(data, dict):
        return {clean_all(key): clean_all(value) for key, value in data.items()}
    if isinstance(data, list):
        return [clean_all(item) for item in data]
    return data
