"""Trust decisions made by hand (`!ua devices trust|block|accept`, `tocsin matrix ...`) and the
members' pinned cross-signing identities, kept in the store beside the keys. The bot and the
CLI both change them: each change holds a lock, and the bot re-reads the file before every
encryption."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "device-trust.json"
LOCK_NAME = "device-trust.lock"


def same_fingerprint(given: str, key: str) -> bool:
    """Whether a key as typed (spaces anywhere, as apps show it) is the device's key."""
    return "".join(given.split()) == key


@dataclass
class ManualTrust:
    """Devices verified by a person (with the key they compared), devices blocked, and each
    member's pinned master key (with whether it was verified, not merely first seen)."""

    path: Path
    trusted: dict[tuple[str, str], str] = field(default_factory=dict)
    blocked: set[tuple[str, str]] = field(default_factory=set)
    identities: dict[str, tuple[str, bool]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Path) -> ManualTrust:
        """The decisions saved in `store`, none when there is no file yet."""
        manual = cls(store / FILE_NAME)
        manual.reload()
        return manual

    def reload(self) -> None:
        """Read the decisions as saved now (the file is small: a few lines a device)."""
        if not self.path.exists():
            return
        saved = json.loads(self.path.read_text())
        self.trusted = {(u, d): key for u, d, key in saved.get("trusted", [])}
        self.blocked = {(u, d) for u, d in saved.get("blocked", [])}
        self.identities = {u: (key, bool(v)) for u, key, v in saved.get("identities", [])}

    def is_trusted(self, user_id: str, device_id: str, key: str) -> bool:
        """Verified by hand, and still with the key that was compared then."""
        return self.trusted.get((user_id, device_id)) == key

    def is_blocked(self, user_id: str, device_id: str) -> bool:
        """Blocked by hand."""
        return (user_id, device_id) in self.blocked

    def trust(self, user_id: str, device_id: str, key: str) -> None:
        """Let the device receive keys, even when verification is required."""
        with self._locked():
            self.blocked.discard((user_id, device_id))
            self.trusted[(user_id, device_id)] = key
            self._save()

    def block(self, user_id: str, device_id: str) -> None:
        """Never give the device keys again (a lost phone, a departed volunteer)."""
        with self._locked():
            self.trusted.pop((user_id, device_id), None)
            self.blocked.add((user_id, device_id))
            self._save()

    def pinned(self, user_id: str) -> tuple[str, bool] | None:
        """The member's pinned master key and whether it was verified, if one is pinned."""
        return self.identities.get(user_id)

    def pin_first_seen(self, user_id: str, master: str) -> None:
        """Pin the first master key seen for a member (never replacing one already pinned)."""
        with self._locked():
            if user_id not in self.identities:
                self.identities[user_id] = (master, False)
                self._save()

    def accept_identity(self, user_id: str, master: str, *, verified: bool) -> None:
        """Pin this master key for the member: an admin accepted it, or it was verified."""
        with self._locked():
            old = self.identities.get(user_id)
            keep_verified = old is not None and old[0] == master and old[1]
            self.identities[user_id] = (master, verified or keep_verified)
            self._save()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Read, change and write under one lock, so no process overwrites another's decision."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(self.path.parent / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            self.reload()
            yield
        finally:
            os.close(descriptor)

    def _save(self) -> None:
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".device-trust-")
        with os.fdopen(descriptor, "w") as out:
            json.dump(
                {
                    "trusted": sorted([u, d, k] for (u, d), k in self.trusted.items()),
                    "blocked": sorted([u, d] for u, d in self.blocked),
                    "identities": sorted([u, k, v] for u, (k, v) in self.identities.items()),
                },
                out,
            )
        os.replace(temporary, self.path)
