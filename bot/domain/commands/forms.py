"""What a command is parsed into: one plain, frozen form per kind of command."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any, ClassVar


class CommandError(ValueError):
    """The command could not be understood; the message says how to write it."""


class UsageError(CommandError):
    """The words do not fit the verb's usage; the grammar adds the usage line after `problem`."""

    def __init__(self, problem: str = "") -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class NewCase:
    """`ua new key=value …`: the alert fields, shaped like the intake JSON."""

    verb: ClassVar[str] = "new"

    alert: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteAlert:
    """`ua route key=value …`: whom to engage and why, without opening a case."""

    verb: ClassVar[str] = "route"

    alert: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListCases:
    """`ua list [all]`: open cases, or every case."""

    verb: ClassVar[str] = "list"

    include_closed: bool = False


@dataclass(frozen=True)
class ShowCase:
    """`ua show CODE`."""

    verb: ClassVar[str] = "show"

    code: str


@dataclass(frozen=True)
class Help:
    """`ua help [command]`."""

    verb: ClassVar[str] = "help"

    topic: str | None = None


@dataclass(frozen=True)
class StepChange:
    """`ua claim|assign|done|skip|snooze CODE N …`: a change to one checklist step."""

    action: str
    code: str
    n: int
    text: str = ""
    delay: timedelta | None = None

    @property
    def verb(self) -> str:
        """The verb the change was typed with: its action."""
        return self.action


@dataclass(frozen=True)
class CaseChange:
    """`ua note|close|reopen|log CODE …`: a change to, or a look at, the case itself."""

    action: str
    code: str
    text: str = ""

    @property
    def verb(self) -> str:
        """The verb the change was typed with: its action."""
        return self.action


@dataclass(frozen=True)
class SetConsent:
    """`ua consent CODE media=yes …`: what the defender agreed to, use by use."""

    verb: ClassVar[str] = "consent"

    code: str
    changes: dict[str, bool]


@dataclass(frozen=True)
class RecordReply:
    """`ua reply CODE T2 text`: target number 2 answered."""

    verb: ClassVar[str] = "reply"

    code: str
    target: int
    text: str


@dataclass(frozen=True)
class RecordMeasure:
    """`ua measure CODE BODY REFERENCE STATE [date] [review=date]`."""

    verb: ClassVar[str] = "measure"

    code: str
    body: str
    reference: str
    state: str
    on: date | None = None
    review: date | None = None


@dataclass(frozen=True)
class DraftAppeal:
    """`ua draft CODE N [lang]`: a letter for the institutions step N names."""

    verb: ClassVar[str] = "draft"

    code: str
    n: int
    language: str | None = None


@dataclass(frozen=True)
class RecordFacts:
    """`ua facts CODE key=value …`: facts learnt after the case was opened, for drafts."""

    verb: ClassVar[str] = "facts"

    code: str
    facts: dict[str, str]


@dataclass(frozen=True)
class Digest:
    """`ua digest` posts it now; `ua digest at 09:00 Zone/Name` sets this place's daily time."""

    verb: ClassVar[str] = "digest"

    at: time | None = None
    zone: str | None = None


@dataclass(frozen=True)
class ReportRequest:
    """`ua report [since=…] [until=…] [country=…] [period=…] [chart=no]`: counts, times and a
    chart of the cases opened in a period (dates None: the handler's defaults)."""

    verb: ClassVar[str] = "report"

    since: date | None = None
    until: date | None = None
    country: str | None = None
    period: str = "month"
    chart: bool = True


@dataclass(frozen=True)
class WeeklyReport:
    """`ua report weekly on|off`: this place gets the week's summary every Monday, or not."""

    verb: ClassVar[str] = "report"

    on: bool


@dataclass(frozen=True)
class LeadsHere:
    """`ua leads here`: escalations past the case lead come to this room."""

    verb: ClassVar[str] = "leads"


@dataclass(frozen=True)
class Bind:
    """`ua bind [team-name]`: Tocsin may act in this channel or room, for this team."""

    verb: ClassVar[str] = "bind"

    team: str | None = None


@dataclass(frozen=True)
class Unbind:
    """`ua unbind`: Tocsin stops acting here."""

    verb: ClassVar[str] = "unbind"


@dataclass(frozen=True)
class SetDisclosure:
    """`ua disclosure [level]`: show, or set, how much of a case this place may see."""

    verb: ClassVar[str] = "disclosure"

    level: str | None = None


@dataclass(frozen=True)
class SetRole:
    """`ua role @person role`: a person's role in this place (`everyone` for the rest)."""

    verb: ClassVar[str] = "role"

    who: str
    role: str


@dataclass(frozen=True)
class Roles:
    """`ua role`: who holds which role here."""

    verb: ClassVar[str] = "role"


@dataclass(frozen=True)
class Purge:
    """`ua purge CODE [confirm]`: erase a case's sensitive fields now."""

    verb: ClassVar[str] = "purge"

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
