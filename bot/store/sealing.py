"""Encryption at rest of the fields that identify a defender or tell their story.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under the keys in TOCSIN_DATA_KEY: the
first seals, every one opens, so keys can be rotated (`tocsin keys rotate`). Values written before
encryption was introduced are read as they are and sealed by the next `tocsin migrate`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Every Fernet token begins with its version byte 0x80, which base64 writes as "gAAAAA".
TOKEN_PREFIX = "gAAAAA"


class DataKeyError(ValueError):
    """The data key is missing, malformed, or cannot open what is stored."""


class Keyring:
    """The organisation's data keys: the first seals, all of them open."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise DataKeyError("no data key")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except (ValueError, TypeError):
            raise DataKeyError(
                "a key is not a Fernet key (44 characters of URL-safe base64): make one with "
                "'tocsin keys new'"
            ) from None

    def seal(self, text: str) -> str:
        """The text, encrypted under the first key."""
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        """The text of a sealed value; a value from before encryption is returned as it is."""
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise DataKeyError(
                "TOCSIN_DATA_KEY cannot open the stored data: the key is wrong, or an older key "
                "is missing from the list"
            ) from None

    def reseal(self, stored: str) -> str:
        """The value sealed under the first key (rotating a token, or sealing plain text)."""
        if not is_sealed(stored):
            return self.seal(stored)
        try:
            return self._fernet.rotate(stored.encode()).decode()
        except InvalidToken:
            raise DataKeyError(
                "TOCSIN_DATA_KEY cannot open the stored data: keep the old key in the list "
                "(new,old) while rotating"
            ) from None


def is_sealed(stored: str) -> bool:
    """Whether a stored value is a Fernet token rather than text from before encryption."""
    return stored.startswith(TOKEN_PREFIX)


def generate_key() -> str:
    """A new random data key."""
    return Fernet.generate_key().decode()


_keyring: Keyring | None = None


def use_keys(keys: Sequence[str]) -> None:
    """Set the keys this process seals and opens with (at start-up, from TOCSIN_DATA_KEY)."""
    global _keyring
    _keyring = Keyring(keys)


def has_keys() -> bool:
    """Whether keys were set in this process."""
    return _keyring is not None


def keyring() -> Keyring:
    """The keys in use; DataKeyError when none were set, so nothing is ever written in clear."""
    if _keyring is None:
        raise DataKeyError("no TOCSIN_DATA_KEY is in use: nothing sensitive can be read or written")
    return _keyring


class SealedText(TypeDecorator[str]):
    """Text stored encrypted; reads give the text back."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else keyring().open(str(value))


class SealedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object stored encrypted (an audit event's details, which may quote notes)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().seal(json.dumps(value, ensure_ascii=False))

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        if isinstance(value, dict):  # a JSON column read before the migration to text
            return value
        return dict(json.loads(keyring().open(str(value))))
