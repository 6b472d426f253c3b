"""The one command grammar: `ua …` in the console, `/ua …` in Slack, `!ua …` in Matrix."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from bot.domain.durations import DurationError, parse_duration
from bot.domain.lifecycle import Outcome
from bot.domain.schedule import TimeOfDayError, parse_time_of_day

PREFIXES = ("/ua", "!ua", "ua")

USAGE_NEW = (
    'ua new country=HN threats=arbitrary_detention profiles=journalist summary="what happened"'
)
USAGE = {
    "new": USAGE_NEW,
    "route": 'ua route country=HN threats=death_threat profiles=land summary="…"',
    "list": "ua list [all]",
    "show": "ua show UA-2026-0042",
    "claim": "ua claim UA-2026-0042 3",
    "assign": "ua assign UA-2026-0042 3 @person",
    "done": "ua done UA-2026-0042 3 [note]",
    "skip": "ua skip UA-2026-0042 3 reason",
    "snooze": "ua snooze UA-2026-0042 3 2d",
    "note": "ua note UA-2026-0042 text",
    "consent": "ua consent UA-2026-0042 media=yes [government=no un_public=yes]",
    "reply": "ua reply UA-2026-0042 T2 what the target answered",
    "close": "ua close UA-2026-0042 outcome [note] (outcomes: "
    + ", ".join(o.value for o in Outcome)
    + ")",
    "reopen": "ua reopen UA-2026-0042",
    "log": "ua log UA-2026-0042",
    "measure": "ua measure UA-2026-0042 IACHR MC-123-26 requested|granted|extended|lifted|rejected "
    "[2026-11-20] [review=2027-02-01]",
    "digest": "ua digest [at 09:00 America/Tegucigalpa]",
    "leads": "ua leads here",
    "report": "ua report [since=2026-01-01] [until=2026-11-30] [country=HN] [period=month|week] "
    "[chart=no] | ua report weekly on|off",
    "bind": "ua bind [team-name]",
    "unbind": "ua unbind",
    "disclosure": "ua disclosure [minimal|standard|full]",
    "role": "ua role [@person observer|responder|lead|admin]",
    "purge": "ua purge UA-2026-0042 [confirm]",
    "draft": "ua draft UA-2026-0042 3 [en|es|fr|pt]",
    "facts": 'ua facts UA-2026-0042 place="…" work="…" domestic_actions="…" '
    'earlier_incidents="…" occurred_on=2026-11-02',
    "help": "ua help [command]",
}
DISCLOSURE_LEVELS = ("minimal", "standard", "full")
ROLE_NAMES = ("observer", "responder", "lead", "admin")

# Phones and Slack turn straight quotes into typographic ones; shlex understands only straight.
_SMART_QUOTES = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2018": "'",
        "\u2019": "'",
    }
)
_CASE_CODE = re.compile(r"^UA-?(\d{4})-?(\d{1,6})$", re.IGNORECASE)


class CommandError(ValueError):
    """The command could not be understood; the message says how to write it."""


@dataclass(frozen=True)
class NewCase:
    """`ua new key=value …`: the alert fields, shaped like the intake JSON."""

    alert: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteAlert:
    """`ua route key=value …`: whom to engage and why, without opening a case."""

    alert: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListCases:
    """`ua list [all]`: open cases, or every case."""

    include_closed: bool = False


@dataclass(frozen=True)
class ShowCase:
    """`ua show CODE`."""

    code: str


@dataclass(frozen=True)
class Help:
    """`ua help [command]`."""

    topic: str | None = None


@dataclass(frozen=True)
class StepChange:
    """`ua claim|assign|done|skip|snooze CODE N …`: a change to one checklist step."""

    action: str
    code: str
    n: int
    text: str = ""
    delay: timedelta | None = None


@dataclass(frozen=True)
class CaseChange:
    """`ua note|close|reopen|log CODE …`: a change to, or a look at, the case itself."""

    action: str
    code: str
    text: str = ""


@dataclass(frozen=True)
class SetConsent:
    """`ua consent CODE media=yes …`: what the defender agreed to, use by use."""

    code: str
    changes: dict[str, bool]


@dataclass(frozen=True)
class RecordReply:
    """`ua reply CODE T2 text`: target number 2 answered."""

    code: str
    target: int
    text: str


@dataclass(frozen=True)
class RecordMeasure:
    """`ua measure CODE BODY REFERENCE STATE [date] [review=date]`."""

    code: str
    body: str
    reference: str
    state: str
    on: date | None = None
    review: date | None = None


@dataclass(frozen=True)
class DraftAppeal:
    """`ua draft CODE N [lang]`: a letter for the institutions step N names."""

    code: str
    n: int
    language: str | None = None


@dataclass(frozen=True)
class RecordFacts:
    """`ua facts CODE key=value …`: facts learnt after the case was opened, for drafts."""

    code: str
    facts: dict[str, str]


@dataclass(frozen=True)
class Digest:
    """`ua digest` posts it now; `ua digest at 09:00 Zone/Name` sets this place's daily time."""

    at: time | None = None
    zone: str | None = None


