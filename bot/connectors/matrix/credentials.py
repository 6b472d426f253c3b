"""The bot's Matrix device, kept across restarts so a restart never creates a new device."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "credentials.json"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access token bound to one device of one user."""

    user_id: str
    device_id: str
    access_token: str


def load(store: Path, user_id: str) -> Credentials | None:
    """The device saved for `user_id` by an earlier password login, if any."""
    path = store / FILE_NAME
    if not path.exists():
        return None
    saved = Credentials(**json.loads(path.read_text()))
    return saved if saved.user_id == user_id else None


def save(store: Path, credentials: Credentials) -> None:
    """Keep the credentials, readable by this user only (the token is a password)."""
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = store / FILE_NAME
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(asdict(credentials), out)
    temporary.replace(path)


def load_sync_token(store: Path) -> str | None:
    """The sync position after the last fully handled batch of events."""
    path = store / "sync-token"
    return path.read_text().strip() or None if path.exists() else None


def save_sync_token(store: Path, token: str) -> None:
    """Move the sync position on, atomically."""
    path = store / "sync-token"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(token)
    temporary.replace(path)
