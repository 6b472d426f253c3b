"""How each verb's words are read into its form. Every parser takes the verb and the whole text
after the prefix; a UsageError gets the verb's usage line added by the grammar (`table`)."""

from __future__ import annotations

from bot.domain.commands.alert_words import CONSENT_USES, parse_alert_words
from bot.domain.commands.forms import (
    Bind,
    CaseChange,
    CommandError,
    Digest,
    DraftAppeal,
    Help,
    LeadsHere,
    ListCases,
    NewCase,
    Purge,
    RecordFacts,
    RecordMeasure,
    RecordReply,
    ReportRequest,
    Roles,
    RouteAlert,
    SetConsent,
    SetDisclosure,
    SetRole,
    ShowCase,
    StepChange,
    Unbind,
    UsageError,
    WeeklyReport,
)
from bot.domain.commands.words import (
    NO,
    YES,
    iso_date,
    normalise_case_code,
    split_words,
    step_number,
    unquote,
    whole_number,
)
from bot.domain.durations import DurationError, parse_duration
from bot.domain.local_time import TimeOfDayError, parse_time_of_day

DISCLOSURE_LEVELS = ("minimal", "standard", "full")
ROLE_NAMES = ("observer", "responder", "lead", "admin")
MEASURE_STATES = ("requested", "granted", "extended", "lifted", "rejected")
FACT_KEYS = ("place", "work", "domestic_actions", "earlier_incidents", "occurred_on")
REPORT_PERIODS = ("month", "week")
_REPORT_KEYS = ("since", "until", "country", "period", "chart")
# Whether a step verb needs text after the step number (a person, a reason, a delay).
_STEP_TEXT_NEEDED = {"claim": False, "assign": True, "done": False, "skip": True, "snooze": True}


def _args(text: str) -> list[str]:
    """The words after the verb, split as a shell would."""
    return split_words(text)[1:]


def _code_and_rest(text: str, maxsplit: int) -> tuple[str, list[str]]:
    """The case code after the verb, and what follows it in at most `maxsplit - 1` parts
    (the last keeps its spaces and apostrophes as typed)."""
    parts = text.split(maxsplit=maxsplit)
    if len(parts) < 2:
        raise UsageError()
    return normalise_case_code(parts[1]), parts[2:]


# Cases and their steps: `VERB CODE …`, the last part free text --------------------------------


def parse_step(verb: str, text: str) -> StepChange:
    """`claim|assign|done|skip|snooze CODE N [text]`."""
    code, parts = _code_and_rest(text, 3)
    if not parts:
        raise UsageError()
    n = step_number(parts[0])
    rest = unquote(parts[1]) if len(parts) > 1 else ""
    if _STEP_TEXT_NEEDED[verb] and not rest:
        raise UsageError()
    if verb == "snooze":
        try:
            return StepChange(action=verb, code=code, n=n, delay=parse_duration(rest))
        except DurationError as error:
            raise UsageError(f"{error}.") from None
    return StepChange(action=verb, code=code, n=n, text=rest)


def parse_case_change(verb: str, text: str) -> CaseChange:
    """`note|close CODE text` and `reopen|log CODE`."""
    code, parts = _code_and_rest(text, 2)
    rest = unquote(" ".join(parts))
    takes_text = verb in ("note", "close")
    if takes_text != bool(rest):
        raise UsageError()
    return CaseChange(action=verb, code=code, text=rest)


def parse_consent(verb: str, text: str) -> SetConsent:
    """`consent CODE use=yes|no …`."""
    code, parts = _code_and_rest(text, 2)
    rest = unquote(" ".join(parts))
    if not rest:
        raise UsageError()
    changes: dict[str, bool] = {}
    for word in rest.split():
        use, _, answer = word.partition("=")
        use = use.lower()
        if use not in CONSENT_USES:
            raise CommandError(
                f"consent: '{use}' is not a use; accepted: {', '.join(CONSENT_USES)}."
            )
        if answer.lower() in YES:
            changes[use] = True
        elif answer.lower() in NO:
            changes[use] = False
        else:
            raise CommandError(f"consent: say {use}=yes or {use}=no.")
    return SetConsent(code=code, changes=changes)


def parse_reply(verb: str, text: str) -> RecordReply:
    """`reply CODE Tn text`."""
    code, parts = _code_and_rest(text, 3)
    if len(parts) < 2:
        raise UsageError()
    number = parts[0].upper().removeprefix("T")
    if not whole_number(number):
        raise CommandError(
            f"'{parts[0]}' is not a target number; targets are T1, T2 … in ua show {code}"
        )
    answer = unquote(parts[1])
    if not answer:
        raise UsageError("Say what the target answered.")
    return RecordReply(code=code, target=int(number), text=answer)


# Words split as a shell would ------------------------------------------------------------------


def parse_new(verb: str, text: str) -> NewCase:
    """`new key=value …`."""
    return NewCase(alert=parse_alert_words(_args(text)))


def parse_route(verb: str, text: str) -> RouteAlert:
    """`route key=value …` (no summary needed)."""
    return RouteAlert(alert=parse_alert_words(_args(text), summary_default="(routing only)"))


def parse_list(verb: str, text: str) -> ListCases:
    """`list [all]`."""
    args = _args(text)
    if not args:
        return ListCases()
    if args == ["all"]:
        return ListCases(include_closed=True)
    raise UsageError()


def parse_show(verb: str, text: str) -> ShowCase:
    """`show CODE`."""
    args = _args(text)
    if len(args) != 1:
        raise UsageError()
    return ShowCase(code=normalise_case_code(args[0]))


