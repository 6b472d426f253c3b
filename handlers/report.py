"""Reports of patterns of reprisals: `ua report`, `tocsin report`, and the weekly summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.domain.commands.forms import CommandError, ReportRequest, WeeklyReport
from bot.domain.commands.request import Command
from bot.domain.countries import UnknownCountryError
from bot.domain.local_time import next_weekly_time, parse_time_of_day
from bot.domain.messages import Message, Paragraph
from bot.domain.report import (
    Report,
    Scope,
    build_report,
    date_problem,
    periods,
    whole_periods,
)
from bot.domain.report_view import report_chart, report_message
from bot.store.db import read_only_session
from bot.store.models import Destination
from bot.store.report import gather_report
from handlers.context import Services
from handlers.digest import DEFAULT_DIGEST_TIME, ensure_destination
from handlers.registry import handles

# Enough bars to read a trend; more (weeks over years) is a table, not a chart.
MAX_PERIODS = 400
DEFAULT_MONTHS = 12
WEEKLY_CHART_WEEKS = 12
MONDAY = 0


def default_since(today: date, months: int = DEFAULT_MONTHS) -> date:
    """The first day of the month `months - 1` months before today's: a year of whole months."""
    month_index = today.year * 12 + today.month - 1 - (months - 1)
    return date(month_index // 12, month_index % 12 + 1, 1)


def utc_today(services: Services) -> date:
    """Today as reports count days: the UTC date, whatever the organisation's time zone."""
    return services.clock().astimezone(UTC).date()


def resolve_scope(request: ReportRequest, services: Services) -> Scope:
    """The request's period, checked and widened to whole months (or weeks) up to today, and
    its country, checked."""
    since, until = _dates(request, utc_today(services))
    country = _country(request, services)
    scope = Scope(since=since, until=until, country=country, period=request.period)
    if len(periods(scope)) > MAX_PERIODS:
        raise CommandError(
            f"That is over {MAX_PERIODS} {scope.period}s; choose a shorter period or period=month."
        )
    return scope


def _dates(request: ReportRequest, today: date) -> tuple[date, date]:
    """The dates asked for, checked, by default a year of months up to today, and widened to
    whole months (or weeks) so that two reports never differ by a single day."""
    for name, day in (("since", request.since), ("until", request.until)):
        problem = date_problem(name, day, today) if day else None
        if problem:
            raise CommandError(problem)
    since = request.since or default_since(today)
    until = request.until or today
    if since > until:
        swap = "swap them" if request.since else "give an earlier since"
        raise CommandError(f"since ({since}) is after until ({until}); {swap}.")
    since, until = whole_periods(since, until, request.period, today)
    if since > until:
        raise CommandError(f"since ({request.since}) is in a {request.period} still to come.")
    return since, until


def _country(request: ReportRequest, services: Services) -> str | None:
    """The alpha-2 code of the country asked for, or None for all."""
    if not request.country:
        return None
    try:
        return services.world.countries.resolve(request.country).alpha2
    except UnknownCountryError as error:
        raise CommandError(str(error)) from None


def make_report(session: Session, services: Services, scope: Scope) -> Report:
    """Count and publish the report of a scope (suppression applied)."""
    names = {country.alpha2: country.name for country in services.world.countries}
    return build_report(
        gather_report(session, scope), country_names=names, generated_at=services.clock()
    )


@handles(ReportRequest)
def report_command(asked: ReportRequest, request: Command, services: Services) -> Message:
    """`ua report …`: the report posted for the whole channel, with its chart unless asked."""
    scope = resolve_scope(asked, services)
    with read_only_session(services.sessions) as session:
        report = make_report(session, services, scope)
    where = services.country_name(scope.country) if scope.country else None
    return report_message(
        report, where=where, chart=report_chart(report, where=where) if asked.chart else None
    )


@handles(WeeklyReport)
def weekly_command(switch: WeeklyReport, request: Command, services: Services) -> Message:
    """`ua report weekly on|off`: the summary of the week every Monday at the digest's time."""
    place = request.place
    now = services.clock()
    with services.transaction() as session:
        destination = ensure_destination(session=session, place=place, services=services, now=now)
        if destination is None:
            raise CommandError("Weekly summaries go to chat channels and rooms.")
        if not switch.on:
            destination.next_weekly_report_at = None
            text = "No more weekly summaries here. Turn them on again with: ua report weekly on"
        else:
            destination.next_weekly_report_at = next_weekly_report(destination, now)
            zone = ZoneInfo(destination.timezone)
            when = destination.next_weekly_report_at.astimezone(zone)
            text = (
                f"A summary of the week will come here every Monday at "
                f"{when.strftime('%H:%M')} {destination.timezone} (the digest's time); "
                f"the first on {when.strftime('%a %d %b')}."
            )
    return Message(fallback=text, blocks=(Paragraph(text),), public=True)


def next_weekly_report(destination: Destination, after: datetime) -> datetime:
    """Monday at the destination's digest time (09:00 without one), in its time zone."""
    at = parse_time_of_day(destination.digest_time) if destination.digest_time else None
    return next_weekly_time(
        after, MONDAY, at or DEFAULT_DIGEST_TIME, ZoneInfo(destination.timezone)
    )


def last_week(now: datetime) -> Scope:
    """The last whole Monday-to-Sunday week before `now`, in UTC days as reports count them:
    where the summary comes before Monday in UTC, the week before that, so every case is in
    one summary."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7)
    return Scope(since=monday, until=monday + timedelta(days=6), period="week")


def weekly_summary(
    session: Session, services: Services, destination: Destination, now: datetime
) -> Message:
    """The last UTC week's report (the same for every destination, whatever its time zone),
    with a chart of the twelve weeks to its end, week by week."""
    week = last_week(now)
    trend = replace(week, since=week.since - timedelta(weeks=WEEKLY_CHART_WEEKS - 1))
    report = make_report(session, services, week)
    chart = report_chart(make_report(session, services, trend))
    return report_message(
        report, title="Weekly summary", chart=replace(chart, name="tocsin-weekly")
    )
