"""Cross-signing for the bot account: create its identity once (or take it back from the sealed
keys or the recovery key) and sign the bot's device with it, so Element clients that exclude
insecure devices share room keys with Tocsin and show its messages without a red shield."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from nio import AsyncClient

from bot.connectors.contract import Sealer
from bot.connectors.matrix import cross_signing
from bot.connectors.matrix.api import ClientApi, HomeserverError, JsonObject
from bot.connectors.matrix.cross_signing import SECRET_NAMES, USAGES, OwnKeys, public_key_of
from bot.connectors.matrix.secret_storage import (
    DEFAULT_KEY_TYPE,
    RecoveryKeyError,
    StorageKey,
    decrypt,
    encrypt,
    key_event_type,
    parse_recovery_key,
)
from bot.connectors.matrix.signed_json import SigningKey, has_valid_signature, signable, signed

log = logging.getLogger(__name__)

RECOVERY_FILE = "recovery-key.txt"


class NeedsPassword(Exception):
    """The homeserver asks for the account's password before it takes cross-signing keys."""


class Outcome(StrEnum):
    """What bootstrapping found or did."""

    CREATED = "created"  # a new identity, with a new recovery key
    HELD = "held"  # the sealed keys in the store are the account's
    RESTORED = "restored"  # taken back from secret storage with the recovery key
    NOT_HELD = "not held"  # the account has an identity whose keys Tocsin does not hold


@dataclass(frozen=True, slots=True)
class Bootstrapped:
    """The outcome, the recovery key when one was just made, and the master key."""

    outcome: Outcome
    master_key: str | None
    recovery_key: str | None = None


async def bootstrap(
    client: AsyncClient,
    store: Path,
    sealer: Sealer,
    *,
    password: str | None,
    recovery_key: str | None,
    reset: bool = False,
) -> Bootstrapped:
    """Make sure the bot's device is signed by the account's self-signing key.

    An account that already has cross-signing keys is never given new ones unless `reset`.
    Raises NeedsPassword, RecoveryKeyError, or HomeserverError."""
    api = ClientApi(client)
    user_id = str(client.user_id)
    published = await api.query_keys([user_id])
    server_master = public_key_of(published.get("master_keys", {}).get(user_id))
    if server_master is None or reset:
        keys = OwnKeys.generate()
        await _upload_identity(api, user_id, keys, password)
        storage = await _create_secret_storage(api, keys)
        cross_signing.save(store, keys, sealer)
        await sign_own_device(client, keys.self_signing)
        log.info("Matrix: created the cross-signing identity of %s", user_id)
        return Bootstrapped(Outcome.CREATED, keys.master.public, storage.recovery_key)
    held = cross_signing.load(store, sealer)
    if held is not None and held.master.public == server_master:
        outcome = Outcome.HELD
    elif recovery_key:
        held = await open_secret_storage(api, recovery_key)
        if held.master.public != server_master:
            raise RecoveryKeyError(
                "the recovery key opens keys that are no longer the account's: its identity was "
                "reset since; use the newest recovery key"
            )
        cross_signing.save(store, held, sealer)
        outcome = Outcome.RESTORED
    else:
        return Bootstrapped(Outcome.NOT_HELD, server_master)
    await sign_own_device(client, held.self_signing, published)
    return Bootstrapped(outcome, server_master)


