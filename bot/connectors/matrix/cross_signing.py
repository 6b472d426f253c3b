"""The bot account's own cross-signing identity: its three keys, sealed in the store under
TOCSIN_DATA_KEY, and the key objects the homeserver publishes for them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bot.connectors.contract import Sealer
from bot.connectors.matrix.signed_json import JsonObject, SigningKey, signed

FILE_NAME = "cross-signing.sealed"
USAGES = ("master", "self_signing", "user_signing")
# Element keeps each private key in secret storage under these names.
SECRET_NAMES = {usage: f"m.cross_signing.{usage}" for usage in USAGES}


@dataclass(frozen=True, slots=True)
class OwnKeys:
    """The account's master key and the two keys it signs."""

    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def generate(cls) -> OwnKeys:
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    def by_usage(self) -> dict[str, SigningKey]:
        return {
            "master": self.master,
            "self_signing": self.self_signing,
            "user_signing": self.user_signing,
        }

    def upload_body(self, user_id: str) -> JsonObject:
        """The body of `keys/device_signing/upload`: the master key, and the other two signed
        by it."""
        master = key_object(user_id, "master", self.master)
        return {
            "master_key": master,
            "self_signing_key": signed(
                key_object(user_id, "self_signing", self.self_signing),
                user_id=user_id,
                key=self.master,
            ),
            "user_signing_key": signed(
                key_object(user_id, "user_signing", self.user_signing),
                user_id=user_id,
                key=self.master,
            ),
        }


def key_object(user_id: str, usage: str, key: SigningKey) -> JsonObject:
    """A cross-signing key as the homeserver publishes it (without signatures)."""
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{key.public}": key.public}}


def public_key_of(obj: JsonObject | None) -> str | None:
    """The one Ed25519 public key of a published cross-signing key object."""
    if not isinstance(obj, dict):
        return None
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    (key_id, value), *_ = keys.items()
    if not isinstance(value, str) or key_id != f"ed25519:{value}":
        return None
    return value


def save(store: Path, keys: OwnKeys, sealer: Sealer) -> None:
    """Seal the private keys into the store, readable by this user only."""
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps({usage: key.text for usage, key in keys.by_usage().items()})
    path = store / FILE_NAME
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(sealer.seal(text))
    temporary.replace(path)


def load(store: Path, sealer: Sealer) -> OwnKeys | None:
    """The sealed keys in the store, None when it holds none."""
    path = store / FILE_NAME
    if not path.exists():
        return None
    saved = json.loads(sealer.open(path.read_text()))
    return OwnKeys(*(SigningKey.from_text(saved[usage]) for usage in USAGES))
