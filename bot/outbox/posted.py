"""Messages Tocsin posted under a key (a case card), so later changes edit them in place."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.domain.places import Place
from bot.store.models import PostedMessage


def find_posted(*, session: Session, place: Place, key: str) -> str | None:
    """The platform's id of the message posted under `key` at `place`, if any."""
    query = select(PostedMessage.message_id).where(
        PostedMessage.platform == place.platform,
        PostedMessage.address == place.address,
        PostedMessage.key == key,
    )
    return session.scalar(query)


def find_all_posted(*, session: Session, place: Place, keys: list[str]) -> dict[str, str]:
    """`find_posted` for several keys at once: the platform's message id by key, where found."""
    query = select(PostedMessage.key, PostedMessage.message_id).where(
        PostedMessage.platform == place.platform,
        PostedMessage.address == place.address,
        PostedMessage.key.in_(keys),
    )
    return {key: message_id for key, message_id in session.execute(query)}


def remember_all_posted(*, session: Session, place: Place, message_ids: Mapping[str, str]) -> None:
    """Record (or move) the message that now stands for each key at `place`, in one statement."""
    if not message_ids:
        return
    dialect = session.get_bind().dialect.name
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(PostedMessage)
    rows = [
        {"platform": place.platform, "address": place.address, "key": key, "message_id": posted}
        for key, posted in message_ids.items()
    ]
    session.execute(
        upsert.values(rows).on_conflict_do_update(
            index_elements=[PostedMessage.platform, PostedMessage.address, PostedMessage.key],
            set_={"message_id": upsert.excluded.message_id},
        )
    )


def find_posted_key(*, session: Session, place: Place, message_id: str) -> str | None:
    """The key a message was posted under at `place` (what a reaction to it is about)."""
    query = select(PostedMessage.key).where(
        PostedMessage.platform == place.platform,
        PostedMessage.address == place.address,
        PostedMessage.message_id == message_id,
    )
    return session.scalars(query).first()
