"""An alert from a partner's form or case system: validated in full, opened once per key, and
posted to the partner's destinations, each under its own disclosure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.alert import AlertError, checked_alert
from bot.domain.case import Place
from bot.store import schedule
from bot.store.models import Destination
from bot.store.partners import PartnerAccess
from handlers.context import Services
from handlers.intake import take_alert

MAX_KEY_CHARS = 200


class AlertProblems(Exception):
    """The alert is not valid: every problem, each naming its field."""

    def __init__(self, problems: list[AlertError]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the partner is told: the case, whether this request opened it, and where it went."""

    code: str
    status: str  # opened | existing (the same key or source id before) | duplicate
    destinations: list[str]

    @property
    def opened(self) -> bool:
        return self.status == "opened"


def partner_alert(
    data: Any, *, partner: PartnerAccess, key: str | None, services: Services
) -> Accepted:
    """Open the alert's case, or name the case the same key (or source id) opened before."""
    _, problems = checked_alert(data, services.world.countries, strict=True)
    if key is not None and not (0 < len(key) <= MAX_KEY_CHARS and key.isprintable()):
        problems.append(AlertError("Idempotency-Key", f"1 to {MAX_KEY_CHARS} printable characters"))
    if problems:
        raise AlertProblems(problems)
    places = partner_places(partner, services)
    origin = places[0] if places else Place("partner", partner.name)
    try:
        intake = take_alert(
            _with_source_id(data, partner.name, key),
            actor=f"partner:{partner.name}",
            place=origin,
            services=services,
            announce_to=places,
        )
    except AlertError as error:  # the namespaced source id made a valid one too long
        raise AlertProblems([error]) from None
    status = "opened" if intake.opened else "duplicate" if intake.duplicate else "existing"
    shown = [f"{p.platform}:{p.address}" for p in places] if intake.opened else []
    return Accepted(code=intake.view.code, status=status, destinations=shown)


def _with_source_id(data: dict[str, Any], partner: str, key: str | None) -> dict[str, Any]:
    """The alert with its source id in the partner's own namespace (two partners' ids never
    meet); the Idempotency-Key, when given, is the id."""
    source = dict(data.get("source") or {})
    given = key if key is not None else source.get("external_id")
    if given is None:
        return data
    source["external_id"] = f"partner:{partner}:{given}"
    return {**data, "source": source}


def partner_places(partner: PartnerAccess, services: Services) -> list[Place]:
    """The partner's destinations where Tocsin is bound; with none, the leads' room, else the
    first bound room, so an alert is never left unseen."""
    places: list[Place] = []
    with services.transaction() as session:
        for text in partner.destinations:
            platform, _, address = text.partition(":")
            row = schedule.destination_for(session=session, place=Place(platform, address))
            if row is not None and row.bound_at is not None:
                places.append(_place(row))
        if not places:
            fallback = schedule.lead_destination(session=session) or schedule.first_destination(
                session=session
            )
            if fallback is not None:
                places.append(_place(fallback))
    return places


def _place(row: Destination) -> Place:
    return Place(row.platform, row.address, row.encrypted)
