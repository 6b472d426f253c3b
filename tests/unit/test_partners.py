"""Partner intake's pure rules: signatures that never crash, a secret that never shows, and the
answer's shape."""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from bot.connectors.webhook.openapi import AlertAccepted
from bot.domain.partners import Accepted, PartnerAccess, signature, signature_problem

SECRET = "fictional-partner-secret-for-tests-only"
BODY = b'{"country": "HN"}'


def problem(timestamp: str, given: str) -> str | None:
    return signature_problem(
        secret=SECRET, timestamp=timestamp, given=given, body=BODY, now=time.time()
    )


def test_a_good_signature_holds() -> None:
    stamp = str(int(time.time()))
    assert problem(stamp, signature(SECRET, stamp, BODY)) is None


@pytest.mark.parametrize("given", ["v1=é", "v1=" + "€" * 64, "v1=\udcff"])
def test_a_signature_that_is_not_ascii_does_not_match(given: str) -> None:
    stamp = str(int(time.time()))
    assert "does not match" in (problem(stamp, given) or "")


@pytest.mark.parametrize("digits", [13, 400, 4301, 10_000])
def test_a_timestamp_of_too_many_digits_is_not_unix_seconds(digits: int) -> None:
    assert problem("1" * digits, "v1=00") == "X-Tocsin-Timestamp must be Unix seconds"


def test_a_partners_repr_never_shows_its_secret() -> None:
    partner = PartnerAccess(
        name="forms",
        secret=SECRET,
        destinations=("slack:C1",),
        rate_per_minute=60,
        revoked=False,
    )
    assert SECRET not in repr(partner) and "forms" in repr(partner)


def test_the_answer_has_the_documented_fields() -> None:
    accepted = Accepted(code="UA-2026-0042", status="opened", destinations=["slack:C1"])
    assert AlertAccepted.model_validate(asdict(accepted)).model_dump() == asdict(accepted)