@dataclass(frozen=True)
class ReportRequest:
    """`ua report [since=…] [until=…] [country=…] [period=…] [chart=no]`: counts, times and a
    chart of the cases opened in a period (dates None: the handler's defaults)."""

    since: date | None = None
    until: date | None = None
    country: str | None = None
    period: str = "month"
    chart: bool = True


@dataclass(frozen=True)
class WeeklyReport:
    """`ua report weekly on|off`: this place gets the week's summary every Monday, or not."""

    on: bool


@dataclass(frozen=True)
class LeadsHere:
    """`ua leads here`: escalations past the case lead come to this room."""


@dataclass(frozen=True)
class Bind:
    """`ua bind [team-name]`: Tocsin may act in this channel or room, for this team."""

    team: str | None = None


@dataclass(frozen=True)
class Unbind:
    """`ua unbind`: Tocsin stops acting here."""


@dataclass(frozen=True)
class SetDisclosure:
    """`ua disclosure [level]`: show, or set, how much of a case this place may see."""

    level: str | None = None


@dataclass(frozen=True)
class SetRole:
    """`ua role @person role`: a person's role in this place (`everyone` for the rest)."""

    who: str
    role: str


@dataclass(frozen=True)
class Roles:
    """`ua role`: who holds which role here."""


@dataclass(frozen=True)
class Purge:
    """`ua purge CODE [confirm]`: erase a case's sensitive fields now."""

    code: str
    confirmed: bool = False


ParsedCommand = (
    NewCase
    | RouteAlert
    | ListCases
    | ShowCase
    | Help
    | StepChange
    | CaseChange
    | SetConsent
    | RecordReply
    | RecordMeasure
    | Digest
    | ReportRequest
    | WeeklyReport
    | LeadsHere
    | Bind
    | Unbind
    | SetDisclosure
    | SetRole
    | Roles
    | Purge
    | DraftAppeal
    | RecordFacts
)


def strip_prefix(text: str) -> str | None:
    """The command's words after `ua`, `/ua` or `!ua`; None when the text is not a command."""
    stripped = text.strip()
    for prefix in PREFIXES:
        if stripped == prefix or stripped.startswith(prefix + " "):
            return stripped[len(prefix) :].strip()
    return None


def parse_command(words_text: str) -> ParsedCommand:
    """Parse the words after the prefix into a command, or raise CommandError with usage."""
    head = words_text.split(maxsplit=1)
    verb = head[0].lower() if head else ""
    if verb in _CASE_VERBS:
        return _parse_case_verb(verb, words_text)
    words = split_words(words_text)
    if not words:
        return Help()
    args = words[1:]
    if verb == "new":
        return NewCase(alert=parse_alert_words(args))
    if verb == "route":
        return RouteAlert(alert=parse_alert_words(args, summary_default="(routing only)"))
    if verb == "list":
        return _parse_list(args)
    if verb == "show":
        if len(args) != 1:
            raise CommandError(f"Usage: {USAGE['show']}")
        return ShowCase(code=normalise_case_code(args[0]))
    if verb == "help":
        return Help(topic=args[0].lower() if args else None)
    if verb == "measure":
        return _parse_measure(args)
    if verb == "draft":
        return _parse_draft(args)
    if verb == "facts":
        return _parse_facts(args)
    if verb == "digest":
        return _parse_digest(args)
    if verb == "report":
        return _parse_report(args)
    if verb == "leads":
        if [a.lower() for a in args] != ["here"]:
            raise CommandError(f"Usage: {USAGE['leads']}")
        return LeadsHere()
    if verb in _ADMIN_PARSERS:
        return _ADMIN_PARSERS[verb](args)
    close = difflib.get_close_matches(verb, list(USAGE), n=1)
    hint = f" Did you mean 'ua {close[0]}'?" if close else ""
    raise CommandError(
        f"Unknown command '{verb}'.{hint} Commands: {', '.join(USAGE)}. Try 'ua help'."
    )


