"""The trust decisions an admin made by hand (`!ua devices trust|block`), kept in the store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "device-trust.json"


@dataclass
class ManualTrust:
    """Devices verified or blocked by an allow-listed user, as `user_id device_id` pairs."""

    path: Path
    trusted: set[tuple[str, str]] = field(default_factory=set)
    blocked: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def load(cls, store: Path) -> ManualTrust:
        """The decisions saved in `store`, none when there is no file yet."""
        path = store / FILE_NAME
        if not path.exists():
            return cls(path)
        saved = json.loads(path.read_text())
        return cls(
            path,
            trusted={(u, d) for u, d in saved.get("trusted", [])},
            blocked={(u, d) for u, d in saved.get("blocked", [])},
        )

    def trust(self, user_id: str, device_id: str) -> None:
        """Let the device receive keys, even when verification is required."""
        self.blocked.discard((user_id, device_id))
        self.trusted.add((user_id, device_id))
        self._save()

    def block(self, user_id: str, device_id: str) -> None:
        """Never give the device keys again (a lost phone, a departed volunteer)."""
        self.trusted.discard((user_id, device_id))
        self.blocked.add((user_id, device_id))
        self._save()

    def _save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"trusted": sorted(self.trusted), "blocked": sorted(self.blocked)})
        )
        temporary.replace(self.path)
