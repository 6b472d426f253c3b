"""From an alert to the institutions to engage, each with a reason a responder can paste."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.alert import Alert
from bot.domain.world import Mandate, Submission, TargetCategory, World


@dataclass(frozen=True, slots=True)
class Target:
    """An institution to engage on a case, and why."""

    category: TargetCategory
    name: str
    reason: str
    contact: str | None = None


def route(alert: Alert, world: World) -> list[Target]:
    """Every target for the alert, in a stable order: deterministic for the same input."""
    country = world.countries.by_code(alert.country).name
    targets = []
    for mandate in world.un.mandates:
        reason = _mandate_reason(mandate, alert, country)
        if reason is not None:
            targets.append(
                Target(
                    category=mandate.category,
                    name=mandate.name,
                    reason=reason,
                    contact=_un_contact(mandate, world.un.submission),
                )
            )
    return targets


def _mandate_reason(mandate: Mandate, alert: Alert, country: str) -> str | None:
    """The reasons of every rule of the mandate that matches, joined; None when none does."""
    reasons = []
    for rule in mandate.rules:
        terms = rule.when.matched_terms(alert)
        if terms is not None:
            matched = ", ".join(term.replace("_", " ") for term in terms)
            reasons.append(rule.reason.format(country=country, matched=matched))
    return " ".join(reasons) if reasons else None


def _un_contact(mandate: Mandate, submission: Submission) -> str | None:
    if mandate.category is not TargetCategory.UN_SPECIAL_PROCEDURE:
        return mandate.email
    channels = [f"online form {submission.form}"]
    if mandate.email:
        channels.append(mandate.email)
    return "; ".join(channels)