_STEP_VERBS = {"claim": 0, "assign": 1, "done": 0, "skip": 1, "snooze": 1}
_CASE_VERBS = {*_STEP_VERBS, "note", "close", "reopen", "log", "consent", "reply"}
_YES = {"yes", "y", "true", "1", "si", "sí", "oui"}
_NO = {"no", "n", "false", "0", "non"}


def _parse_case_verb(verb: str, words_text: str) -> ParsedCommand:
    """Verbs of the form `VERB CODE …` whose last part is free text (apostrophes allowed)."""
    parts = words_text.split(maxsplit=3 if verb in _STEP_VERBS or verb == "reply" else 2)
    if len(parts) < 2:
        raise CommandError(f"Usage: {USAGE[verb]}")
    code = normalise_case_code(parts[1])
    if verb in _STEP_VERBS:
        return _parse_step_verb(verb, code, parts[2:])
    rest = unquote(" ".join(parts[2:]))
    if verb == "consent":
        return SetConsent(code=code, changes=_consent_changes(rest))
    if verb == "reply":
        return _parse_reply(code, parts[2:])
    if verb in ("note", "close") and not rest:
        raise CommandError(f"Usage: {USAGE[verb]}")
    if verb in ("reopen", "log") and rest:
        raise CommandError(f"Usage: {USAGE[verb]}")
    return CaseChange(action=verb, code=code, text=rest)


def _parse_step_verb(verb: str, code: str, parts: list[str]) -> StepChange:
    if not parts:
        raise CommandError(f"Usage: {USAGE[verb]}")
    n = _step_number(parts[0])
    text = unquote(parts[1]) if len(parts) > 1 else ""
    if _STEP_VERBS[verb] and not text:
        raise CommandError(f"Usage: {USAGE[verb]}")
    if verb == "snooze":
        try:
            return StepChange(action=verb, code=code, n=n, delay=parse_duration(text))
        except DurationError as error:
            raise CommandError(f"{error}. Usage: {USAGE['snooze']}") from None
    return StepChange(action=verb, code=code, n=n, text=text)


def _parse_reply(code: str, parts: list[str]) -> RecordReply:
    if len(parts) < 2:
        raise CommandError(f"Usage: {USAGE['reply']}")
    number = parts[0].upper().removeprefix("T")
    if not _whole_number(number):
        raise CommandError(
            f"'{parts[0]}' is not a target number; targets are T1, T2 … in ua show {code}"
        )
    text = unquote(parts[1])
    if not text:
        raise CommandError(f"Say what the target answered. Usage: {USAGE['reply']}")
    return RecordReply(code=code, target=int(number), text=text)


def _step_number(text: str) -> int:
    if not _whole_number(text):
        raise CommandError(f"'{text}' is not a step number; steps are numbered 1, 2 … in ua show")
    return int(text)


def _whole_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= 9999


_QUOTE_PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}


def unquote(text: str) -> str:
    """Free text as typed, without one pair of quotes wrapping all of it (and only then)."""
    text = text.strip()
    closing = _QUOTE_PAIRS.get(text[:1])
    if closing and len(text) >= 2 and text.endswith(closing) and closing not in text[1:-1]:
        return text[1:-1].strip()
    return text


def _consent_changes(text: str) -> dict[str, bool]:
    if not text:
        raise CommandError(f"Usage: {USAGE['consent']}")
    changes: dict[str, bool] = {}
    for word in text.split():
        use, _, answer = word.partition("=")
        use = use.lower()
        if use not in CONSENT_USES:
            raise CommandError(
                f"consent: '{use}' is not a use; accepted: {', '.join(CONSENT_USES)}."
            )
        if answer.lower() in _YES:
            changes[use] = True
        elif answer.lower() in _NO:
            changes[use] = False
        else:
            raise CommandError(f"consent: say {use}=yes or {use}=no.")
    return changes


MEASURE_STATES = ("requested", "granted", "extended", "lifted", "rejected")


