"""Ed25519 keys and signed JSON as Matrix defines them: canonical JSON, unpadded base64."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

JsonObject = dict[str, Any]


def encode(data: bytes) -> str:
    """Unpadded standard base64, as Matrix writes keys and signatures."""
    return base64.b64encode(data).decode().rstrip("=")


def decode(text: str) -> bytes:
    """Base64 with or without padding; ValueError when it is not base64."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, TypeError):
        raise ValueError("not base64") from None


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that every Matrix client signs and hashes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 private key, kept as its 32-byte seed (what secret storage holds)."""

    seed: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_text(cls, text: str) -> SigningKey:
        """The key from its unpadded base64 seed; ValueError when it is not one."""
        seed = decode(text)
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(seed)

    @property
    def text(self) -> str:
        """The seed in unpadded base64: the secret as Element stores it."""
        return encode(self.seed)

    @property
    def public(self) -> str:
        """The public key in unpadded base64, which is also the key's ID after `ed25519:`."""
        raw = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return encode(raw)

    def sign(self, message: bytes) -> str:
        return encode(Ed25519PrivateKey.from_private_bytes(self.seed).sign(message))


def signable(obj: JsonObject) -> JsonObject:
    """What a signature covers: the object without `signatures` and `unsigned`."""
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


def signature_of(obj: JsonObject, key: SigningKey) -> str:
    """The signature of `key` over the object."""
    return key.sign(canonical_json(signable(obj)))


def signed(obj: JsonObject, *, user_id: str, key: SigningKey) -> JsonObject:
    """The object with `key`'s signature added beside any it already has."""
    signatures = {u: dict(s) for u, s in obj.get("signatures", {}).items()}
    signatures.setdefault(user_id, {})[f"ed25519:{key.public}"] = signature_of(obj, key)
    return {**obj, "signatures": signatures}


def has_valid_signature(obj: JsonObject, *, user_id: str, public_key: str) -> bool:
    """Whether `public_key` (of `user_id`) signed the object as it stands."""
    signature = obj.get("signatures", {}).get(user_id, {}).get(f"ed25519:{public_key}")
    if not isinstance(signature, str):
        return False
    try:
        verifier = Ed25519PublicKey.from_public_bytes(decode(public_key))
        verifier.verify(decode(signature), canonical_json(signable(obj)))
    except (ValueError, InvalidSignature):
        return False
    return True
