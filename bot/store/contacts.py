"""The organisation's directory in the database: import, list, and load for routing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.domain.directory import Contact, Directory
from bot.store.models import Contact as ContactRow


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import changed."""

    added: int
    updated: int
    removed: int


def identity_of(contact: Contact) -> str:
    """What makes two directory rows the same contact: the email, else the name and role."""
    return (contact.email or f"{contact.name or ''}|{contact.role}").lower()


def import_contacts(
    *, session: Session, contacts: Iterable[Contact], now: datetime, replace: bool = False
) -> ImportSummary:
    """Add new contacts and update known ones; with `replace`, remove those not in the import."""
    existing = {_key(row): row for row in session.scalars(select(ContactRow))}
    added = updated = 0
    seen: set[tuple[str, str, str, str]] = set()
    for contact in contacts:
        key = (
            contact.institution,
            contact.government or "",
            contact.country or "",
            identity_of(contact),
        )
        seen.add(key)
        row = existing.get(key)
        if row is None:
            row = ContactRow(institution=key[0], government=key[1], country=key[2], identity=key[3])
            session.add(row)
            added += 1
        else:
            updated += 1
        _fill(row, contact, now)
    removed = 0
    if replace:
        stale_ids = [row.id for key, row in existing.items() if key not in seen]
        if stale_ids:
            session.execute(delete(ContactRow).where(ContactRow.id.in_(stale_ids)))
        removed = len(stale_ids)
    return ImportSummary(added=added, updated=updated, removed=removed)


def _key(row: ContactRow) -> tuple[str, str, str, str]:
    return (row.institution, row.government, row.country, row.identity)


def _fill(row: ContactRow, contact: Contact, now: datetime) -> None:
    row.role = contact.role
    row.name = contact.name
    row.email = contact.email
    row.phone = contact.phone
    row.secure_channel = contact.secure_channel
    row.languages = list(contact.languages)
    row.verified_on = contact.verified_on
    row.updated_at = now


def all_contacts(*, session: Session, country: str | None = None) -> list[Contact]:
    """Every contact (in one country, when given), ordered for reading."""
    query = select(ContactRow).order_by(
        ContactRow.country, ContactRow.institution, ContactRow.government, ContactRow.identity
    )
    if country is not None:
        query = query.where(ContactRow.country == country)
    return [_contact(row) for row in session.scalars(query)]


def load_directory(*, session: Session, countries: Iterable[str]) -> Directory:
    """The contacts routing can use for a case in these countries, and those for no country."""
    query = select(ContactRow).where(ContactRow.country.in_(["", *countries]))
    return Directory.of(_contact(row) for row in session.scalars(query))


def _contact(row: ContactRow) -> Contact:
    return Contact(
        institution=row.institution,
        country=row.country or None,
        government=row.government or None,
        role=row.role,
        name=row.name,
        email=row.email,
        phone=row.phone,
        secure_channel=row.secure_channel,
        languages=tuple(row.languages),
        verified_on=row.verified_on,
    )
