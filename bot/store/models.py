"""The database schema as typed SQLAlchemy models; Alembic migrations follow it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.domain.places import Place
from bot.store.sealing import SealedJSON, SealedText
from bot.store.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints the same way."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Case(Base):
    """What the team tracks: one alert about one defender, from opening to close."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("year", "number", name="uq_cases_year_number"),
        # The open cases, first opened first, with what the digest reads of them (`ua list`).
        Index("ix_cases_status_created_at", "status", "created_at", "id", "code", "country"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int]
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    severity_derived: Mapped[bool] = mapped_column(default=False)
    profiles: Mapped[list[str]] = mapped_column(default=list)
    perpetrators: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(SealedText)
    occurred_on: Mapped[date | None]
    # What UN submissions and precautionary-measure requests ask for (drafts): sensitive text.
    place: Mapped[str | None] = mapped_column(SealedText)
    domestic_actions: Mapped[str | None] = mapped_column(SealedText)
    earlier_incidents: Mapped[str | None] = mapped_column(SealedText)
    company: Mapped[str | None] = mapped_column(String(500))
    company_home_country: Mapped[str | None] = mapped_column(String(2))
    financiers: Mapped[list[str]] = mapped_column(default=list)
    consent_government: Mapped[bool] = mapped_column(default=False)
    consent_un_public: Mapped[bool] = mapped_column(default=False)
    consent_media: Mapped[bool] = mapped_column(default=False)
    source_reported_by: Mapped[str | None] = mapped_column(SealedText)
    # A partner's or Slack's id of the alert: the same id is the same case, never a second one.
    source_external_id: Mapped[str | None] = mapped_column(String(500), index=True, unique=True)
    opened_by: Mapped[str] = mapped_column(String(200))
    # Where the case was raised: reminders and escalations go back there.
    origin_platform: Mapped[str] = mapped_column(String(20), default="", server_default="")
    origin_address: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # The first step done or target contacted: a report's "time to first action".
    first_action_at: Mapped[datetime | None]
    # When the sensitive fields were erased (retention or `ua purge`); the statistics remain.
    erased_at: Mapped[datetime | None]

    defender: Mapped[Defender | None] = relationship(
        back_populates="case", cascade="all, delete-orphan", uselist=False
    )
    threats: Mapped[list[CaseThreat]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseThreat.position"
    )
    targets: Mapped[list[Target]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Target.position"
    )
    steps: Mapped[list[ChecklistStep]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="ChecklistStep.n"
    )
    measures: Mapped[list[Measure]] = relationship(
        back_populates="case", cascade="all, delete-orphan"
    )


