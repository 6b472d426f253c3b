"""Partner intake's rules: request signatures, the time window, names and the rate limit.

The signature is Slack's scheme, so partners find libraries for it: `v1=` and the hex
HMAC-SHA256 of `v1:{timestamp}:{raw body}` under the partner's own secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import deque
from dataclasses import dataclass, field

from bot.domain.alert import AlertError

VERSION = "v1"
WINDOW_S = 300  # a signed request is good for five minutes either side of now
MAX_BODY_BYTES = 64 * 1024
# Unix seconds have 10 digits until the year 2286; a longer "timestamp" is not one.
MAX_TIMESTAMP_DIGITS = 12
DEFAULT_RATE_PER_MINUTE = 60
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TOO_DEEP = "the body is nested too deeply for an alert: send it as /v1/openapi.json describes"


@dataclass(frozen=True, slots=True)
class PartnerAccess:
    """What a request from a partner is checked against."""

    name: str
    secret: str = field(repr=False)  # never in a log line or a traceback's locals
    destinations: tuple[str, ...]
    rate_per_minute: int
    revoked: bool


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the partner is told: the case, whether this request opened it, and where it went."""

    code: str
    status: str  # opened | existing (the same key or source id before) | duplicate
    destinations: list[str]

    @property
    def opened(self) -> bool:
        return self.status == "opened"


class AlertProblems(Exception):
    """The alert is not valid: every problem, each naming its field."""

    def __init__(self, problems: list[AlertError]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class NoRoom(Exception):
    """No chat room is bound: a case opened now would reach nobody."""


def valid_name(name: str) -> bool:
    """A partner's name: lower-case letters, digits, `-` and `_`, at most 63, as in a header."""
    return bool(_NAME.match(name))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Tocsin-Signature` value for this body at this timestamp."""
    signed = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_problem(
    *, secret: str, timestamp: str | None, given: str | None, body: bytes, now: float
) -> str | None:
    """Why the request's signature does not hold (None when it does): a missing or malformed
    header, a timestamp outside the window, or a signature made with another secret."""
    if not timestamp or not given:
        return "X-Tocsin-Timestamp and X-Tocsin-Signature are required"
    if not _unix_seconds(timestamp):
        return "X-Tocsin-Timestamp must be Unix seconds"
    if abs(now - int(timestamp)) > WINDOW_S:
        return "X-Tocsin-Timestamp is more than 5 minutes from now: check the clock, sign again"
    if not _matches(signature(secret, timestamp, body), given.strip()):
        return "the signature does not match: sign 'v1:{timestamp}:{raw body}' with your secret"
    return None


def _unix_seconds(timestamp: str) -> bool:
    """Whether the header is a plausible Unix time: ASCII digits, not too many for `int`."""
    return timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS


def _matches(expected: str, given: str) -> bool:
    """`hmac.compare_digest`, which refuses (TypeError) a str that is not ASCII."""
    return given.isascii() and hmac.compare_digest(expected, given)


@dataclass
class RateLimit:
    """At most `per_minute` requests in any 60 seconds, per partner (a sliding window)."""

    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def wait(self, partner: str, per_minute: int, now: float) -> float | None:
        """None when the request may go ahead (and it is counted); else the seconds to wait."""
        times = self._seen.setdefault(partner, deque())
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= per_minute:
            return max(60 - (now - times[0]), 0.001)
        times.append(now)
        return None
