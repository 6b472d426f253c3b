"""The outbox table: messages waiting to be delivered, claimed in order per destination.

Handlers `enqueue` a message in the transaction of the change it tells of; the dispatcher and
the answering connectors claim and mark rows through the ledger (`bot.outbox.ledger`), never
here directly; `tocsin outbox`, the digest and `/readyz` read the backlog and dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, defer

from bot.domain.messages import Message
from bot.domain.places import Place
from bot.domain.wire import message_from_json, message_to_json
from bot.store.models import OutboxMessage

PENDING, SENT, DEAD = OutboxMessage.PENDING, OutboxMessage.SENT, OutboxMessage.DEAD
# How long a dispatcher may hold claimed rows before another one may take them.
# Long enough for a batch of sends, short enough that a crashed process holds its
# destinations' queues only briefly (delivery keys make a takeover's resend harmless).
LEASE = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class Claimed:
    """One claimed row: where, what, and the key that makes a resend land once."""

    id: int
    place: Place
    message: Message
    attempts: int
    #: Someone took the row before and never said how it went (a crash, a lost answer):
    #: it may have been posted, so the sender looks before posting again.
    maybe_sent: bool = False

    @property
    def key(self) -> str:
        """A delivery key stable across retries and restarts."""
        return delivery_key(self.id)


def enqueue(
    *,
    session: Session,
    place: Place,
    message: Message,
    now: datetime,
    due_in: timedelta = timedelta(0),
    case_code: str | None = None,
) -> str:
    """Add the message (about `case_code`, if about a case) to the outbox, in the caller's
    transaction; its delivery key."""
    row = OutboxMessage(
        case_code=case_code,
        platform=place.platform,
        address=place.address,
        encrypted=place.encrypted,
        payload=message_to_json(message),
        status=PENDING,
        attempts=0,
        next_attempt_at=now + due_in,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return delivery_key(row.id)


def delivery_key(row: int) -> str:
    """The delivery key of an outbox row."""
    return f"outbox:{row}"


def row_id(key: str | None) -> int | None:
    """The row a delivery key names, or None for no key or a key of another kind."""
    prefix, _, number = (key or "").partition(":")
    return int(number) if prefix == "outbox" and number.isdigit() else None


def claim(*, session: Session, now: datetime, per_place: int = 5) -> list[list[Claimed]]:
    """For every destination whose oldest pending row is due and not held, that row and the
    pending rows after it (at most `per_place`), held for LEASE; each list in sending order.
    On PostgreSQL rows another dispatcher holds are skipped, never waited for."""
    heads = _heads()
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    due_heads = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(heads), OutboxMessage.next_attempt_at <= now, free)
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        )
    )
    batches: list[list[Claimed]] = []
    for head in due_heads:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(_pending_at(head.platform, head.address), OutboxMessage.id >= head.id, free)
                .order_by(OutboxMessage.id)
                .limit(per_place)
                .with_for_update(skip_locked=True)
            )
        )
        batches.append([_claimed(row) for row in rows])
        _hold(rows, now)
    return batches


def take(*, session: Session, row_id: int, now: datetime) -> bool:
    """Hold one pending row for a connector about to post it itself (the command's own
    answer); False when it is not this caller's to post: held, sent or gone, or behind older
    rows for the same place (then it is due at once, and the dispatcher sends it in order)."""
    row = session.get(
        OutboxMessage,
        row_id,
        with_for_update=True,
        options=[defer(OutboxMessage.payload)],  # the caller has the message: nothing to open
    )
    if row is None or row.status != PENDING or row.claimed_until is not None:
        return False
    older = session.scalar(_one_pending(row.platform, row.address).where(OutboxMessage.id < row.id))
    if older is not None:
        row.next_attempt_at = min(row.next_attempt_at, now)
        return False
    _hold([row], now)
    return True


def _hold(rows: list[OutboxMessage], now: datetime) -> None:
    """Lease claimed rows to their claimer: no other claim takes them until LEASE has passed
    (a claimer that dies holds its place's queue that long, no longer)."""
    for row in rows:
        row.claimed_until = now + LEASE


def _pending_at(platform: str, address: str) -> ColumnElement[bool]:
    """Rows still to be sent to the place."""
    return and_(
        OutboxMessage.platform == platform,
        OutboxMessage.address == address,
        OutboxMessage.status == PENDING,
    )


def _one_pending(platform: str, address: str) -> Select[int]:
    """The id of one pending row for the place (narrow it with `.where`)."""
    return select(OutboxMessage.id).where(_pending_at(platform, address)).limit(1)


def mark_sent(*, session: Session, row_id: int, now: datetime) -> None:
    """The row was delivered."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        # Delivered: the text is no longer needed here, and may name a defender.
        .values(
            status=SENT,
            sent_at=now,
            claimed_until=None,
            attempts=OutboxMessage.attempts + 1,
            payload={},
        )
    )


def due_behind(*, session: Session, row_id: int, now: datetime) -> bool:
    """Whether pending rows for the same place, due now, wait behind this one (sent in order,
    they may go as soon as it is out of the way)."""
    place = session.execute(
        select(OutboxMessage.platform, OutboxMessage.address).where(OutboxMessage.id == row_id)
    ).one_or_none()
    if place is None:
        return False
    later = session.scalar(
        _one_pending(place.platform, place.address).where(
            OutboxMessage.id > row_id, OutboxMessage.next_attempt_at <= now
        )
    )
    return later is not None


def mark_failed(
    *,
    session: Session,
    row_id: int,
    now: datetime,
    error: str,
    retry_at: datetime | None,
) -> None:
    """The attempt failed: try again at `retry_at`, or never (dead) when it is None."""
    values: dict[str, object] = {
        "attempts": OutboxMessage.attempts + 1,
        "last_error": error[:500],
        "claimed_until": None,
    }
    if retry_at is None:
        values["status"] = DEAD
    else:
        values["next_attempt_at"] = retry_at
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))


def release(*, session: Session, row_ids: list[int]) -> None:
    """Give back rows claimed but not tried (the destination's queue stopped at a failure)."""
    if row_ids:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(row_ids)).values(claimed_until=None)
        )


