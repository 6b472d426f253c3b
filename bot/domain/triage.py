"""What a case would look like: the alert routed and its checklist built, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain.alert import Alert
from bot.domain.directory import Directory
from bot.domain.playbook import Playbook, StepPlan, build_checklist
from bot.domain.routing import Target, route
from bot.domain.world import World


@dataclass(frozen=True, slots=True)
class Triage:
    """An alert with its targets and checklist, before anything is stored."""

    alert: Alert
    country_name: str
    targets: list[Target]
    checklist: list[StepPlan]
    unknown_financiers: tuple[str, ...] = ()


def triage(
    alert: Alert,
    world: World,
    playbook: Playbook,
    directory: Directory | None = None,
    *,
    today: date | None = None,
) -> Triage:
    """Route the alert and build its checklist from the playbook."""
    targets = route(alert, world, directory, today=today)
    return Triage(
        alert=alert,
        country_name=world.countries.by_code(alert.country).name,
        targets=targets,
        checklist=build_checklist(alert, targets, playbook, world),
        unknown_financiers=tuple(
            f
            for f in (alert.business.financiers if alert.business else ())
            if world.mechanisms.by_financier(f) is None
        ),
    )


def triage_json(result: Triage) -> dict[str, Any]:
    """The stable JSON shape of `tocsin triage --json`; it names no defender."""
    alert = result.alert
    return {
        "case": {
            "country": alert.country,
            "country_name": result.country_name,
            "severity": alert.effective_severity.value,
            "severity_derived": alert.severity is None,
            "profiles": [p.value for p in alert.profiles],
            "threats": [t.value for t in alert.threats],
            "perpetrators": [p.value for p in alert.perpetrators],
            "occurred_on": alert.occurred_on.isoformat() if alert.occurred_on else None,
            "consent": alert.consent.model_dump(),
        },
        "targets": [
            {
                "category": t.category.value,
                "name": t.name,
                "reason": t.reason,
                "contact": t.contact,
            }
            for t in result.targets
        ],
        "checklist": [
            {
                "n": s.n,
                "title": s.title,
                "due_in_minutes": s.due_in_minutes,
                "owner_role": s.owner_role.value,
                "target": s.target,
                "gated_by": s.gated_by,
            }
            for s in result.checklist
        ],
    }