class CaseCounter(Base):
    """The last case number given out in a year; its row lock serialises concurrent intake."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int]


class Defender(Base):
    """The person at risk: kept apart from the case so it can be protected on its own."""

    __tablename__ = "defenders"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str | None] = mapped_column(SealedText)
    organisation: Mapped[str | None] = mapped_column(SealedText)
    gender: Mapped[str | None] = mapped_column(SealedText)
    work: Mapped[str | None] = mapped_column(SealedText)

    case: Mapped[Case] = relationship(back_populates="defender")


class CaseThreat(Base):
    """One threat reported in a case; a row each, so patterns can be counted."""

    __tablename__ = "threats"
    __table_args__ = (UniqueConstraint("case_id", "threat", name="uq_threats_case_id_threat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    threat: Mapped[str] = mapped_column(String(40), index=True)

    case: Mapped[Case] = relationship(back_populates="threats")


class Target(Base):
    """An institution engaged on a case, why, and what came of it."""

    __tablename__ = "targets"
    # A case's targets, and which institutions it engages without reading them (the digest).
    __table_args__ = (Index("ix_targets_case_id_institution", "case_id", "institution"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    position: Mapped[int]
    category: Mapped[str] = mapped_column(String(40))
    institution: Mapped[str] = mapped_column(String(120), default="", server_default="")
    name: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    contacted_at: Mapped[datetime | None]
    reply: Mapped[str | None] = mapped_column(SealedText)
    replied_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="targets")


class ChecklistStep(Base):
    """One step of a case's escalation checklist."""

    __tablename__ = "checklist_steps"
    __table_args__ = (
        UniqueConstraint("case_id", "n", name="uq_checklist_steps_case_id_n"),
        # A case's steps, and whether anyone took one without reading them (the digest).
        Index("ix_checklist_steps_case_id_assignee", "case_id", "assignee"),
        # A case's open steps by due time, with what the digest sorts them by: done and
        # skipped steps are not in it, so it stays small however many steps are finished.
        Index(
            "ix_checklist_steps_open",
            "case_id",
            "due_at",
            "n",
            "measure_id",
            "assignee",
            "owner_role",
            "id",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    n: Mapped[int]
    # The playbook step it came from, so reminders and reports can tell steps apart.
    key: Mapped[str] = mapped_column(String(60), default="", server_default="")
    title: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    due_at: Mapped[datetime] = mapped_column(index=True)
    target_name: Mapped[str | None] = mapped_column(String(300))
    gated_by: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(SealedText)
    completed_at: Mapped[datetime | None]
    # The scheduler's state lives here, not in the scheduler: reminders sent, and when to act next.
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    next_reminder_at: Mapped[datetime | None] = mapped_column(index=True)
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id", ondelete="SET NULL"))

    case: Mapped[Case] = relationship(back_populates="steps")


class Measure(Base):
    """A precautionary or provisional measure requested or granted, and its follow-up rhythm."""

    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    requested_on: Mapped[date | None]
    granted_on: Mapped[date | None]
    follow_up_every_days: Mapped[int | None]
    next_follow_up_at: Mapped[datetime | None] = mapped_column(index=True)
    decided_on: Mapped[date | None]
    updated_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="measures")


class Destination(Base):
    """A Slack channel, Matrix room or console where Tocsin posts, bound to a case or a team."""

    __tablename__ = "destinations"
    __table_args__ = (
        UniqueConstraint("platform", "address", name="uq_destinations_platform_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    label: Mapped[str | None] = mapped_column(String(200))
    encrypted: Mapped[bool] = mapped_column(default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    team: Mapped[str | None] = mapped_column(String(100))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    digest_time: Mapped[str | None] = mapped_column(String(5))
    next_digest_at: Mapped[datetime | None] = mapped_column(index=True)
    # When the weekly summary is next due; None: the place has not asked for one.
    next_weekly_report_at: Mapped[datetime | None]
    # Escalations that the case lead has not answered go to the team's lead destination.
    is_lead: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[datetime]
    # Tocsin acts only where an admin bound it (`ua bind`); unbinding keeps the row's history.
    bound_at: Mapped[datetime | None]
    bound_by: Mapped[str | None] = mapped_column(String(320))
    # None: the place's default (minimal in Slack and unencrypted rooms).
    disclosure: Mapped[str | None] = mapped_column(String(10))

    roles: Mapped[list[DestinationRole]] = relationship(
        back_populates="destination", cascade="all, delete-orphan"
    )

    @property
    def place(self) -> Place:
        """The channel or room this destination is."""
        return Place(self.platform, self.address, self.encrypted)


class DestinationRole(Base):
    """One person's role in one destination (`*`: everyone without a role of their own)."""

    __tablename__ = "destination_roles"
    __table_args__ = (
        UniqueConstraint("destination_id", "principal", name="uq_destination_roles_principal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    principal: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    granted_by: Mapped[str] = mapped_column(String(320))
    granted_at: Mapped[datetime]

    destination: Mapped[Destination] = relationship(back_populates="roles")


class Contact(Base):
    """A person or desk in the organisation's directory (staff of an embassy, a mandate, a fund)."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint(
            "institution", "government", "country", "identity", name="uq_contacts_identity"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(String(100), index=True)
    government: Mapped[str] = mapped_column(String(2), default="")
    country: Mapped[str] = mapped_column(String(2), default="", index=True)
    # The email, or the name and role when there is no email: what makes a contact the same one.
    identity: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    secure_channel: Mapped[str | None] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(default=list)
    verified_on: Mapped[date | None]
    updated_at: Mapped[datetime]


class Partner(Base):
    """An organisation whose web form or case system sends alerts over signed HTTP."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    # The HMAC secret, sealed like case files: shown once when made, never again.
    secret: Mapped[str] = mapped_column(SealedText)
    # Where its alerts' cases are posted: `slack:C0123`, `matrix:!room:example.org`.
    destinations: Mapped[list[str]] = mapped_column(default=list)
    rate_per_minute: Mapped[int] = mapped_column(default=60)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class PostedMessage(Base):
    """A message posted under a key (`checklist:UA-2026-0042`) in a channel, to edit in place."""

    __tablename__ = "posted_messages"
    __table_args__ = (
        UniqueConstraint("platform", "address", "key", name="uq_posted_messages_place_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(300))


class AuditEvent(Base):
    """An append-only record of a change: who, when, what, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_case_id_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    destination: Mapped[str | None] = mapped_column(String(320))
    detail: Mapped[dict[str, Any]] = mapped_column(SealedJSON, default=dict)
    # The device that sent the command, and how it was trusted (Matrix: cross-signed, ...).
    device: Mapped[str | None] = mapped_column(String(100))
    device_trust: Mapped[str | None] = mapped_column(String(40))


class OutboxMessage(Base):
    """A message Tocsin must deliver, written in the transaction of the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    PENDING: ClassVar[str] = "pending"
    SENT: ClassVar[str] = "sent"
    DEAD: ClassVar[str] = "dead"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    encrypted: Mapped[bool] = mapped_column(default=False)
    # The case the message is about, so erasing the case drops its undelivered messages.
    case_code: Mapped[str | None] = mapped_column(String(20), index=True)
    # The message, sealed (emptied once delivered): in a full-disclosure room it names the defender.
    payload: Mapped[dict[str, Any]] = mapped_column(SealedJSON)
    # pending → sent, or dead (a permanent failure: the channel archived, the bot removed).
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    # A dispatcher holds the row until then; another may take it afterwards.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    @property
    def place(self) -> Place:
        """Where the message goes."""
        return Place(self.platform, self.address, self.encrypted)