def _parse_measure(args: list[str]) -> RecordMeasure:
    if len(args) < 4:
        raise CommandError(f"Usage: {USAGE['measure']}")
    code, body, reference, state = normalise_case_code(args[0]), args[1], args[2], args[3].lower()
    if state not in MEASURE_STATES:
        raise CommandError(
            f"'{args[3]}' is not a measure state; accepted: {', '.join(MEASURE_STATES)}."
        )
    on = review = None
    for word in args[4:]:
        if word.lower().startswith("review="):
            review = _date(word.split("=", 1)[1])
        elif on is None:
            on = _date(word)
        else:
            raise CommandError(f"Usage: {USAGE['measure']}")
    return RecordMeasure(
        code=code, body=body, reference=reference, state=state, on=on, review=review
    )


def _parse_draft(args: list[str]) -> DraftAppeal:
    if len(args) not in (2, 3):
        raise CommandError(f"Usage: {USAGE['draft']}")
    language = args[2] if len(args) == 3 else None
    return DraftAppeal(
        code=normalise_case_code(args[0]), n=_step_number(args[1]), language=language
    )


FACT_KEYS = ("place", "work", "domestic_actions", "earlier_incidents", "occurred_on")


def _parse_facts(args: list[str]) -> RecordFacts:
    if len(args) < 2:
        raise CommandError(f"Usage: {USAGE['facts']}")
    facts: dict[str, str] = {}
    for word in args[1:]:
        key, _, value = word.partition("=")
        key = key.strip().lower()
        if key not in FACT_KEYS or not value.strip():
            raise CommandError(
                f"'{word}' is not key=value with one of {', '.join(FACT_KEYS)}. "
                f"Usage: {USAGE['facts']}"
            )
        facts[key] = value.strip()
    if "occurred_on" in facts:
        _date(facts["occurred_on"])
    return RecordFacts(code=normalise_case_code(args[0]), facts=facts)


def _parse_bind(args: list[str]) -> Bind:
    team = " ".join(args).strip()
    if len(team) > 100:
        raise CommandError("A team name is at most 100 characters.")
    return Bind(team=team or None)


def _parse_unbind(args: list[str]) -> Unbind:
    if args:
        raise CommandError(f"Usage: {USAGE['unbind']}")
    return Unbind()


def _parse_disclosure(args: list[str]) -> SetDisclosure:
    if not args:
        return SetDisclosure()
    level = args[0].lower()
    if len(args) > 1 or level not in DISCLOSURE_LEVELS:
        raise CommandError(
            f"Disclosure levels: {', '.join(DISCLOSURE_LEVELS)}. Usage: {USAGE['disclosure']}"
        )
    return SetDisclosure(level=level)


def _parse_role(args: list[str]) -> SetRole | Roles:
    if not args:
        return Roles()
    if len(args) != 2 or args[1].lower() not in ROLE_NAMES:
        raise CommandError(f"Roles: {', '.join(ROLE_NAMES)}. Usage: {USAGE['role']}")
    return SetRole(who=args[0], role=args[1].lower())


def _parse_purge(args: list[str]) -> Purge:
    if not args or len(args) > 2 or (len(args) == 2 and args[1].lower() != "confirm"):
        raise CommandError(f"Usage: {USAGE['purge']}")
    return Purge(code=normalise_case_code(args[0]), confirmed=len(args) == 2)


_ADMIN_PARSERS: dict[str, Callable[[list[str]], ParsedCommand]] = {
    "bind": _parse_bind,
    "unbind": _parse_unbind,
    "disclosure": _parse_disclosure,
    "role": _parse_role,
    "purge": _parse_purge,
}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"'{text}' is not a date; write it as 2026-11-20.") from None


def _parse_digest(args: list[str]) -> Digest:
    if not args:
        return Digest()
    if args[0].lower() != "at" or len(args) not in (2, 3):
        raise CommandError(f"Usage: {USAGE['digest']}")
    try:
        at = parse_time_of_day(args[1])
    except TimeOfDayError as error:
        raise CommandError(f"{error}. Usage: {USAGE['digest']}") from None
    zone = args[2] if len(args) == 3 else None
    return Digest(at=at, zone=zone)


REPORT_PERIODS = ("month", "week")
_REPORT_KEYS = ("since", "until", "country", "period", "chart")


