"""Destinations: the channels and rooms Tocsin posts to, with their own settings; which are
bound, which is the leads' room."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from bot.domain.places import ALWAYS_BOUND_PLATFORMS, Place
from bot.store.models import Destination


def destination_timezone(*, session: Session, place: Place) -> str | None:
    """The time zone configured for this channel or room, if any."""
    query = select(Destination.timezone).where(
        Destination.platform == place.platform, Destination.address == place.address
    )
    return session.scalar(query)


def lead_destination(*, session: Session) -> Destination | None:
    """Where escalations go once the case lead has not acted."""
    query = select(Destination).where(Destination.is_lead.is_(True), is_bound_clause()).limit(1)
    return session.scalar(query)


def first_destination(*, session: Session) -> Destination | None:
    """The oldest destination: the team's room when a case came from elsewhere."""
    return session.scalar(
        select(Destination).where(is_bound_clause()).order_by(Destination.id).limit(1)
    )


def is_bound(*, session: Session, platform: str, address: str) -> bool:
    """Whether Tocsin is bound to this channel or room (and so may post there)."""
    query = select(Destination.id).where(
        Destination.platform == platform, Destination.address == address, is_bound_clause()
    )
    return session.scalar(query) is not None


def is_bound_clause() -> ColumnElement[bool]:
    """Destinations Tocsin acts at: bound ones, and the always-bound (the console)."""
    return or_(Destination.bound_at.is_not(None), Destination.platform.in_(ALWAYS_BOUND_PLATFORMS))


def destination_for(*, session: Session, place: Place) -> Destination | None:
    """The destination row of a place, if it has one."""
    query = select(Destination).where(
        Destination.platform == place.platform, Destination.address == place.address
    )
    return session.scalar(query)
