"""The daily digest: gathered from the database for one destination, rendered by the pure core."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.domain.case import Place
from bot.domain.commands import CommandError
from bot.domain.commands import Digest as DigestCommand
from bot.domain.digest import DigestInput, DigestStep, digest_message
from bot.domain.directory import Contact
from bot.domain.messages import Message, Note, Paragraph
from bot.domain.reminders import LATE_NOTE
from bot.domain.schedule import next_local_time
from bot.store.contacts import all_contacts
from bot.store.models import Case, ChecklistStep, Destination
from bot.store.outbox import dead_by_place
from bot.store.schedule import DELIVERABLE_PLATFORMS, destination_for
from handlers.context import Services
from handlers.loading import queued

DEFAULT_DIGEST_TIME = time(9, 0)


def build_digest(
    session: Session,
    services: Services,
    destination: Destination,
    now: datetime,
    *,
    late: bool = False,
) -> Message:
    """The digest for this destination's day, in its time zone (`late` after downtime)."""
    message = digest_message(gather_digest(session, services, destination, now))
    if not late:
        return message
    return Message(
        fallback=message.fallback + LATE_NOTE, blocks=(*message.blocks, Note(LATE_NOTE.strip()))
    )


def gather_digest(
    session: Session, services: Services, destination: Destination, now: datetime
) -> DigestInput:
    """What the digest of this destination's day reports."""
    zone = ZoneInfo(destination.timezone)
    day = now.astimezone(zone).date()
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    cases = list(
        session.scalars(
            select(Case)
            .where(Case.status == "open")
            .options(selectinload(Case.steps), selectinload(Case.targets))
            .order_by(Case.created_at)
        )
    )
    steps = [(c, s) for c in cases for s in c.steps if s.status == "open"]
    data = DigestInput(
        day=day,
        tz=zone,
        new_cases=[
            (c.code, services.country_name(c.country), c.severity)
            for c in session.scalars(
                select(Case).where(Case.created_at >= now - timedelta(hours=24)).order_by(Case.id)
            )
        ],
        overdue=[_line(c, s) for c, s in steps if s.measure_id is None and s.due_at < now],
        due_today=[
            _line(c, s) for c, s in steps if s.measure_id is None and now <= s.due_at < end_of_day
        ],
        measures_due=[_line(c, s) for c, s in steps if s.measure_id and s.due_at < end_of_day],
        unowned_cases=[c.code for c in cases if not any(s.assignee for s in c.steps)],
        stale_contacts=_stale_contacts(session, cases, now.astimezone(zone).date()),
        undelivered=dead_by_place(session=session),
    )
    return data


def _line(case: Case, step: ChecklistStep) -> DigestStep:
    return DigestStep(
        code=case.code,
        n=step.n,
        title=step.title,
        owner=step.assignee or step.owner_role,
        due_at=step.due_at,
    )


def _stale_contacts(session: Session, cases: list[Case], today: date) -> list[str]:
    relied_on = [c for c in all_contacts(session=session) if c.is_stale(today)]
    lines = []
    for contact in relied_on:
        codes = [case.code for case in cases if _relies_on(case, contact)]
        if codes:
            lines.append(f"{contact.describe(None)} — for {', '.join(codes)}")
    return lines


def _relies_on(case: Case, contact: Contact) -> bool:
    institutions = {t.institution for t in case.targets}
    if contact.institution == "embassy":
        return contact.country == case.country and f"embassy:{contact.government}" in institutions
    if contact.institution == "oecd_ncp":
        return f"oecd_ncp:{contact.country}" in institutions
    return contact.institution in institutions and contact.country in (None, case.country)


def digest_command(command: DigestCommand, *, place: Place, services: Services) -> Message:
    """`ua digest`: the digest here, now. `ua digest at 09:00 Zone`: set this place's daily time."""
    now = services.clock()
    with services.transaction() as session:
        destination = ensure_destination(session=session, place=place, services=services, now=now)
        if destination is None:
            raise CommandError("Digests go to chat channels and rooms, not to this surface.")
        if command.at is None:
            digest = build_digest(session, services, destination, now)
            return queued(session, services, place, replace(digest, public=True), None)
        zone = _zone(command.zone or destination.timezone)
        destination.digest_time = command.at.strftime("%H:%M")
        destination.timezone = zone.key
        destination.next_digest_at = next_local_time(now, command.at, zone)
        when = destination.next_digest_at.astimezone(ZoneInfo(destination.timezone))
        text = (
            f"Daily digest here at {destination.digest_time} {destination.timezone}; "
            f"next on {when.strftime('%a %d %b %H:%M %Z')}."
        )
    return Message(fallback=text, blocks=(Paragraph(text),))


def leads_here(*, place: Place, services: Services) -> Message:
    """`ua leads here`: this room receives the escalations case leads leave open."""
    now = services.clock()
    with services.transaction() as session:
        room = ensure_destination(session=session, place=place, services=services, now=now)
        if room is None:
            raise CommandError("The leads' room must be a chat channel or room.")
        for other in session.scalars(select(Destination).where(Destination.is_lead.is_(True))):
            other.is_lead = False
        room.is_lead = True
    text = "This is now the team leads' room: escalations past the case lead come here."
    return Message(fallback=text, blocks=(Paragraph(text),))


def _zone(name: str) -> ZoneInfo:
    if name not in available_timezones():
        raise CommandError(
            f"'{name}' is not a time zone; use an IANA name such as America/Tegucigalpa."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandError(
            f"'{name}' is not a time zone; use an IANA name such as America/Tegucigalpa."
        ) from None


def ensure_destination(
    *, session: Session, place: Place, services: Services, now: datetime
) -> Destination | None:
    """The place's destination, created with a 09:00 digest in the organisation's time zone."""
    if place.platform not in DELIVERABLE_PLATFORMS:
        return None
    destination = destination_for(session=session, place=place)
    if destination is None:
        zone = getattr(services.tz, "key", "UTC")
        destination = Destination(
            platform=place.platform,
            address=place.address,
            encrypted=place.encrypted,
            timezone=zone,
            digest_time=DEFAULT_DIGEST_TIME.strftime("%H:%M"),
            created_at=now,
            next_digest_at=next_local_time(now, DEFAULT_DIGEST_TIME, ZoneInfo(zone)),
        )
        session.add(destination)
        session.flush()
    return destination