def parse_help(verb: str, text: str) -> Help:
    """`help [command]`."""
    args = _args(text)
    return Help(topic=args[0].lower() if args else None)


def parse_measure(verb: str, text: str) -> RecordMeasure:
    """`measure CODE BODY REFERENCE STATE [date] [review=date]`."""
    args = _args(text)
    if len(args) < 4:
        raise UsageError()
    code, body, reference, state = normalise_case_code(args[0]), args[1], args[2], args[3].lower()
    if state not in MEASURE_STATES:
        raise CommandError(
            f"'{args[3]}' is not a measure state; accepted: {', '.join(MEASURE_STATES)}."
        )
    on = review = None
    for word in args[4:]:
        if word.lower().startswith("review="):
            review = iso_date(word.split("=", 1)[1])
        elif on is None:
            on = iso_date(word)
        else:
            raise UsageError()
    return RecordMeasure(
        code=code, body=body, reference=reference, state=state, on=on, review=review
    )


def parse_draft(verb: str, text: str) -> DraftAppeal:
    """`draft CODE N [language]`."""
    args = _args(text)
    if len(args) not in (2, 3):
        raise UsageError()
    language = args[2] if len(args) == 3 else None
    return DraftAppeal(code=normalise_case_code(args[0]), n=step_number(args[1]), language=language)


def parse_facts(verb: str, text: str) -> RecordFacts:
    """`facts CODE key=value …`."""
    args = _args(text)
    if len(args) < 2:
        raise UsageError()
    facts: dict[str, str] = {}
    for word in args[1:]:
        key, _, value = word.partition("=")
        key = key.strip().lower()
        if key not in FACT_KEYS or not value.strip():
            raise UsageError(f"'{word}' is not key=value with one of {', '.join(FACT_KEYS)}.")
        facts[key] = value.strip()
    if "occurred_on" in facts:
        iso_date(facts["occurred_on"])
    return RecordFacts(code=normalise_case_code(args[0]), facts=facts)


def parse_digest(verb: str, text: str) -> Digest:
    """`digest [at HH:MM [Zone/Name]]`."""
    args = _args(text)
    if not args:
        return Digest()
    if args[0].lower() != "at" or len(args) not in (2, 3):
        raise UsageError()
    try:
        at = parse_time_of_day(args[1])
    except TimeOfDayError as error:
        raise UsageError(f"{error}.") from None
    return Digest(at=at, zone=args[2] if len(args) == 3 else None)


def parse_report(verb: str, text: str) -> ReportRequest | WeeklyReport:
    """`report [since=…] [until=…] [country=…] [period=…] [chart=no]` or `report weekly on|off`."""
    args = _args(text)
    if args and args[0].lower() == "weekly":
        switch = [a.lower() for a in args[1:]]
        if switch not in (["on"], ["off"]):
            raise CommandError("Usage: ua report weekly on|off")
        return WeeklyReport(on=switch == ["on"])
    values: dict[str, str] = {}
    for word in args:
        key, _, value = word.partition("=")
        key = key.lower()
        if key not in _REPORT_KEYS or not value:
            raise UsageError(f"'{word}' is not understood.")
        if key in values:
            raise CommandError(f"'{key}' is given twice; give each key once.")
        values[key] = value.strip()
    period = values.get("period", "month").lower()
    if period not in REPORT_PERIODS:
        raise UsageError("period: say month or week.")
    chart = values.get("chart", "yes").lower()
    if chart not in YES | NO:
        raise CommandError("chart: say chart=yes or chart=no.")
    request = ReportRequest(
        since=iso_date(values["since"]) if "since" in values else None,
        until=iso_date(values["until"]) if "until" in values else None,
        country=values.get("country"),
        period=period,
        chart=chart in YES,
    )
    if request.since and request.until and request.since > request.until:
        raise CommandError("since must be on or before until.")
    return request


def parse_leads(verb: str, text: str) -> LeadsHere:
    """`leads here`."""
    if [a.lower() for a in _args(text)] != ["here"]:
        raise UsageError()
    return LeadsHere()


# Admins' verbs ----------------------------------------------------------------------------------


def parse_bind(verb: str, text: str) -> Bind:
    """`bind [team name]`."""
    team = " ".join(_args(text)).strip()
    if len(team) > 100:
        raise CommandError("A team name is at most 100 characters.")
    return Bind(team=team or None)


def parse_unbind(verb: str, text: str) -> Unbind:
    """`unbind`."""
    if _args(text):
        raise UsageError()
    return Unbind()


def parse_disclosure(verb: str, text: str) -> SetDisclosure:
    """`disclosure [minimal|standard|full]`."""
    args = _args(text)
    if not args:
        return SetDisclosure()
    level = args[0].lower()
    if len(args) > 1 or level not in DISCLOSURE_LEVELS:
        raise UsageError(f"Disclosure levels: {', '.join(DISCLOSURE_LEVELS)}.")
    return SetDisclosure(level=level)


def parse_role(verb: str, text: str) -> SetRole | Roles:
    """`role [@person role]`."""
    args = _args(text)
    if not args:
        return Roles()
    if len(args) != 2 or args[1].lower() not in ROLE_NAMES:
        raise UsageError(f"Roles: {', '.join(ROLE_NAMES)}.")
    return SetRole(who=args[0], role=args[1].lower())


def parse_purge(verb: str, text: str) -> Purge:
    """`purge CODE [confirm]`."""
    args = _args(text)
    if not args or len(args) > 2 or (len(args) == 2 and args[1].lower() != "confirm"):
        raise UsageError()
    return Purge(code=normalise_case_code(args[0]), confirmed=len(args) == 2)
