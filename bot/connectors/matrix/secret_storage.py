"""Matrix secret storage (`m.secret_storage.v1.aes-hmac-sha2`) and its recovery key, as Element
reads them: the bot's cross-signing keys sealed in its account data, opened with the key the
admin keeps."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
DEFAULT_KEY_TYPE = "m.secret_storage.default_key"
RECOVERY_PREFIX = bytes([0x8B, 0x01])
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class RecoveryKeyError(ValueError):
    """A recovery key mistyped, or not this account's."""


def key_event_type(key_id: str) -> str:
    """The account data type that describes one secret storage key."""
    return f"m.secret_storage.key.{key_id}"


@dataclass(frozen=True, slots=True)
class StorageKey:
    """A secret storage key: 32 random bytes and the ID they are known by."""

    key_id: str
    raw: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> StorageKey:
        return cls(secrets.token_urlsafe(24), secrets.token_bytes(32))

    @property
    def recovery_key(self) -> str:
        """The key as Element shows and asks for it: base58 in groups of four."""
        data = RECOVERY_PREFIX + self.raw
        parity = 0
        for byte in data:
            parity ^= byte
        text = _base58(data + bytes([parity]))
        return " ".join(text[i : i + 4] for i in range(0, len(text), 4))

    def description(self) -> dict[str, Any]:
        """The key's account data: its algorithm, with a MAC that lets a typed key be checked."""
        check = encrypt(self.raw, "", bytes(32))
        return {"algorithm": ALGORITHM, "iv": check["iv"], "mac": check["mac"]}

    def matches(self, description: dict[str, Any]) -> bool:
        """Whether this key is the one the account data describes."""
        if description.get("algorithm") != ALGORITHM:
            return False
        try:
            iv = _unb64(str(description["iv"]))
            expected = _unb64(str(description["mac"]))
        except (KeyError, ValueError):
            return False
        return hmac.compare_digest(_encrypt_with_iv(self.raw, "", bytes(32), iv)[1], expected)


def parse_recovery_key(key_id: str, typed: str) -> StorageKey:
    """The storage key a recovery key stands for; RecoveryKeyError when mistyped."""
    try:
        data = _unbase58("".join(typed.split()))
    except ValueError:
        raise RecoveryKeyError("that recovery key has a character it cannot have") from None
    parity = 0
    for byte in data:
        parity ^= byte
    if len(data) != 35 or data[:2] != RECOVERY_PREFIX or parity != 0:
        raise RecoveryKeyError("that is not a whole recovery key: copy all 12 groups again")
    return StorageKey(key_id, data[2:34])


def encrypt(key: bytes, name: str, plaintext: bytes) -> dict[str, str]:
    """A secret encrypted for account data under `key`, bound to its `name`."""
    iv = bytearray(secrets.token_bytes(16))
    iv[8] &= 0x7F  # the spec clears bit 63, so the AES-CTR counter never wraps
    ciphertext, mac = _encrypt_with_iv(key, name, plaintext, bytes(iv))
    return {"iv": _b64(bytes(iv)), "ciphertext": _b64(ciphertext), "mac": _b64(mac)}


def decrypt(key: bytes, name: str, encrypted: dict[str, Any]) -> bytes:
    """The secret; RecoveryKeyError when the MAC shows another key (or a changed secret)."""
    try:
        iv = _unb64(str(encrypted["iv"]))
        ciphertext = _unb64(str(encrypted["ciphertext"]))
        mac = _unb64(str(encrypted["mac"]))
    except (KeyError, ValueError):
        raise RecoveryKeyError(f"the stored secret {name} is malformed") from None
    aes_key, mac_key = _derive(key, name)
    if not hmac.compare_digest(hmac.new(mac_key, ciphertext, hashlib.sha256).digest(), mac):
        raise RecoveryKeyError(f"the recovery key does not open {name}")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def _encrypt_with_iv(key: bytes, name: str, plaintext: bytes, iv: bytes) -> tuple[bytes, bytes]:
    aes_key, mac_key = _derive(key, name)
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext, hmac.new(mac_key, ciphertext, hashlib.sha256).digest()


def _derive(key: bytes, name: str) -> tuple[bytes, bytes]:
    derived = HKDF(hashes.SHA256(), 64, salt=bytes(32), info=name.encode()).derive(key)
    return derived[:32], derived[32:]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, remainder = divmod(number, 58)
        digits = BASE58[remainder] + digits
    leading = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading + digits


def _unbase58(text: str) -> bytes:
    number = 0
    for char in text:
        index = BASE58.find(char)
        if index < 0:
            raise ValueError(char)
        number = number * 58 + index
    leading = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading + body
