"""Partners as stored: name, sealed secret, destinations, rate limit, revocation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.alert import Alert
from bot.domain.partners import PartnerAccess
from bot.store.models import Case, Partner


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


def opened_by(case: Case, alert: Alert) -> bool:
    """Whether `alert` is the one that opened `case`, as far as the case keeps it: country,
    threats, profiles, perpetrators, date and severity, and, until erased, summary and defender."""
    return _kept(case) == _given(alert, erased=case.erased_at is not None)


def _kept(case: Case) -> tuple[object, ...]:
    facts = (
        case.country,
        tuple(t.threat for t in case.threats),
        tuple(case.profiles),
        tuple(case.perpetrators),
        case.occurred_on,
        case.severity,
    )
    if case.erased_at is not None:
        return facts
    defender = case.defender
    named = (defender.name, defender.organisation) if defender is not None else (None, None)
    return (*facts, case.summary, *named)


def _given(alert: Alert, *, erased: bool) -> tuple[object, ...]:
    facts = (
        alert.country,
        tuple(t.value for t in alert.threats),
        tuple(p.value for p in alert.profiles),
        tuple(p.value for p in alert.perpetrators),
        alert.occurred_on,
        alert.effective_severity.value,
    )
    if erased:
        return facts
    return (*facts, alert.summary, alert.defender.name, alert.defender.organisation)
