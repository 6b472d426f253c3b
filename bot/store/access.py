"""Bound destinations and the roles people hold in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.access import EVERYONE
from bot.domain.places import Place
from bot.store.destinations import destination_for
from bot.store.models import Destination, DestinationRole


def bound_destination(*, session: Session, place: Place) -> Destination | None:
    """The place's destination when Tocsin is bound there, else None."""
    destination = destination_for(session=session, place=place)
    if destination is None or destination.bound_at is None:
        return None
    return destination


def stored_role(*, destination: Destination, principal: str) -> str | None:
    """The person's own role here, else the one set for everyone here, else None."""
    roles = {row.principal: row.role for row in destination.roles}
    return roles.get(principal) or roles.get(EVERYONE)


def set_role(
    *,
    session: Session,
    destination: Destination,
    principal: str,
    role: str,
    granted_by: str,
    now: datetime,
) -> str | None:
    """Give the person a role here; the role they held before, if any."""
    for row in destination.roles:
        if row.principal == principal:
            before, row.role, row.granted_by, row.granted_at = row.role, role, granted_by, now
            return before
    destination.roles.append(
        DestinationRole(principal=principal, role=role, granted_by=granted_by, granted_at=now)
    )
    session.flush()
    return None


def bound_destinations(*, session: Session) -> list[Destination]:
    """Every destination Tocsin is bound to, oldest first."""
    query = select(Destination).where(Destination.bound_at.is_not(None)).order_by(Destination.id)
    return list(session.scalars(query))
