"""Every verb of the grammar, declared once: how it is written, what it does, the role it needs
and how its words are read. A verb's handler says which form it runs (`handlers.registry`);
adding a verb is an entry here, its form and parser, and its handler."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.access import Role
from bot.domain.commands import parsers as read
from bot.domain.commands.alert_words import USAGE_NEW
from bot.domain.commands.forms import (
    CommandError,
    Digest,
    Help,
    ParsedCommand,
    ReportRequest,
    Roles,
    SetDisclosure,
    UsageError,
)
from bot.domain.commands.words import split_words
from bot.domain.lifecycle import Outcome
from bot.domain.messages import Bullets, Heading, Message, Note, Paragraph


@dataclass(frozen=True, slots=True)
class Verb:
    """One verb: its usage line, its help, the role it needs (a function of the parsed form
    where showing needs less than changing) and its parser."""

    name: str
    usage: str
    help: str
    role: Role | Callable[[ParsedCommand], Role]
    parse: Callable[[str, str], ParsedCommand]
    # Its last part is free text, read as typed (apostrophes allowed), not split as a shell would.
    free_text: bool = False

    def role_for(self, form: ParsedCommand) -> Role:
        """The least role that may run this form of the verb."""
        return self.role if isinstance(self.role, Role) else self.role(form)


# Verbs that show something (first role) or change a setting of the place (second role).


def _digest_role(form: ParsedCommand) -> Role:
    return Role.RESPONDER if isinstance(form, Digest) and form.at is None else Role.LEAD


def _report_role(form: ParsedCommand) -> Role:
    return Role.OBSERVER if isinstance(form, ReportRequest) else Role.LEAD


def _disclosure_role(form: ParsedCommand) -> Role:
    return Role.OBSERVER if isinstance(form, SetDisclosure) and form.level is None else Role.ADMIN


def _role_role(form: ParsedCommand) -> Role:
    return Role.OBSERVER if isinstance(form, Roles) else Role.ADMIN


_STEP = "UA-2026-0042 3"
_OUTCOMES = ", ".join(o.value for o in Outcome)

VERBS: dict[str, Verb] = {
    verb.name: verb
    for verb in (
        Verb(
            "new",
            USAGE_NEW,
            "Open a case. Keys: country, threats, profiles, summary, occurred_on, severity, "
            "defender, organisation, gender, work (their human rights work), place, "
            "domestic_actions, earlier_incidents, perpetrators, company, home_country, "
            "financiers, consent, separate (yes: open it even if it looks like a case of the "
            "last 24 hours). Lists are comma-separated; quote values with spaces.",
            Role.RESPONDER,
            read.parse_new,
        ),
        Verb(
            "route",
            'ua route country=HN threats=death_threat profiles=land summary="…"',
            "Show whom to engage and why for an alert, without opening a case (same keys as new).",
            Role.OBSERVER,
            read.parse_route,
        ),
        Verb(
            "list",
            "ua list [all]",
            "List open cases; 'ua list all' lists closed ones too.",
            Role.OBSERVER,
            read.parse_list,
        ),
        Verb(
            "show",
            "ua show UA-2026-0042",
            "Show a case: facts, targets (T1, T2 …) with reasons, checklist with steps 1, 2 ….",
            Role.OBSERVER,
            read.parse_show,
        ),
        Verb(
            "claim",
            f"ua claim {_STEP}",
            "Take a step yourself.",
            Role.RESPONDER,
            read.parse_step,
            free_text=True,
        ),
        Verb(
            "assign",
            f"ua assign {_STEP} @person",
            "Give a step to someone.",
            Role.RESPONDER,
            read.parse_step,
            free_text=True,
        ),
        Verb(
            "done",
            f"ua done {_STEP} [note]",
            "Mark a step done, with an optional note.",
            Role.RESPONDER,
            read.parse_step,
            free_text=True,
        ),
        Verb(
            "skip",
            f"ua skip {_STEP} reason",
            "Skip a step; say why.",
            Role.RESPONDER,
            read.parse_step,
            free_text=True,
        ),
        Verb(
            "snooze",
            f"ua snooze {_STEP} 2d",
            "Push a step's due time back (5s, 30m, 4h, 2d, 1w).",
            Role.RESPONDER,
            read.parse_step,
            free_text=True,
        ),
        Verb(
            "note",
            "ua note UA-2026-0042 text",
            "Add a note to the case's log.",
            Role.RESPONDER,
            read.parse_case_change,
            free_text=True,
        ),
        Verb(
            "consent",
            "ua consent UA-2026-0042 media=yes [government=no un_public=yes]",
            "Record the defender's consent per use; steps waiting for it open.",
            Role.LEAD,
            read.parse_consent,
            free_text=True,
        ),
        Verb(
            "reply",
            "ua reply UA-2026-0042 T2 what the target answered",
            "Record what a target (T1, T2 … in ua show) answered.",
            Role.RESPONDER,
            read.parse_reply,
            free_text=True,
        ),
        Verb(
            "close",
            f"ua close UA-2026-0042 outcome [note] (outcomes: {_OUTCOMES})",
            "Close the case with its outcome.",
            Role.LEAD,
            read.parse_case_change,
            free_text=True,
        ),
        Verb(
            "reopen",
            "ua reopen UA-2026-0042",
            "Open a closed case again.",
            Role.LEAD,
            read.parse_case_change,
            free_text=True,
        ),
        Verb(
            "log",
            "ua log UA-2026-0042",
            "Every change to the case: who, when, what, from where.",
            Role.OBSERVER,
            read.parse_case_change,
            free_text=True,
        ),
        Verb(
            "measure",
            "ua measure UA-2026-0042 IACHR MC-123-26 requested|granted|extended|lifted|rejected "
            "[2026-11-20] [review=2027-02-01]",
            "Record a precautionary (IACHR), provisional (IACtHR, ACHPR) or interim (UN) "
            "measure's state; follow-up steps follow on the playbook's cadence.",
            Role.RESPONDER,
            read.parse_measure,
        ),
        Verb(
            "digest",
            "ua digest [at 09:00 America/Tegucigalpa]",
            "Post the daily digest here now, or set this room's daily digest time and zone.",
            _digest_role,
            read.parse_digest,
        ),
        Verb(
            "leads",
            "ua leads here",
            "Make this room the team leads' room: escalations past the case lead come here.",
            Role.LEAD,
            read.parse_leads,
        ),
        Verb(
            "report",
            "ua report [since=2026-01-01] [until=2026-11-30] [country=HN] [period=month|week] "
            "[chart=no] | ua report weekly on|off",
            "Counts of cases, response times, targets and measures for a period, with a "
            "chart (counts under 3 shown as <3); 'weekly on' posts the week's summary every "
            "Monday.",
            _report_role,
            read.parse_report,
        ),
        Verb(
            "bind",
            "ua bind [team-name]",
            "Admins: let Tocsin act in this channel or room, for a team. Unbound places get "
            "only a line saying how to bind them.",
            Role.ADMIN,
            read.parse_bind,
        ),
        Verb(
            "unbind",
            "ua unbind",
            "Admins: Tocsin stops acting here; cases stay, their reminders go to the leads room.",
            Role.ADMIN,
            read.parse_unbind,
        ),
        Verb(
            "disclosure",
            "ua disclosure [minimal|standard|full]",
            "Show how much of a case this place sees; admins set minimal (no names, summary "
            "or notes), standard (adds the summary and notes) or full (adds names: only in an "
            "end-to-end-encrypted room or the console).",
            _disclosure_role,
            read.parse_disclosure,
        ),
        Verb(
            "role",
            "ua role [@person observer|responder|lead|admin]",
            "Show who holds which role here; admins give a role: observer (reads), responder "
            "(works cases), lead (also consent, close, reopen, digest time), admin (also bind, "
            "roles, disclosure, purge). 'everyone' sets the role of members without one "
            "(default responder).",
            _role_role,
            read.parse_role,
        ),
        Verb(
            "purge",
            "ua purge UA-2026-0042 [confirm]",
            "Admins: erase a case's name, organisation, summary, notes and replies now, "
            "keeping its anonymous numbers. Asks for confirmation.",
            Role.ADMIN,
            read.parse_purge,
        ),
        Verb(
            "draft",
            "ua draft UA-2026-0042 3 [en|es|fr|pt]",
            "A draft letter for the institutions step N names (UN mandates, the IACHR, an "
            "embassy, a fund), in English, Spanish, French or Portuguese. Names only with "
            "consent and where this place may see them; Tocsin never sends it: send it, then "
            "ua done CODE N sent.",
            Role.RESPONDER,
            read.parse_draft,
        ),
        Verb(
            "facts",
            'ua facts UA-2026-0042 place="…" work="…" domestic_actions="…" '
            'earlier_incidents="…" occurred_on=2026-11-02',
            "Record what a UN submission asks for, learnt after opening: where it happened, "
            "the defender's human rights work, actions taken domestically, earlier incidents, "
            "the date.",
            Role.RESPONDER,
            read.parse_facts,
        ),
        Verb(
            "help",
            "ua help [command]",
            "Show this help, or the help of one command.",
            Role.OBSERVER,
            read.parse_help,
        ),
    )
}


def parse_command(words_text: str) -> ParsedCommand:
    """Parse the words after the prefix into a command, or raise CommandError with usage."""
    head = words_text.split(maxsplit=1)
    if not head:
        return Help()
    verb = VERBS.get(head[0].lower())
    if verb is None:
        split_words(words_text)  # an unclosed quote is said first: it is the likelier slip
        raise _unknown(head[0].lower())
    try:
        return verb.parse(verb.name, words_text)
    except UsageError as error:
        said = " ".join(part for part in (error.problem, f"Usage: {verb.usage}") if part)
        raise CommandError(said) from None


def required_role(command: ParsedCommand) -> Role:
    """The least role that may run the command."""
    return VERBS[command.verb].role_for(command)


def help_message(topic: str | None) -> Message:
    """`ua help [command]`."""
    verb = VERBS.get(topic) if topic is not None else None
    if verb is not None:
        return Message(
            fallback=f"{verb.usage}\n{verb.help}", blocks=(Paragraph(verb.usage), Note(verb.help))
        )
    items = tuple(f"{v.usage} — {v.help}" for v in VERBS.values())
    lead = "Tocsin commands:" if topic is None else f"No command '{topic}'. Tocsin commands:"
    return Message(fallback=lead, blocks=(Heading(lead), Bullets(items)))


def _unknown(verb: str) -> CommandError:
    close = difflib.get_close_matches(verb, list(VERBS), n=1)
    hint = f" Did you mean 'ua {close[0]}'?" if close else ""
    return CommandError(
        f"Unknown command '{verb}'.{hint} Commands: {', '.join(VERBS)}. Try 'ua help'."
    )
