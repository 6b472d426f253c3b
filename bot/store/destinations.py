"""Destinations: the channels and rooms Tocsin posts to, with their own settings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.case import Place
from bot.store.models import Destination


def destination_timezone(*, session: Session, place: Place) -> str | None:
    """The time zone configured for this channel or room, if any."""
    query = select(Destination.timezone).where(
        Destination.platform == place.platform, Destination.address == place.address
    )
    return session.scalar(query)
