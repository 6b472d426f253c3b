"""Protection measures: which bodies grant them, and the follow-up step each state calls for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.domain.playbook import MeasureFollowUps


@dataclass(frozen=True, slots=True)
class MeasureBody:
    """A body that orders protection measures, and what its measures are called."""

    key: str
    name: str
    kind: str


BODIES = {
    "iachr": MeasureBody("iachr", "IACHR", "precautionary"),
    "iacthr": MeasureBody("iacthr", "Inter-American Court", "provisional"),
    "achpr": MeasureBody("achpr", "African Commission", "provisional"),
    "un": MeasureBody("un", "UN", "interim"),
}
_SPELLINGS = {
    "cidh": "iachr",
    "corte": "iacthr",
    "corteidh": "iacthr",
    "court": "iacthr",
    "cadhp": "achpr",
}
ACTIVE_STATES = frozenset({"requested", "granted", "extended"})


class UnknownBodyError(ValueError):
    """The body named does not order protection measures Tocsin knows of."""


def measure_body(text: str) -> MeasureBody:
    """The body for IACHR, IACtHR (the Court), ACHPR or UN (treaty bodies' interim measures)."""
    key = text.strip().lower().replace("-", "").replace(" ", "")
    key = _SPELLINGS.get(key, key)
    if key not in BODIES:
        raise UnknownBodyError(
            f"'{text}' is not a body Tocsin follows measures of; accepted: IACHR (precautionary), "
            "IACtHR (the Inter-American Court, provisional), ACHPR (provisional), UN (interim)"
        )
    return BODIES[key]


def follow_up_after(state: str, cadence: MeasureFollowUps) -> timedelta | None:
    """How long after a change to this state the next follow-up is due (None: no follow-up)."""
    delay: timedelta | None = getattr(cadence, state)
    return delay


def follow_up_title(body: MeasureBody, reference: str, state: str) -> str:
    """What the follow-up step asks of the team."""
    label = f"{body.name} {body.kind} measures {reference}"
    if state == "requested":
        return f"Check the status of the request for {label}, and add what the body asks for"
    return (
        f"Follow up {label} ({state}): is the state implementing them, and was the beneficiary "
        "consulted on how?"
    )


def review_title(body: MeasureBody, reference: str) -> str:
    """The step for a review date set by the body's resolution."""
    return (
        f"Review date of {body.name} {body.kind} measures {reference}: send the update it asks for"
    )
