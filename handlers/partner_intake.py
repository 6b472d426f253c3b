"""An alert from a partner's form or case system: validated in full, opened once per key, and
posted to the partner's destinations, each under its own disclosure."""

from __future__ import annotations

from typing import Any

from bot.domain.alert import Alert, AlertError, checked_alert
from bot.domain.partners import TOO_DEEP, Accepted, AlertProblems, NoRoom, PartnerAccess
from bot.domain.places import Place
from bot.store import destinations
from bot.store.cases import case_by_source
from bot.store.db import unavailable_when_transient
from bot.store.partners import find_partner, opened_by
from handlers.context import Services
from handlers.intake import take_alert

MAX_KEY_CHARS = 200
MAX_NAME_CHARS = 63  # a partner's name is at most 63 characters, as in a header
NO_ROOM = (
    "Tocsin is not in any chat room yet, so nobody would see this alert; nothing was stored. "
    "Ask the organisation running Tocsin to bind a room (ua bind), then send it again"
)


def find_partner_named(name: str, services: Services) -> PartnerAccess | None:
    """The partner called `name`, revoked or not; None for no such partner (or a name no
    partner can have). Unavailable when the database is briefly away."""
    if not name or len(name) > MAX_NAME_CHARS:
        return None
    with unavailable_when_transient(), services.transaction() as session:
        return find_partner(session=session, name=name)


def partner_alert(
    data: Any, *, partner: PartnerAccess, key: str | None, services: Services
) -> Accepted:
    """Open the alert's case, or name the case the same key (or source id) opened before.

    Raises AlertProblems when the alert is not valid or its key was used for another alert,
    NoRoom when no chat room is bound (nobody would see the case), and Unavailable when the
    database is briefly away (nothing was stored)."""
    with unavailable_when_transient():
        return _take_partner_alert(data, partner, key, services)


def _take_partner_alert(
    data: Any, partner: PartnerAccess, key: str | None, services: Services
) -> Accepted:
    alert = _valid(data, key, services)
    if key is not None:
        earlier = _keyed_case(alert, _source_id(partner.name, key), services)
        if earlier is not None:
            return earlier
    places = partner_places(partner, services)
    if not places:
        raise NoRoom(NO_ROOM)
    try:
        intake = take_alert(
            _with_source_id(data, partner.name, key),
            actor=f"partner:{partner.name}",
            place=places[0],
            services=services,
            announce_to=places,
        )
    except AlertError as error:  # the namespaced source id made a valid one too long
        raise AlertProblems([error]) from None
    status = "opened" if intake.opened else "duplicate" if intake.duplicate else "existing"
    shown = [f"{p.platform}:{p.address}" for p in places] if intake.opened else []
    return Accepted(code=intake.view.code, status=status, destinations=shown)


def _valid(data: Any, key: str | None, services: Services) -> Alert:
    """The alert, or AlertProblems naming every problem with it and with its key."""
    try:
        alert, problems = checked_alert(data, services.world.countries, strict=True)
    except RecursionError:  # nesting no alert has, deeper than checking can follow
        raise AlertProblems([AlertError("", TOO_DEEP)]) from None
    if key is not None and not (0 < len(key) <= MAX_KEY_CHARS and key.isprintable()):
        problems.append(AlertError("Idempotency-Key", f"1 to {MAX_KEY_CHARS} printable characters"))
    if problems:
        raise AlertProblems(problems)
    assert alert is not None
    return alert


def _keyed_case(alert: Alert, source_id: str, services: Services) -> Accepted | None:
    """The case this key opened (None when none did); AlertProblems when it was opened by a
    different alert."""
    with services.transaction() as session:
        case = case_by_source(session=session, source_id=source_id)
        if case is None:
            return None
        same, code = opened_by(case, alert), case.code
    if not same:
        message = f"already used for another alert ({code}): give each new alert a new key"
        raise AlertProblems([AlertError("Idempotency-Key", message)])
    return Accepted(code=code, status="existing", destinations=[])


def _source_id(partner: str, given: str) -> str:
    """A partner's key or source id, in the partner's own namespace."""
    return f"partner:{partner}:{given}"


def _with_source_id(data: dict[str, Any], partner: str, key: str | None) -> dict[str, Any]:
    """The alert with its source id in the partner's own namespace (two partners' ids never
    meet); the Idempotency-Key, when given, is the id."""
    source = dict(data.get("source") or {})
    given = key if key is not None else source.get("external_id")
    if given is None:
        return data
    source["external_id"] = _source_id(partner, given)
    return {**data, "source": source}


def partner_places(partner: PartnerAccess, services: Services) -> list[Place]:
    """The partner's destinations where Tocsin is bound; with none, the leads' room, else the
    first bound room, so an alert is never left unseen (empty only when no room is bound)."""
    places: list[Place] = []
    with services.transaction() as session:
        for text in partner.destinations:
            platform, _, address = text.partition(":")
            row = destinations.destination_for(session=session, place=Place(platform, address))
            if row is not None and row.bound_at is not None:
                places.append(row.place)
        if not places:
            fallback = destinations.lead_destination(session=session)
            fallback = fallback or destinations.first_destination(session=session)
            if fallback is not None:
                places.append(fallback.place)
    return places
