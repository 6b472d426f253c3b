"""Messages Tocsin posted under a key (a case card), so later changes edit them in place."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.case import Place
from bot.store.models import PostedMessage


def find_posted(*, session: Session, place: Place, key: str) -> str | None:
    """The platform's id of the message posted under `key` at `place`, if any."""
    query = select(PostedMessage.message_id).where(
        PostedMessage.platform == place.platform,
        PostedMessage.address == place.address,
        PostedMessage.key == key,
    )
    return session.scalar(query)


def remember_posted(*, session: Session, place: Place, key: str, message_id: str) -> None:
    """Record (or move) the message that now stands for `key` at `place`."""
    query = select(PostedMessage).where(
        PostedMessage.platform == place.platform,
        PostedMessage.address == place.address,
        PostedMessage.key == key,
    )
    row = session.scalar(query)
    if row is None:
        session.add(
            PostedMessage(
                platform=place.platform, address=place.address, key=key, message_id=message_id
            )
        )
    else:
        row.message_id = message_id


def find_posted_key(*, session: Session, place: Place, message_id: str) -> str | None:
    """The key a message was posted under at `place` (what a reaction to it is about)."""
    query = select(PostedMessage.key).where(
        PostedMessage.platform == place.platform,
        PostedMessage.address == place.address,
        PostedMessage.message_id == message_id,
    )
    return session.scalars(query).first()