def _parse_report(args: list[str]) -> ReportRequest | WeeklyReport:
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
            raise CommandError(f"'{word}' is not understood. Usage: {USAGE['report']}")
        if key in values:
            raise CommandError(f"'{key}' is given twice; give each key once.")
        values[key] = value.strip()
    period = values.get("period", "month").lower()
    if period not in REPORT_PERIODS:
        raise CommandError(f"period: say month or week. Usage: {USAGE['report']}")
    chart = values.get("chart", "yes").lower()
    if chart not in _YES | _NO:
        raise CommandError("chart: say chart=yes or chart=no.")
    request = ReportRequest(
        since=_date(values["since"]) if "since" in values else None,
        until=_date(values["until"]) if "until" in values else None,
        country=values.get("country"),
        period=period,
        chart=chart in _YES,
    )
    if request.since and request.until and request.since > request.until:
        raise CommandError("since must be on or before until.")
    return request


def normalise_case_code(text: str) -> str:
    """`ua-2026-42` or `UA20260042` as the canonical `UA-2026-0042`."""
    match = _CASE_CODE.match(text.strip())
    if not match:
        raise CommandError(f"'{text}' is not a case code; case codes look like UA-2026-0042.")
    return format_case_code(int(match.group(1)), int(match.group(2)))


def format_case_code(year: int, number: int) -> str:
    """The code a team types and posts: short, and free of anything about the defender."""
    return f"UA-{year:04d}-{number:04d}"


def split_words(text: str) -> list[str]:
    """Words as a shell would split them, typographic quotes taken as straight ones."""
    try:
        return shlex.split(text.translate(_SMART_QUOTES))
    except ValueError:
        raise CommandError(
            'A quote is not closed: put the whole value in "double quotes".'
        ) from None


def _parse_list(args: list[str]) -> ListCases:
    if not args:
        return ListCases()
    if args == ["all"]:
        return ListCases(include_closed=True)
    raise CommandError(f"Usage: {USAGE['list']}")


# `ua new` keys, each to its path in the alert JSON, and whether it takes a comma-separated list.
NEW_CASE_KEYS: dict[str, tuple[tuple[str, ...], bool]] = {
    "country": (("country",), False),
    "threats": (("threats",), True),
    "profiles": (("profiles",), True),
    "summary": (("summary",), False),
    "occurred_on": (("occurred_on",), False),
    "severity": (("severity",), False),
    "defender": (("defender", "name"), False),
    "organisation": (("defender", "organisation"), False),
    "gender": (("defender", "gender"), False),
    "work": (("defender", "work"), False),
    "place": (("place",), False),
    "domestic_actions": (("domestic_actions",), False),
    "earlier_incidents": (("earlier_incidents",), False),
    "perpetrators": (("perpetrators",), True),
    "company": (("business", "company"), False),
    "home_country": (("business", "home_country"), False),
    "financiers": (("business", "financiers"), True),
    "consent": (("consent",), True),
    "separate": (("separate",), False),
}
_KEY_SPELLINGS = {"organization": "organisation", "threat": "threats", "profile": "profiles"}
CONSENT_USES = ("government", "un_public", "media")


def parse_alert_words(args: list[str], summary_default: str | None = None) -> dict[str, Any]:
    """`key=value` words into the nested dict of the intake JSON (validated later)."""
    alert: dict[str, Any] = {} if summary_default is None else {"summary": summary_default}
    seen: set[str] = set()
    for word in args:
        key, value = _key_value(word)
        if key in seen:
            raise CommandError(f"'{key}' is given twice; give each key once.")
        seen.add(key)
        path, is_list = NEW_CASE_KEYS[key]
        parsed: Any = _split_list(value) if is_list else value
        if key == "consent":
            parsed = _consent(parsed)
        _put(alert, path, parsed)
    return alert


def _key_value(word: str) -> tuple[str, str]:
    if "=" not in word:
        raise CommandError(f"'{word}' is not key=value. Usage: {USAGE_NEW}")
    raw_key, value = word.split("=", 1)
    key = _KEY_SPELLINGS.get(raw_key.strip().lower(), raw_key.strip().lower())
    if key not in NEW_CASE_KEYS:
        close = difflib.get_close_matches(key, list(NEW_CASE_KEYS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise CommandError(f"Unknown key '{raw_key}'{hint}. Keys: {', '.join(NEW_CASE_KEYS)}.")
    return key, value.strip()


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _consent(uses: list[str]) -> dict[str, bool]:
    lowered = [use.lower() for use in uses]
    if lowered in ([], ["none"], ["no"]):
        return {}
    unknown = [use for use in lowered if use not in CONSENT_USES]
    if unknown:
        raise CommandError(
            f"consent: '{unknown[0]}' is not a use; accepted: {', '.join(CONSENT_USES)} or none."
        )
    return {use: True for use in lowered}


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
