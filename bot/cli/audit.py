"""`tocsin audit [--case CODE]`: who did what, where and when, oldest first."""

from __future__ import annotations

import argparse
import json
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app import opened
from bot.domain.case import FREE_TEXT_DETAILS
from bot.domain.commands.forms import CommandError
from bot.domain.commands.words import normalise_case_code
from bot.errors import InputError
from bot.store.models import AuditEvent, Case
from config.settings import Settings


def add_audit_commands(commands: Any) -> None:
    """`tocsin audit`."""
    audit = commands.add_parser(
        "audit", help="print the audit trail: every change, binding, role and read of names"
    )
    audit.add_argument("--case", metavar="CODE", help="only this case (UA-2026-0042)")
    audit.add_argument(
        "--limit", type=int, default=1000, metavar="N", help="the last N events (default 1000)"
    )
    audit.set_defaults(action=_audit)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    code = _code(args.case) if args.case else None
    with opened(settings) as app, app.services.transaction() as session:
        for line in audit_lines(session, code=code, limit=max(args.limit, 1)):
            print(line)
    return 0


def audit_lines(session: Session, *, code: str | None, limit: int) -> list[str]:
    """One line an event: time (UTC), case or -, actor, action, place, details without notes."""
    query = select(AuditEvent, Case.code).outerjoin(Case, AuditEvent.case_id == Case.id)
    if code is not None:
        case_id = session.scalar(select(Case.id).where(Case.code == code))
        if case_id is None:
            raise InputError(f"no case {code}")
        query = query.where(AuditEvent.case_id == case_id)
    rows = list(session.execute(query.order_by(AuditEvent.id.desc()).limit(limit)))
    return [_line(event, case_code) for event, case_code in reversed(rows)]


def _line(event: AuditEvent, case_code: str | None) -> str:
    # Typed notes stay out of a terminal whose output may be kept; `ua log` shows them in a
    # room whose disclosure allows.
    detail = {k: v for k, v in event.detail.items() if k not in FREE_TEXT_DETAILS}
    shown = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else ""
    at = event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = (at, case_code or "-", event.actor, event.action, event.destination or "-", shown)
    return "  ".join(part for part in parts if part)


def _code(text: str) -> str:
    try:
        return normalise_case_code(text)
    except CommandError as error:
        raise InputError(str(error)) from None
