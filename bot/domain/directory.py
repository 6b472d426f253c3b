"""The organisation's own contacts: who staffs which embassy, desk or mandate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, field_validator

STALE_AFTER_DAYS = 180
EMBASSY = "embassy"

# Human rights officers first: the letter asks every post to name one.
_ROLE_ORDER = {"human rights officer": 0, "hrd liaison officer": 0, "ambassador": 2}


class Contact(BaseModel):
    """One person or desk to reach at an institution."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    institution: str = Field(min_length=1, max_length=100)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    government: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    role: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=50)
    secure_channel: str | None = Field(default=None, max_length=200)
    languages: tuple[str, ...] = ()
    verified_on: date | None = None

    @field_validator("institution", "role", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("country", "government", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    def is_stale(self, today: date, days: int = STALE_AFTER_DAYS) -> bool:
        """Not verified within `days` (or never)."""
        return self.verified_on is None or (today - self.verified_on).days > days

    def describe(self, today: date | None) -> str:
        """One line a responder can act on, flagged when it may be out of date."""
        if today is None or not self.is_stale(today):
            return self._line
        since = self.verified_on.isoformat() if self.verified_on else "never"
        return (
            f"{self._line} [NOT VERIFIED for over {STALE_AFTER_DAYS} days (last: {since}): "
            "check before use]"
        )

    @cached_property
    def _line(self) -> str:
        # Worked out once per contact: triage describes the same officers for every alert.
        who = f"{self.name} ({self.role})" if self.name else self.role
        reach = [part for part in (self.email, self.phone) if part]
        if self.secure_channel:
            reach.append(f"secure: {self.secure_channel}")
        return f"{who}: {', '.join(reach) or 'no address on file'}"


@dataclass(frozen=True)
class Directory:
    """All contacts, searchable by institution, government and country."""

    contacts: tuple[Contact, ...] = field(default_factory=tuple)
    # Indexes built once: triage looks up a mission per supportive government per alert.
    _by_mission: dict[tuple[str, str], list[Contact]] = field(init=False, repr=False, compare=False)
    _by_institution: dict[str, list[Contact]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_mission: dict[tuple[str, str], list[Contact]] = {}
        by_institution: dict[str, list[Contact]] = {}
        for contact in self._sorted(self.contacts):
            by_institution.setdefault(contact.institution, []).append(contact)
            if contact.institution == EMBASSY and contact.government and contact.country:
                by_mission.setdefault((contact.government, contact.country), []).append(contact)
        object.__setattr__(self, "_by_mission", by_mission)
        object.__setattr__(self, "_by_institution", by_institution)

    @classmethod
    def of(cls, contacts: Iterable[Contact]) -> Directory:
        """A directory of these contacts."""
        return cls(tuple(contacts))

    def for_mission(self, government: str, country: str) -> list[Contact]:
        """The government's embassy staff in the country, human rights officers first."""
        return list(self._by_mission.get((government, country), ()))

    def for_institution(self, institution: str, country: str) -> list[Contact]:
        """Contacts at the institution, those for this country before general ones."""
        found = [
            c for c in self._by_institution.get(institution, ()) if c.country in (None, country)
        ]
        return sorted(found, key=lambda c: c.country is None)

    @staticmethod
    def _sorted(contacts: Iterable[Contact]) -> list[Contact]:
        return sorted(
            contacts,
            key=lambda c: (_ROLE_ORDER.get(c.role, 1), -(c.verified_on or date.min).toordinal()),
        )