def retry_dead(*, session: Session, now: datetime, row_id: int | None = None) -> int:
    """Put dead rows (one, or all) back in the queue; how many."""
    query = update(OutboxMessage).where(OutboxMessage.status == DEAD)
    if row_id is not None:
        query = query.where(OutboxMessage.id == row_id)
    result = session.execute(query.values(status=PENDING, next_attempt_at=now, attempts=0))
    return int(getattr(result, "rowcount", 0) or 0)


def rows(*, session: Session, status: str, limit: int = 200) -> list[OutboxMessage]:
    """Rows in a state, oldest first."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == status)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class Backlog:
    """How far behind delivery is."""

    pending: int
    dead: int
    oldest_pending: datetime | None


def backlog(*, session: Session) -> Backlog:
    """The number of pending and dead rows, and when the oldest pending one was written."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status != SENT)
            .group_by(OutboxMessage.status)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == PENDING)
    )
    return Backlog(int(counts.get(PENDING, 0)), int(counts.get(DEAD, 0)), oldest)


def dead_by_place(*, session: Session) -> list[tuple[str, int, str]]:
    """For each place with dead letters: `platform:address`, how many, the latest error."""
    place = (OutboxMessage.platform, OutboxMessage.address)
    per_place = (
        select(*place, func.count().label("count"), func.max(OutboxMessage.id).label("latest"))
        .where(OutboxMessage.status == DEAD)
        .group_by(*place)
        .subquery()
    )
    named = (per_place.c.platform, per_place.c.address)
    rows = session.execute(
        select(*named, per_place.c.count, OutboxMessage.last_error)
        .join(OutboxMessage, OutboxMessage.id == per_place.c.latest)
        .order_by(*named)
    ).all()
    return [
        (f"{platform}:{address}", int(count), error or "")
        for platform, address, count, error in rows
    ]


def next_attempt(*, session: Session) -> datetime | None:
    """When the head of some destination's queue may next be tried (or is free again)."""
    when = func.coalesce(OutboxMessage.claimed_until, OutboxMessage.next_attempt_at)
    return session.scalar(select(func.min(when)).where(OutboxMessage.id.in_(_heads())))


def _heads() -> Select[Any]:
    """The oldest pending row of each destination: only it may be sent next."""
    return (
        select(func.min(OutboxMessage.id))
        .where(OutboxMessage.status == PENDING)
        .group_by(OutboxMessage.platform, OutboxMessage.address)
    )


def _claimed(row: OutboxMessage) -> Claimed:
    maybe_sent = row.claimed_until is not None
    return Claimed(row.id, row.place, message_from_json(row.payload), row.attempts, maybe_sent)
