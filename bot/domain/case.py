"""A case as plain data: what views render and what handlers pass around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Disclosure(StrEnum):
    """How much of a case a destination may see."""

    PSEUDONYMOUS = "pseudonymous"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a command came from or a message goes: a channel, a room, the console."""

    platform: str
    address: str
    encrypted: bool = False

    @property
    def disclosure(self) -> Disclosure:
        """Only end-to-end-encrypted Matrix rooms may see names; everywhere else is pseudonymous."""
        if self.platform == "matrix" and self.encrypted:
            return Disclosure.FULL
        return Disclosure.PSEUDONYMOUS

    def __str__(self) -> str:
        return f"{self.platform}:{self.address}"


@dataclass(frozen=True, slots=True)
class TargetView:
    """A target as stored on a case."""

    category: str
    name: str
    reason: str
    contact: str | None
    status: str
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class StepView:
    """A checklist step as stored on a case."""

    n: int
    title: str
    owner_role: str
    assignee: str | None
    status: str
    due_at: datetime
    gated_by: str | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CaseView:
    """A stored case, with its sensitive part only when loaded for a full-disclosure place."""

    code: str
    status: str
    country: str
    country_name: str
    severity: str
    profiles: tuple[str, ...]
    threats: tuple[str, ...]
    summary: str
    opened_at: datetime
    targets: tuple[TargetView, ...] = ()
    steps: tuple[StepView, ...] = ()
    defender_name: str | None = None
    defender_organisation: str | None = None
    outcome: str | None = None
    consents: tuple[tuple[str, bool], ...] = ()
