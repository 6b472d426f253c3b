"""Partners as stored: name, sealed secret, destinations, rate limit, revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Partner


@dataclass(frozen=True, slots=True)
class PartnerAccess:
    """What a request from a partner is checked against."""

    name: str
    secret: str
    destinations: tuple[str, ...]
    rate_per_minute: int
    revoked: bool


def find_partner(*, session: Session, name: str) -> PartnerAccess | None:
    """The partner called `name`, revoked or not; None when there is none."""
    row = session.scalar(select(Partner).where(Partner.name == name))
    if row is None:
        return None
    return PartnerAccess(
        name=row.name,
        secret=row.secret,
        destinations=tuple(row.destinations),
        rate_per_minute=row.rate_per_minute,
        revoked=row.revoked_at is not None,
    )


def add_partner(
    *,
    session: Session,
    name: str,
    secret: str,
    destinations: list[str],
    rate_per_minute: int,
    now: datetime,
) -> None:
    """A new partner, or a revoked one given a fresh secret and settings."""
    row = session.scalar(select(Partner).where(Partner.name == name))
    if row is None:
        row = Partner(name=name, created_at=now)
        session.add(row)
    row.secret, row.destinations, row.rate_per_minute = secret, destinations, rate_per_minute
    row.revoked_at = None


def revoke_partner(*, session: Session, name: str, now: datetime) -> bool:
    """Refuse the partner's requests from now on; False when there is no such partner."""
    row = session.scalar(select(Partner).where(Partner.name == name))
    if row is None:
        return False
    row.revoked_at = row.revoked_at or now
    return True


def all_partners(*, session: Session) -> list[Partner]:
    """Every partner, by name."""
    return list(session.scalars(select(Partner).order_by(Partner.name)))
