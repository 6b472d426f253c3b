"""Playbooks: an organisation's escalation steps as data, and the checklist they give a case."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from string import Formatter
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bot.domain.alert import Alert
from bot.domain.durations import parse_duration
from bot.domain.routing import Target, who_is_at_risk
from bot.domain.vocabulary import Profile, Severity, Threat
from bot.domain.world import TargetCategory, World


class OwnerRole(StrEnum):
    """Who in the team owns a step."""

    LEAD = "lead"
    RESPONDER = "responder"
    LEGAL = "legal"
    COMMS = "comms"


class ConsentUse(StrEnum):
    """The uses a defender consents to one by one; a step may wait for one of them."""

    GOVERNMENT = "government"
    UN_PUBLIC = "un_public"
    MEDIA = "media"


# Joins the names of the targets a step covers together (`ChecklistStep.target_name`).
TARGET_SEPARATOR = "; "
TITLE_PLACEHOLDERS = frozenset({"who", "country", "target", "targets", "severity"})


def _duration(value: object) -> object:
    # Bare numbers are refused: YAML turns `1:30` into 90 and `30` would silently mean seconds.
    return value if isinstance(value, timedelta) else parse_duration(value)  # type: ignore[arg-type]


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DueBySeverity(_Data):
    """How long after the case opens a step is due, for each severity."""

    critical: Duration
    high: Duration
    medium: Duration

    @model_validator(mode="before")
    @classmethod
    def _one_for_all(cls, value: object) -> object:
        if isinstance(value, dict | timedelta):
            return value
        return {s.value: value for s in Severity}

    def for_severity(self, severity: Severity) -> timedelta:
        """The offset for this severity."""
        offset: timedelta = getattr(self, severity.value)
        return offset


class StepCondition(_Data):
    """When a step applies; every listed condition must hold, any value of a list matches."""

    severity: frozenset[Severity] | None = None
    threats: frozenset[Threat] | None = None
    profiles: frozenset[Profile] | None = None
    countries: frozenset[str] | None = None
    country_in: frozenset[str] | None = None
    consent: frozenset[ConsentUse] | None = None
    target_categories: frozenset[TargetCategory] | None = None

    def holds(self, facts: AlertFacts, world: World) -> bool:
        """Whether the alert and its targets meet every condition."""
        alert = facts.alert
        return (
            (self.consent is None or all(facts.consents[use.value] for use in self.consent))
            and (
                self.target_categories is None
                or not self.target_categories.isdisjoint(facts.categories)
            )
            and (self.severity is None or facts.severity in self.severity)
            and (self.threats is None or not self.threats.isdisjoint(alert.threats))
            and (self.profiles is None or not self.profiles.isdisjoint(alert.profiles))
            and (self.countries is None or alert.country in self.countries)
            and (
                self.country_in is None
                or any(world.in_group(alert.country, group) for group in self.country_in)
            )
        )


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What every step condition asks of an alert and its targets, worked out once."""

    alert: Alert
    severity: Severity
    consents: Mapping[str, bool]
    categories: frozenset[TargetCategory]

    @classmethod
    def of(cls, alert: Alert, targets: list[Target]) -> AlertFacts:
        """The facts of this alert and its targets."""
        return cls(
            alert=alert,
            severity=alert.effective_severity,
            consents=alert.consent.model_dump(),
            categories=frozenset(t.category for t in targets),
        )


class TargetSelection(_Data):
    """Which of the case's targets a step concerns: one step for each, or one for them all."""

    categories: frozenset[TargetCategory] | None = None
    institutions: frozenset[str] | None = None
    mode: Literal["each", "together"] = "each"

    def pick(self, targets: list[Target]) -> list[Target]:
        """The targets this selection covers, in routing order."""
        if self.categories is not None:
            targets = [t for t in targets if t.category in self.categories]
        if self.institutions is not None:
            targets = [t for t in targets if t.institution_kind in self.institutions]
        return targets


