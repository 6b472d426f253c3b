"""A case as plain data: what views render and what handlers pass around."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum


class Disclosure(StrEnum):
    """How much of a case a destination may see, least first."""

    MINIMAL = "minimal"  # codes, categories, targets, steps, owners, due times
    STANDARD = "standard"  # and the summary and free-text notes
    FULL = "full"  # and the defender's name and organisation

    @property
    def rank(self) -> int:
        """Its place in the order minimal < standard < full."""
        return list(Disclosure).index(self)


@dataclass(frozen=True, slots=True)
class TargetView:
    """A target as stored on a case."""

    category: str
    name: str
    reason: str
    contact: str | None
    status: str
    reply: str | None = None
    # The directory key: `iachr`, `sr_defenders`, `embassy:CA` (empty on cases before 0003).
    institution: str = ""


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
    key: str = ""
    # The targets the step concerns, `; `-joined for a step covering several together.
    target_name: str | None = None


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
    erased_at: datetime | None = None
    occurred_on: date | None = None
    perpetrators: tuple[str, ...] = ()
    company: str | None = None
    # Free text like the summary: shown from `standard` up.
    place: str | None = None
    domestic_actions: str | None = None
    earlier_incidents: str | None = None
    # Identifying like the name: shown only at `full`.
    defender_gender: str | None = None
    defender_work: str | None = None

    def consented(self, use: str) -> bool:
        """Whether the defender agreed to this use (`government`, `un_public`, `media`)."""
        return dict(self.consents).get(use, False)


# Audit details holding free text someone typed (notes, replies): shown from `standard` up,
# erased with the case's other sensitive fields.
FREE_TEXT_DETAILS = ("text", "note")


def disclose(case: CaseView, level: Disclosure) -> CaseView:
    """The case as a place at `level` may see it: what the level does not allow is removed
    here, before any view renders it, so no message kind can show it by mistake."""
    if level is Disclosure.FULL:
        return case
    case = replace(
        case,
        defender_name=None,
        defender_organisation=None,
        defender_gender=None,
        defender_work=None,
    )
    if level is Disclosure.STANDARD:
        return case
    return replace(
        case,
        summary="",
        place=None,
        domestic_actions=None,
        earlier_incidents=None,
        targets=tuple(replace(t, reply=None) for t in case.targets),
        steps=tuple(replace(s, note=None) for s in case.steps),
    )
