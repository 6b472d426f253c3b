"""Cases in the database: open, list, fetch. Keyword-only, one session passed in."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from bot.domain.alert import Alert
from bot.domain.case import CaseView, StepView, TargetView
from bot.domain.commands.words import format_case_code
from bot.domain.duplicates import Recent
from bot.domain.places import Place
from bot.domain.triage import Triage
from bot.store.acting import acting_device
from bot.store.models import (
    AuditEvent,
    Case,
    CaseCounter,
    CaseThreat,
    ChecklistStep,
    Defender,
    Target,
)


def open_case(
    *, session: Session, triage: Triage, actor: str, place: Place, now: datetime, tz: tzinfo
) -> Case:
    """Store a new case with its defender, threats, targets, steps and an audit event.

    Targets and steps (a few dozen rows) go in as one multi-row INSERT each, not object by
    object through the unit of work (which took most of a case's save time), and are read back
    so the returned case has them, in order."""
    year = now.astimezone(tz).year
    case = _new_case(
        triage=triage,
        actor=actor,
        now=now,
        year=year,
        number=_next_number(session=session, year=year),
    )
    case.origin_platform, case.origin_address = place.platform, place.address
    session.add(case)
    session.flush()
    targets = [
        {
            "case_id": case.id,
            "position": i,
            "category": t.category.value,
            "institution": t.institution,
            "name": t.name,
            "reason": t.reason,
            "contact": t.contact,
            "status": "pending",
        }
        for i, t in enumerate(triage.targets)
    ]
    steps = [
        {
            "case_id": case.id,
            "n": s.n,
            "key": s.key,
            "title": s.title,
            "owner_role": s.owner_role.value,
            "status": "open" if s.gate_open else "blocked",
            "due_at": now + s.due,
            "next_reminder_at": now + s.due if s.gate_open else None,
            "target_name": s.target,
            "gated_by": f"consent.{s.gate.value}" if s.gate else None,
        }
        for s in triage.checklist
    ]
    for model, rows in ((Target, targets), (ChecklistStep, steps)):
        if rows:  # every row alike (NULLs written out), so one statement each
            session.execute(insert(model).execution_options(render_nulls=True), rows)
    session.refresh(case, ["targets", "steps"])
    device, trust = acting_device()
    session.add(
        AuditEvent(
            case_id=case.id,
            at=now,
            actor=actor,
            action="case_opened",
            destination=str(place),
            detail={"code": case.code},
            device=device,
            device_trust=trust,
        )
    )
    return case


def _next_number(*, session: Session, year: int) -> int:
    """Take the year's next number; the counter row stays locked until the transaction ends.
    Only a year's first case also creates the row (from the highest number stored)."""
    taken = _bump_counter(session=session, year=year)
    if taken is None:
        dialect = session.get_bind().dialect.name
        upsert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        highest_stored = (
            select(func.coalesce(func.max(Case.number), 0))
            .where(Case.year == year)
            .scalar_subquery()
        )
        session.execute(
            upsert(CaseCounter)
            .values(year=year, last_number=highest_stored)
            .on_conflict_do_nothing(index_elements=[CaseCounter.year])
        )
        taken = _bump_counter(session=session, year=year)
        assert taken is not None
    return taken


def _bump_counter(*, session: Session, year: int) -> int | None:
    """The year's counter plus one, now stored; None when the year has no counter yet."""
    taken = session.execute(
        update(CaseCounter)
        .where(CaseCounter.year == year)
        .values(last_number=CaseCounter.last_number + 1)
        .returning(CaseCounter.last_number)
    ).scalar_one_or_none()
    return None if taken is None else int(taken)


def _new_case(*, triage: Triage, actor: str, now: datetime, year: int, number: int) -> Case:
    alert = triage.alert
    case = Case(
        code=format_case_code(year, number),
        year=year,
        number=number,
        status="open",
        country=alert.country,
        severity=alert.effective_severity.value,
        severity_derived=alert.severity is None,
        profiles=[p.value for p in alert.profiles],
        perpetrators=[p.value for p in alert.perpetrators],
        summary=alert.summary,
        occurred_on=alert.occurred_on,
        place=alert.place,
        domestic_actions=alert.domestic_actions,
        earlier_incidents=alert.earlier_incidents,
        opened_by=actor,
        created_at=now,
        updated_at=now,
        consent_government=alert.consent.government,
        consent_un_public=alert.consent.un_public,
        consent_media=alert.consent.media,
        source_reported_by=alert.source.reported_by,
        source_external_id=alert.source.external_id,
        **_business(alert),
    )
    case.defender = Defender(
        name=alert.defender.name,
        organisation=alert.defender.organisation,
        gender=alert.defender.gender,
        work=alert.defender.work,
    )
    case.threats = [CaseThreat(position=i, threat=t.value) for i, t in enumerate(alert.threats)]
    return case


def _business(alert: Alert) -> dict[str, object]:
    business = alert.business
    if business is None:
        return {"company": None, "company_home_country": None, "financiers": []}
    return {
        "company": business.company,
        "company_home_country": business.home_country,
        "financiers": list(business.financiers),
    }


def list_cases(*, session: Session, include_closed: bool = False) -> list[Case]:
    """Cases newest first; only open ones unless asked."""
    query = (
        select(Case)
        .options(selectinload(Case.threats))
        .order_by(Case.created_at.desc(), Case.id.desc())
    )
    if not include_closed:
        query = query.where(Case.status == "open")
    return list(session.scalars(query))


def get_case(*, session: Session, code: str, for_update: bool = False) -> Case | None:
    """The case with this code and everything a detail view shows; locked when `for_update`."""
    query = (
        select(Case)
        .where(Case.code == code)
        .options(
            selectinload(Case.threats),
            selectinload(Case.targets),
            selectinload(Case.steps),
            selectinload(Case.defender),
        )
    )
    if for_update:
        query = query.with_for_update(of=Case)
    return session.scalar(query)


def recent_open_cases(*, session: Session, country: str, since: datetime) -> list[Recent]:
    """Open cases in the country opened since `since` whose defender is named (a case about an
    unnamed person is nobody's repeat), as the duplicate check reads them. Only the code, date,
    name and threats are read: a burst of alerts from one country must not decrypt and load
    every recent case in full for each new one."""
    cases = session.execute(
        select(Case.id, Case.code, Case.country, Case.created_at, Defender.name)
        .join(Defender, Defender.case_id == Case.id)
        .where(
            Case.country == country,
            Case.status == "open",
            Case.created_at >= since,
            Defender.name.is_not(None),
        )
    ).all()
    threats: dict[int, set[str]] = {case.id: set() for case in cases}
    if threats:
        for case_id, threat in session.execute(
            select(CaseThreat.case_id, CaseThreat.threat).where(CaseThreat.case_id.in_(threats))
        ):
            threats[case_id].add(threat)
    return [
        Recent(
            code=c.code,
            country=c.country,
            threats=frozenset(threats[c.id]),
            opened_at=c.created_at,
            defender=c.name,
        )
        for c in cases
    ]


def case_by_source(*, session: Session, source_id: str) -> Case | None:
    """The case an alert with this source id opened, if any."""
    return session.scalar(select(Case).where(Case.source_external_id == source_id))


def case_view(
    case: Case, *, country_name: str, detail: bool = False, identity: bool = False
) -> CaseView:
    """Plain data for rendering (targets and steps with `detail`, the defender with `identity`);
    `disclose` it for the place it goes to."""
    defender = case.defender if identity else None
    return CaseView(
        code=case.code,
        status=case.status,
        country=case.country,
        country_name=country_name,
        severity=case.severity,
        profiles=tuple(case.profiles),
        threats=tuple(t.threat for t in case.threats),
        summary=case.summary,
        opened_at=case.created_at,
        targets=tuple(
            TargetView(
                category=t.category,
                name=t.name,
                reason=t.reason,
                contact=t.contact,
                status=t.status,
                reply=t.reply,
                institution=t.institution,
            )
            for t in (case.targets if detail else ())
        ),
        steps=tuple(
            StepView(
                n=s.n,
                title=s.title,
                owner_role=s.owner_role,
                assignee=s.assignee,
                status=s.status,
                due_at=s.due_at,
                gated_by=s.gated_by,
                note=s.note,
                key=s.key,
                target_name=s.target_name,
            )
            for s in (case.steps if detail else ())
        ),
        defender_name=defender.name if defender else None,
        defender_organisation=defender.organisation if defender else None,
        defender_gender=defender.gender if defender else None,
        defender_work=defender.work if defender else None,
        outcome=case.outcome,
        erased_at=case.erased_at,
        consents=(
            ("government", case.consent_government),
            ("un_public", case.consent_un_public),
            ("media", case.consent_media),
        ),
        occurred_on=case.occurred_on,
        perpetrators=tuple(case.perpetrators),
        company=case.company,
        place=case.place,
        domestic_actions=case.domestic_actions,
        earlier_incidents=case.earlier_incidents,
    )
