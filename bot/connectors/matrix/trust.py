"""Trust decisions made by hand (`!ua devices trust|block`, `tocsin matrix-trust`), kept in the
store beside the keys, and re-read when another process (the CLI) changes them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "device-trust.json"


def same_fingerprint(given: str, key: str) -> bool:
    """Whether a key as typed (spaces anywhere, as apps show it) is the device's key."""
    return "".join(given.split()) == key


@dataclass
class ManualTrust:
    """Devices verified by a person (with the key they compared) and devices blocked."""

    path: Path
    trusted: dict[tuple[str, str], str] = field(default_factory=dict)
    blocked: set[tuple[str, str]] = field(default_factory=set)
    _read_at: int = 0

    @classmethod
    def load(cls, store: Path) -> ManualTrust:
        """The decisions saved in `store`, none when there is no file yet."""
        manual = cls(store / FILE_NAME)
        manual.reload_if_changed()
        return manual

    def reload_if_changed(self) -> None:
        """Pick up a change another process saved."""
        if not self.path.exists() or self.path.stat().st_mtime_ns == self._read_at:
            return
        self._read_at = self.path.stat().st_mtime_ns
        saved = json.loads(self.path.read_text())
        self.trusted = {(u, d): key for u, d, key in saved.get("trusted", [])}
        self.blocked = {(u, d) for u, d in saved.get("blocked", [])}

    def is_trusted(self, user_id: str, device_id: str, key: str) -> bool:
        """Verified by hand, and still with the key that was compared then."""
        return self.trusted.get((user_id, device_id)) == key

    def is_blocked(self, user_id: str, device_id: str) -> bool:
        """Blocked by hand."""
        return (user_id, device_id) in self.blocked

    def trust(self, user_id: str, device_id: str, key: str) -> None:
        """Let the device receive keys, even when verification is required."""
        self.reload_if_changed()
        self.blocked.discard((user_id, device_id))
        self.trusted[(user_id, device_id)] = key
        self._save()

    def block(self, user_id: str, device_id: str) -> None:
        """Never give the device keys again (a lost phone, a departed volunteer)."""
        self.reload_if_changed()
        self.trusted.pop((user_id, device_id), None)
        self.blocked.add((user_id, device_id))
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(
                {
                    "trusted": sorted([u, d, k] for (u, d), k in self.trusted.items()),
                    "blocked": sorted([u, d] for u, d in self.blocked),
                },
                out,
            )
        temporary.replace(self.path)
        self._read_at = self.path.stat().st_mtime_ns