async def sign_own_device(
    client: AsyncClient, self_signing: SigningKey, published: JsonObject | None = None
) -> None:
    """Sign the bot's device, as its own Olm account knows it, unless the server has it signed.

    Raises HomeserverError when the homeserver's copy of the device's keys is not the device's:
    signing it would vouch for keys Tocsin does not hold."""
    api = ClientApi(client)
    user_id, device_id = str(client.user_id), str(client.device_id)
    if published is None:
        published = await api.query_keys([user_id])
    device = published.get("device_keys", {}).get(user_id, {}).get(device_id)
    own = client.olm.account.identity_keys if client.olm else None
    if not isinstance(device, dict) or own is None or not _same_keys(device, device_id, own):
        raise HomeserverError(409, {"error": "the homeserver holds other keys for this device"})
    if has_valid_signature(device, user_id=user_id, public_key=self_signing.public):
        return
    body = {user_id: {device_id: signed(signable(device), user_id=user_id, key=self_signing)}}
    answer = await api.ok("POST", "/keys/signatures/upload", body)
    if answer.get("failures"):
        raise HomeserverError(400, {"error": f"signature refused: {answer['failures']}"})


async def open_secret_storage(api: ClientApi, typed: str) -> OwnKeys:
    """The cross-signing keys the recovery key opens; RecoveryKeyError when it opens none."""
    default = await api.account_data(DEFAULT_KEY_TYPE)
    key_id = default.get("key") if default else None
    if not isinstance(key_id, str):
        raise RecoveryKeyError("the account has no secret storage: run tocsin matrix bootstrap")
    storage = parse_recovery_key(key_id, typed)
    description = await api.account_data(key_event_type(key_id)) or {}
    if not storage.matches(description):
        raise RecoveryKeyError("that recovery key is not this account's: check it, or reset")
    seeds: list[SigningKey] = []
    for usage in USAGES:
        name = SECRET_NAMES[usage]
        stored = await api.account_data(name) or {}
        encrypted = stored.get("encrypted", {}).get(key_id)
        if not isinstance(encrypted, dict):
            raise RecoveryKeyError(f"secret storage holds no {name}")
        seeds.append(SigningKey.from_text(decrypt(storage.raw, name, encrypted).decode()))
    return OwnKeys(*seeds)


def write_recovery_key(store: Path, recovery_key: str) -> Path:
    """Leave a new recovery key where only the admin can read it, to be moved somewhere safe."""
    path = store / RECOVERY_FILE
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(
        "Tocsin's Matrix recovery key. Keep it in your organisation's password manager, then "
        "delete this file.\nWith it, `tocsin matrix bootstrap --recovery-key` (or "
        f"MATRIX_RECOVERY_KEY) lets a new store sign itself again.\n\n{recovery_key}\n"
    )
    return path


async def _upload_identity(
    api: ClientApi, user_id: str, keys: OwnKeys, password: str | None
) -> None:
    """Publish the keys, answering the homeserver's password question when it asks one."""
    body = keys.upload_body(user_id)
    status, answer = await api.call("POST", "/keys/device_signing/upload", body)
    if status == 200:
        return
    if status != 401 or "flows" not in answer:
        raise HomeserverError(status, answer)
    if password is None:
        raise NeedsPassword
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user_id},
        "password": password,
        "session": answer.get("session"),
    }
    status, answer = await api.call("POST", "/keys/device_signing/upload", {**body, "auth": auth})
    if status == 401:
        raise NeedsPassword
    if status != 200:
        raise HomeserverError(status, answer)


async def _create_secret_storage(api: ClientApi, keys: OwnKeys) -> StorageKey:
    """A new secret storage key, made the default, holding the three private keys."""
    storage = StorageKey.generate()
    await api.set_account_data(key_event_type(storage.key_id), storage.description())
    for usage, key in keys.by_usage().items():
        name = SECRET_NAMES[usage]
        content = {"encrypted": {storage.key_id: encrypt(storage.raw, name, key.text.encode())}}
        await api.set_account_data(name, content)
    await api.set_account_data(DEFAULT_KEY_TYPE, {"key": storage.key_id})
    return storage


def _same_keys(device: JsonObject, device_id: str, own: dict[str, str]) -> bool:
    keys = device.get("keys", {})
    same_signing = keys.get(f"ed25519:{device_id}") == own.get("ed25519")
    same_identity = keys.get(f"curve25519:{device_id}") == own.get("curve25519")
    return bool(same_signing and same_identity)
