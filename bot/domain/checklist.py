"""The escalation checklist a case starts with: ordered steps, owners, due times, consent gates."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.alert import Alert
from bot.domain.routing import Target
from bot.domain.vocabulary import Severity


class OwnerRole(StrEnum):
    """Who in the team owns a step."""

    LEAD = "lead"
    RESPONDER = "responder"
    LEGAL = "legal"
    COMMS = "comms"


@dataclass(frozen=True, slots=True)
class StepPlan:
    """A checklist step before it is stored: what, who, how soon, and what it waits for."""

    n: int
    title: str
    due_in_minutes: int
    owner_role: OwnerRole
    target: str | None = None
    gated_by: str | None = None


# Minutes from case opening, by severity. The playbook issue moves these into editable data.
_SAFETY_DUE = {Severity.CRITICAL: 15, Severity.HIGH: 30, Severity.MEDIUM: 120}
_APPEAL_DUE = {Severity.CRITICAL: 60, Severity.HIGH: 240, Severity.MEDIUM: 1440}
_PUBLIC_DUE = {Severity.CRITICAL: 240, Severity.HIGH: 1440, Severity.MEDIUM: 2880}
_FOLLOW_UP_DUE = {Severity.CRITICAL: 1440, Severity.HIGH: 2880, Severity.MEDIUM: 4320}


def build_checklist(alert: Alert, targets: list[Target]) -> list[StepPlan]:
    """The steps of a new case: safety and consent, then each target, then public work."""
    severity = alert.effective_severity
    steps: list[tuple[str, int, OwnerRole, str | None, str | None]] = [
        (
            "Confirm the defender is safe and record their consent to each use "
            "(government, UN public report, media)",
            _SAFETY_DUE[severity],
            OwnerRole.LEAD,
            None,
            None,
        )
    ]
    for target in targets:
        steps.append(
            (f"Engage {target.name}", _APPEAL_DUE[severity], OwnerRole.RESPONDER, target.name, None)
        )
    steps.append(
        (
            "Public statement and media work",
            _PUBLIC_DUE[severity],
            OwnerRole.COMMS,
            None,
            None if alert.consent.media else "consent.media",
        )
    )
    steps.append(
        (
            "Follow up with every target that has not answered",
            _FOLLOW_UP_DUE[severity],
            OwnerRole.LEAD,
            None,
            None,
        )
    )
    return [
        StepPlan(
            n=n, title=title, due_in_minutes=due, owner_role=role, target=target, gated_by=gate
        )
        for n, (title, due, role, target, gate) in enumerate(steps, start=1)
    ]
