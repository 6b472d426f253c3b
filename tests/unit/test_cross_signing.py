"""Cross-signing without a homeserver: signed JSON, secret storage, members' identities, trust."""

from __future__ import annotations

import pytest

from bot.connectors.matrix.cross_signing import OwnKeys, key_object, public_key_of
from bot.connectors.matrix.identities import identity_state, published_identity
from bot.connectors.matrix.policy import (
    DeviceFacts,
    DeviceTrust,
    Identity,
    TrustKind,
    device_trust,
)
from bot.connectors.matrix.secret_storage import (
    RecoveryKeyError,
    StorageKey,
    decrypt,
    encrypt,
    parse_recovery_key,
)
from bot.connectors.matrix.signed_json import (
    SigningKey,
    canonical_json,
    has_valid_signature,
    signed,
)

ANA = "@ana:example.org"


def test_canonical_json_sorts_keys_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": "défenseure"}) == '{"a":"défenseure","b":1}'.encode()


def test_a_signature_covers_the_object_but_not_its_signatures_or_unsigned() -> None:
    key = SigningKey.generate()
    obj = signed({"user_id": ANA, "keys": {"x": "y"}}, user_id=ANA, key=key)
    assert has_valid_signature(obj, user_id=ANA, public_key=key.public)
    assert has_valid_signature({**obj, "unsigned": {"note": 1}}, user_id=ANA, public_key=key.public)
    assert not has_valid_signature({**obj, "keys": {"x": "z"}}, user_id=ANA, public_key=key.public)
    other = SigningKey.generate()
    assert not has_valid_signature(obj, user_id=ANA, public_key=other.public)


def test_the_recovery_key_reads_back_and_a_typo_is_refused() -> None:
    storage = StorageKey.generate()
    typed = storage.recovery_key
    assert len(typed.split()) == 12 and typed.startswith("E")  # Element's keys start "Es"
    assert parse_recovery_key(storage.key_id, typed).raw == storage.raw
    assert parse_recovery_key(storage.key_id, typed.replace(" ", "")).raw == storage.raw
    broken = typed[:-1] + ("a" if typed[-1] != "a" else "b")
    with pytest.raises(RecoveryKeyError):
        parse_recovery_key(storage.key_id, broken)
    with pytest.raises(RecoveryKeyError):
        parse_recovery_key(storage.key_id, typed[:20])


def test_secrets_open_only_with_their_key_and_name() -> None:
    storage = StorageKey.generate()
    sealed = encrypt(storage.raw, "m.cross_signing.master", b"seed-text")
    assert decrypt(storage.raw, "m.cross_signing.master", sealed) == b"seed-text"
    with pytest.raises(RecoveryKeyError):
        decrypt(storage.raw, "m.cross_signing.self_signing", sealed)
    with pytest.raises(RecoveryKeyError):
        decrypt(StorageKey.generate().raw, "m.cross_signing.master", sealed)
    assert storage.matches(storage.description())
    assert not StorageKey.generate().matches(storage.description())


def _published(owner: OwnKeys, devices: dict[str, SigningKey], *, signer: SigningKey) -> dict:
    body = owner.upload_body(ANA)
    device_keys = {
        device_id: signed(
            {
                "user_id": ANA,
                "device_id": device_id,
                "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
                "keys": {f"ed25519:{device_id}": key.public},
            },
            user_id=ANA,
            key=signer,
        )
        for device_id, key in devices.items()
    }
    return {
        "master_keys": {ANA: body["master_key"]},
        "self_signing_keys": {ANA: body["self_signing_key"]},
        "device_keys": {ANA: device_keys},
    }


def test_a_device_counts_as_signed_only_through_the_chain_of_signatures() -> None:
    owner = OwnKeys.generate()
    phone = SigningKey.generate()
    answer = _published(owner, {"PHONE": phone}, signer=owner.self_signing)
    identity = published_identity(ANA, answer)
    assert identity is not None and identity.master == owner.master.public
    assert identity.signs("PHONE", phone.public)
    assert not identity.signs("PHONE", SigningKey.generate().public)  # same ID, other key

    forged = _published(owner, {"PHONE": phone}, signer=SigningKey.generate())
    assert not published_identity(ANA, forged).signs("PHONE", phone.public)  # type: ignore[union-attr]

    unsigned_ssk = dict(answer)
    unsigned_ssk["self_signing_keys"] = {ANA: key_object(ANA, "self_signing", owner.self_signing)}
    assert not published_identity(ANA, unsigned_ssk).signs("PHONE", phone.public)  # type: ignore[union-attr]
    assert published_identity(ANA, {"device_keys": answer["device_keys"]}) is None


def test_public_key_of_refuses_an_object_whose_id_is_not_its_key() -> None:
    key = SigningKey.generate()
    assert public_key_of(key_object(ANA, "master", key)) == key.public
    assert public_key_of({"keys": {"ed25519:other": key.public}}) is None


@pytest.mark.parametrize(
    ("pinned", "verified", "published", "expected"),
    [
        (None, False, None, Identity.NONE),
        (None, False, "M1", Identity.PINNED),
        ("M1", False, "M1", Identity.PINNED),
        ("M1", True, "M1", Identity.VERIFIED),
        ("M1", True, "M2", Identity.CHANGED),
        ("M1", False, None, Identity.CHANGED),  # hiding the identity is no way back to first use
    ],
)
def test_identity_state(
    pinned: str | None, verified: bool, published: str | None, expected: Identity
) -> None:
    assert identity_state(pinned, verified, published) is expected


def _facts(**changes: object) -> DeviceFacts:
    values: dict[str, object] = {"user_allowed": True, "verified": False, "blocked": False}
    return DeviceFacts(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "require", "trust", "kind"),
    [
        (
            _facts(identity=Identity.PINNED, signed_by_owner=True),
            False,
            DeviceTrust.TRUSTED,
            TrustKind.CROSS_SIGNED,
        ),
        (
            _facts(identity=Identity.PINNED, signed_by_owner=False),
            False,
            DeviceTrust.AWAITING,
            None,
        ),
        (_facts(identity=Identity.PINNED, signed_by_owner=True), True, DeviceTrust.AWAITING, None),
        (
            _facts(identity=Identity.VERIFIED, signed_by_owner=True),
            True,
            DeviceTrust.TRUSTED,
            TrustKind.VERIFIED,
        ),
        (
            _facts(identity=Identity.CHANGED, signed_by_owner=True),
            False,
            DeviceTrust.AWAITING,
            None,
        ),
        (_facts(identity=Identity.CHANGED, verified=True), False, DeviceTrust.AWAITING, None),
        (_facts(), False, DeviceTrust.TRUSTED, TrustKind.FIRST_USE),
        (_facts(), True, DeviceTrust.AWAITING, None),
        (_facts(verified=True), True, DeviceTrust.TRUSTED, TrustKind.VERIFIED),
        (
            _facts(identity=Identity.PINNED, signed_by_owner=True, blocked=True),
            False,
            DeviceTrust.BLOCKED,
            None,
        ),
    ],
)
def test_trust_follows_cross_signing_where_the_owner_has_it(
    facts: DeviceFacts, require: bool, trust: DeviceTrust, kind: TrustKind | None
) -> None:
    verdict = device_trust(facts, require_verification=require)
    assert (verdict.trust, verdict.kind) == (trust, kind)
    if trust is not DeviceTrust.TRUSTED:
        assert verdict.reason  # `!ua devices` says why