class StepTemplate(_Data):
    """One step of a playbook."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    owner: OwnerRole
    due: DueBySeverity
    when: StepCondition = StepCondition()
    targets: TargetSelection | None = None
    gate: ConsentUse | None = None

    @model_validator(mode="after")
    def _placeholders_fit(self) -> StepTemplate:
        used = {f for _, f, _, _ in Formatter().parse(self.title) if f is not None}
        unknown = used - TITLE_PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"title: unknown placeholder {{{sorted(unknown)[0]}}}; accepted: "
                + ", ".join(f"{{{p}}}" for p in sorted(TITLE_PLACEHOLDERS))
            )
        mode = self.targets.mode if self.targets else None
        if "target" in used and mode != "each":
            raise ValueError("title: {target} needs targets with mode: each")
        if "targets" in used and mode != "together":
            raise ValueError("title: {targets} needs targets with mode: together")
        return self


class ReminderPolicy(_Data):
    """How often an overdue step is reminded, and after how many reminders it is escalated."""

    repeat: DueBySeverity = DueBySeverity(critical="30m", high="2h", medium="1d")
    escalate_after: int = Field(default=2, ge=1, le=50)


class MeasureFollowUps(_Data):
    """How long after each state of a protection measure to follow it up (none once it ends)."""

    requested: Duration = timedelta(days=7)
    granted: Duration = timedelta(days=30)
    extended: Duration = timedelta(days=30)
    lifted: Duration | None = None
    rejected: Duration | None = None


class Playbook(_Data):
    """An organisation's escalation steps, in order; sourced and dated like all data."""

    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    as_of: date
    steps: tuple[StepTemplate, ...] = Field(min_length=1)
    reminders: ReminderPolicy = ReminderPolicy()
    measures: MeasureFollowUps = MeasureFollowUps()

    @model_validator(mode="after")
    def _unique_ids(self) -> Playbook:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"duplicate step id '{step.id}'")
            seen.add(step.id)
        return self

    def group_ids(self) -> set[str]:
        """Country groups the steps name, to check they exist."""
        return {g for s in self.steps for g in (s.when.country_in or ())}


@dataclass(frozen=True, slots=True)
class StepPlan:
    """A checklist step before it is stored: what, who, how soon, and the consent it needs."""

    n: int
    key: str
    title: str
    due: timedelta
    owner_role: OwnerRole
    target: str | None = None
    gate: ConsentUse | None = None
    gate_open: bool = True

    @property
    def due_in_minutes(self) -> int:
        """Minutes from opening, rounded up."""
        return math.ceil(self.due.total_seconds() / 60)

    @property
    def gated_by(self) -> str | None:
        """The consent the step still waits for (`consent.media`), or None when it may go ahead."""
        return None if self.gate is None or self.gate_open else f"consent.{self.gate.value}"


def build_checklist(
    alert: Alert, targets: list[Target], playbook: Playbook, world: World
) -> list[StepPlan]:
    """The ordered steps the playbook gives this alert and its targets, numbered from 1."""
    facts = AlertFacts.of(alert, targets)
    consents, severity = facts.consents, facts.severity
    fields = {
        "who": who_is_at_risk(alert),
        "country": world.countries.by_code(alert.country).name,
        "severity": severity.value,
    }
    plans: list[tuple[StepTemplate, str, str | None]] = []
    for step in playbook.steps:
        if not step.when.holds(facts, world):
            continue
        if step.targets is None:
            plans.append((step, step.title.format(**fields, target="", targets=""), None))
            continue
        picked = step.targets.pick(targets)
        if step.targets.mode == "together" and picked:
            names = TARGET_SEPARATOR.join(t.name for t in picked)
            plans.append((step, step.title.format(**fields, target="", targets=names), names))
        elif step.targets.mode == "each":
            for t in picked:
                title = step.title.format(**fields, target=t.name, targets="")
                plans.append((step, title, t.name))
    return [
        StepPlan(
            n=n,
            key=step.id,
            title=title,
            due=step.due.for_severity(severity),
            owner_role=step.owner,
            target=target,
            gate=step.gate,
            gate_open=step.gate is None or bool(consents.get(step.gate.value)),
        )
        for n, (step, title, target) in enumerate(plans, start=1)
    ]
