"""The directory as admins use it: import a file, list contacts, find stale ones."""

from __future__ import annotations

from pathlib import Path

from bot.domain.alert import Alert
from bot.domain.directory import Contact, Directory
from bot.store import contacts as store
from bot.store.contacts import ImportSummary
from config.directory import read_directory
from handlers.context import Services


def import_directory(path: Path, *, replace: bool, services: Services) -> ImportSummary:
    """Validate the whole file first; store it in one transaction only if every row is valid."""
    contacts = read_directory(path, services.world)
    with services.transaction() as session:
        return store.import_contacts(
            session=session, contacts=contacts, now=services.clock(), replace=replace
        )


def list_contacts(*, country: str | None, services: Services) -> list[Contact]:
    """Contacts, optionally in one country (any spelling of it)."""
    code = services.world.countries.resolve(country).alpha2 if country else None
    with services.transaction() as session:
        return store.all_contacts(session=session, country=code)


def stale_contacts(*, days: int, services: Services) -> list[Contact]:
    """Contacts not verified within `days`, or never."""
    today = services.today()
    return [c for c in list_contacts(country=None, services=services) if c.is_stale(today, days)]


def directory_for(alert: Alert, services: Services) -> Directory:
    """The part of the directory routing may use for this alert: its countries and general desks."""
    countries = [alert.country]
    if alert.business and alert.business.home_country:
        countries.append(alert.business.home_country)
    with services.transaction() as session:
        return store.load_directory(session=session, countries=countries)
