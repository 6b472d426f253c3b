"""The daily digest: gathered from the database for one destination, rendered by the pure core."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.commands.forms import CommandError, LeadsHere
from bot.domain.commands.forms import Digest as DigestCommand
from bot.domain.commands.request import Command
from bot.domain.digest import SHOWN, DigestInput, DigestStep, digest_message
from bot.domain.directory import Contact
from bot.domain.local_time import next_local_time
from bot.domain.messages import Message, Paragraph
from bot.domain.places import Place
from bot.domain.reminders import marked_late
from bot.outbox.queue import dead_by_place
from bot.store import digest as digest_store
from bot.store.contacts import all_contacts
from bot.store.destinations import destination_for
from bot.store.digest import OVERDUE, Listed
from bot.store.models import Destination
from handlers.context import Services
from handlers.loading import queued
from handlers.registry import handles

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
    return marked_late(message) if late else message


def gather_digest(
    session: Session, services: Services, destination: Destination, now: datetime
) -> DigestInput:
    """What the digest of this destination's day reports: each section's first SHOWN lines and
    its size, read in a few queries whatever the number of open cases and steps."""
    zone = ZoneInfo(destination.timezone)
    day = now.astimezone(zone).date()
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    new = digest_store.new_cases(session=session, since=now - timedelta(hours=24), limit=SHOWN)
    steps = digest_store.due_steps_by_section(
        session=session, now=now, end_of_day=end_of_day, limit=SHOWN
    )
    unowned, stale_contacts = _open_case_sections(session, day)
    overdue = {key: listed for key, listed in steps.items() if key.startswith(OVERDUE)}
    nothing: Listed[DigestStep] = Listed([], 0)
    due_today, measures_due = steps.get("due_today", nothing), steps.get("measures_due", nothing)
    return DigestInput(
        day=day,
        tz=zone,
        new_cases=[(c, services.country_name(country), sev) for c, country, sev in new.first],
        overdue=[step for listed in overdue.values() for step in listed.first],
        due_today=due_today.first,
        measures_due=measures_due.first,
        unowned_cases=unowned.first,
        stale_contacts=stale_contacts,
        undelivered=dead_by_place(session=session),
        totals={
            "new_cases": new.total,
            "due_today": due_today.total,
            "measures_due": measures_due.total,
            "unowned_cases": unowned.total,
            **{key: listed.total for key, listed in overdue.items()},
        },
    )


def _open_case_sections(session: Session, today: date) -> tuple[Listed[str], list[str]]:
    """From one pass over the open cases: those nobody has taken a step of (the first SHOWN,
    and how many), and a line for each contact not verified for 180 days that open cases rely
    on, naming the first SHOWN of those cases."""
    stale = [c for c in all_contacts(session=session) if c.is_stale(today)]
    # The stale contacts a case relies on, by the institution its target engages: each with
    # the country the case must be in (None: any).
    serving: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for k, contact in enumerate(stale):
        institution, country = _relied_on_as(contact)
        serving[institution].append((k, country))
    unowned: list[str] = []
    unowned_total = 0
    relying: list[list[str]] = [[] for _ in stale]
    relying_total = [0 for _ in stale]
    for code, country, owned, engages in digest_store.open_cases(
        session=session, with_institutions=bool(serving)
    ):
        if not owned:
            unowned_total += 1
            if unowned_total <= SHOWN:
                unowned.append(code)
        for institution in set(engages) if len(engages) > 1 else engages:
            for k, needed in serving.get(institution, ()):
                if needed is None or needed == country:
                    relying_total[k] += 1
                    if relying_total[k] <= SHOWN:
                        relying[k].append(code)
    lines = []
    for contact, codes, total in zip(stale, relying, relying_total, strict=True):
        if total:
            more = f" and {total - len(codes):,} more" if total > len(codes) else ""
            lines.append(f"{contact.describe(None)} — for {', '.join(codes)}{more}")
    return Listed(unowned, unowned_total), lines


def _relied_on_as(contact: Contact) -> tuple[str, str | None]:
    """The institution a case's target engages when the case relies on this contact, and the
    country the case must be in (None: any). An embassy serves the cases in its country; an
    OECD national contact point every case that engages it, wherever the case is."""
    if contact.institution == "embassy":
        # An embassy with no country serves no case: "" matches no case's country.
        return f"embassy:{contact.government}", contact.country or ""
    if contact.institution == "oecd_ncp":
        return f"oecd_ncp:{contact.country}", None
    return contact.institution, contact.country


@handles(DigestCommand)
def digest_command(command: DigestCommand, request: Command, services: Services) -> Message:
    """`ua digest`: the digest here, now. `ua digest at 09:00 Zone`: set this place's daily time."""
    place = request.place
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


@handles(LeadsHere)
def leads_here(form: LeadsHere, request: Command, services: Services) -> Message:
    """`ua leads here`: this room receives the escalations case leads leave open."""
    place = request.place
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
    if not place.deliverable:
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
