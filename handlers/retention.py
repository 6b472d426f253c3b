"""Retention: closed cases lose their sensitive fields after a while, or at once by `ua purge`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.domain.commands.forms import Purge
from bot.domain.commands.request import Command
from bot.domain.messages import Message, Paragraph
from bot.domain.places import Place
from bot.store.cases import get_case
from bot.store.changes import record
from bot.store.erasure import erase_case, expired_cases, wipe_free_space
from handlers.context import Services
from handlers.loading import found, queued
from handlers.registry import handles

log = logging.getLogger(__name__)

RETENTION_ACTOR = "tocsin (retention)"


@handles(Purge)
def purge(command: Purge, request: Command, services: Services) -> Message:
    """`ua purge CODE`: say what it would erase; `ua purge CODE confirm`: erase it."""
    actor, place = request.actor, request.place
    if not command.confirmed:
        return _said(
            f"This erases for good the defender's name, organisation and gender, the summary, "
            f"the source, every note and every target's reply of {command.code}; its code, "
            f"categories, steps and dates stay for the statistics. To go ahead, type: "
            f"ua purge {command.code} confirm"
        )
    now = services.clock()
    with services.transaction() as session:
        case = found(get_case(session=session, code=command.code, for_update=True), command.code)
        erase_case(session=session, case=case, now=now)
        record(
            session=session,
            case=case,
            actor=actor,
            place=place,
            action="purged",
            now=now,
            detail={},
        )
        done = _said(
            f"{command.code}: the name, organisation, summary, source, notes and replies are "
            "erased from the database. Messages already posted in chat rooms are not touched.",
            public=True,
        )
        message = queued(session, services, place, done, None)
    wipe_free_space(_engine(services))
    log.info("purged the sensitive fields of %s", command.code)
    return message


def erase_expired(services: Services, now: datetime) -> list[str]:
    """Erase every closed case past the retention period; the codes erased."""
    closed_before = now - timedelta(days=services.retention_days)
    codes: list[str] = []
    with services.transaction() as session:
        for case in expired_cases(session=session, closed_before=closed_before):
            erase_case(session=session, case=case, now=now)
            record(
                session=session,
                case=case,
                actor=RETENTION_ACTOR,
                place=Place("tocsin", "retention"),
                action="purged",
                now=now,
                detail={"after_days": services.retention_days},
            )
            codes.append(case.code)
    if codes:
        wipe_free_space(_engine(services))
        log.info("retention erased %d closed cases: %s", len(codes), ", ".join(codes))
    return codes


def _engine(services: Services) -> Engine:
    bind = services.sessions.kw["bind"]
    return bind if isinstance(bind, Engine) else bind.engine  # tests bind a connection


def _said(text: str, *, public: bool = False) -> Message:
    return Message(fallback=text, blocks=(Paragraph(text),), public=public)
