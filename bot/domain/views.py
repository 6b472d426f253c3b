"""Cases rendered into neutral messages, in the destination's time zone and disclosure."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.domain.case import FREE_TEXT_DETAILS, CaseView, Disclosure, StepView, TargetView
from bot.domain.commands import USAGE
from bot.domain.messages import (
    Block,
    Bullets,
    Fields,
    Group,
    Heading,
    Message,
    Note,
    Paragraph,
    StepItem,
    StepList,
)
from bot.domain.routing import Target
from bot.domain.triage import Triage

AuditEntry = tuple[datetime, str, str, str | None, dict[str, Any]]
_STEP_MARKS = {"open": "[ ]", "done": "[x]", "skipped": "[-]", "blocked": "[!]"}


def case_opened(case: CaseView, tz: tzinfo) -> Message:
    """The reply to `ua new`: the code to use from now on, and the first steps."""
    first = case.steps[0] if case.steps else None
    lines = [f"Opened {case.code}: {_describe(case)}."]
    if first:
        lines.append(f"First step: {first.title} (due {_when(first.due_at, tz)}).")
    return Message(
        fallback=" ".join(lines),
        blocks=(
            Heading(f"Opened {case.code}"),
            Paragraph(_describe(case)),
            Fields(_facts(case)),
            Note(
                f"{len(case.targets)} targets, {len(case.steps)} steps. "
                f"See them with: ua show {case.code}"
            ),
        ),
        replaces=f"checklist:{case.code}",
        public=True,
        card=case_card(case, tz),
    )


def case_list(cases: list[CaseView], include_closed: bool) -> Message:
    """`ua list`: one line a case, newest first."""
    if not cases:
        none = "No cases yet." if include_closed else "No open cases."
        return Message(fallback=none, blocks=(Paragraph(none + " Open one with: " + USAGE["new"]),))
    title = "All cases" if include_closed else "Open cases"
    items = tuple(
        f"{c.code}  {c.severity.upper():8}  {c.country_name}  {', '.join(_words(c.threats))}"
        + ("" if c.status == "open" else f"  ({c.status})")
        for c in cases
    )
    return Message(
        fallback=f"{title}: {len(cases)}",
        blocks=(Heading(f"{title} ({len(cases)})"), Bullets(items)),
    )


def case_detail(case: CaseView, tz: tzinfo, disclosure: Disclosure) -> Message:
    """`ua show CODE`: facts, targets with reasons, and the checklist, as `disclose` left them."""
    pairs = list(_facts(case))
    if case.defender_name:
        pairs.insert(0, ("Defender", case.defender_name))
        if case.defender_organisation:
            pairs.insert(1, ("Organisation", case.defender_organisation))
    targets = tuple(_stored_target_line(n, t) for n, t in enumerate(case.targets, 1)) or ("(none)",)
    blocks: tuple[Block, ...] = (
        Heading(f"{case.code} · {_status(case)}"),
        Fields(tuple(pairs)),
        *((Paragraph(case.summary),) if case.summary else ()),
        Heading("Targets"),
        Bullets(targets),
        *_checklist_blocks(case, tz),
    )
    if case.erased_at is not None:
        blocks += (Note(f"Names, summary and notes were erased on {_when(case.erased_at, tz)}."),)
    elif disclosure is not Disclosure.FULL:
        blocks += (Note(_WITHHELD[disclosure]),)
    return Message(fallback=f"{case.code}: {_describe(case)}", blocks=blocks)


_WITHHELD = {
    Disclosure.MINIMAL: "This place's disclosure is minimal: no names, summary or notes. "
    "Read them in an end-to-end-encrypted room or at the console.",
    Disclosure.STANDARD: "Names are shown only where disclosure is full "
    "(an end-to-end-encrypted room or the console).",
}


def checklist_message(case: CaseView, tz: tzinfo, headline: str) -> Message:
    """What changed, then the whole checklist as it now stands; it replaces the case's last one."""
    blocks = (
        Paragraph(headline),
        Heading(f"{case.code} · {_status(case)}"),
        *_checklist_blocks(case, tz),
    )
    return Message(
        fallback=headline,
        blocks=blocks,
        replaces=f"checklist:{case.code}",
        public=True,
        card=case_card(case, tz),
    )


def audit_message(
    code: str, events: list[AuditEntry], tz: tzinfo, disclosure: Disclosure
) -> Message:
    """`ua log CODE`: every change, oldest first; typed notes only from `standard` up."""
    hidden = FREE_TEXT_DETAILS if disclosure is Disclosure.MINIMAL else ()
    lines = tuple(
        f"{_when(at, tz)}  {actor}  {action.replace('_', ' ')}"
        + _audit_detail({k: v for k, v in detail.items() if k not in hidden}, tz)
        + (f"  (from {where})" if where else "")
        for at, actor, action, where, detail in events
    )
    return Message(
        fallback=f"{code}: {len(events)} events", blocks=(Heading(f"{code} · log"), Bullets(lines))
    )


def _audit_detail(detail: dict[str, Any], tz: tzinfo) -> str:
    parts = []
    for key, value in detail.items():
        if key == "status" and isinstance(value, list):
            parts.append(" → ".join(value))
        elif key == "due_at" and isinstance(value, str):
            parts.append(f"due {_when(datetime.fromisoformat(value), tz)}")
        elif isinstance(value, dict):
            parts.append(", ".join(f"{k}={_yes_no(v)}" for k, v in value.items()))
        elif isinstance(value, list):
            parts.append(f"{key} {', '.join(str(v) for v in value)}")
        elif value not in (None, ""):
            parts.append(f"{key}: {value}")
    return f": {'; '.join(parts)}" if parts else ""


def _yes_no(value: object) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _checklist_blocks(case: CaseView, tz: tzinfo) -> tuple[Block, ...]:
    if not case.steps:
        return (Heading("Checklist"), Bullets(("(none)",)))
    items = tuple(
        StepItem(
            n=step.n,
            text=_step_line(step, tz),
            open=case.status == "open" and step.status in ("open", "blocked"),
        )
        for step in case.steps
    )
    return (Heading("Checklist"), StepList(code=case.code, items=items))


def case_card(case: CaseView, tz: tzinfo) -> tuple[Block, ...]:
    """The one message a chat room keeps per case: facts, targets by category, the checklist."""
    blocks: list[Block] = [
        Heading(f"{case.code} · {_status(case)}"),
        Fields(_identity_and_facts(case)),
    ]
    for category, title in _CATEGORY_TITLES.items():
        lines = tuple(
            f"T{n} {t.name} — {t.reason}" + (f" Replied: {t.reply}" if t.reply else "")
            for n, t in enumerate(case.targets, 1)
            if t.category == category
        )
        if lines:
            blocks.append(Group(f"{title} ({len(lines)})", lines))
    return (
        *blocks,
        *_checklist_blocks(case, tz),
        Note(f"Contacts: ua show {case.code}"),
    )


def _status(case: CaseView) -> str:
    if case.status == "closed" and case.outcome:
        return f"closed ({case.outcome.replace('_', ' ')})"
    return case.status


def _stored_target_line(n: int, target: TargetView) -> str:
    line = f"T{n} {target.name} — {target.reason}"
    if target.contact:
        line += f" Contact: {target.contact}"
    if target.reply:
        line += f" Replied: {target.reply}"
    return line


def _describe(case: CaseView) -> str:
    profiles = ", ".join(_words(case.profiles)) or "defender"
    return f"{profiles} in {case.country_name}, {', '.join(_words(case.threats))}"


def _identity_and_facts(case: CaseView) -> tuple[tuple[str, str], ...]:
    identity = (("Defender", case.defender_name),) if case.defender_name else ()
    return (*identity, *_facts(case))


def _facts(case: CaseView) -> tuple[tuple[str, str], ...]:
    return (
        ("Country", case.country_name),
        ("Severity", case.severity),
        ("Threats", ", ".join(_words(case.threats))),
        ("Profiles", ", ".join(_words(case.profiles)) or "not given"),
    )


def _step_line(step: StepView, tz: tzinfo) -> str:
    mark = _STEP_MARKS.get(step.status, "[ ]")
    owner = step.assignee or step.owner_role
    line = f"{mark} {step.n}. {step.title} — {owner}"
    if step.status in ("open", "blocked"):
        line += f", due {_when(step.due_at, tz)}"
    if step.gated_by and step.status == "blocked":
        line += f" (waiting for {step.gated_by.replace('.', ' ')})"
    if step.note and step.status in ("done", "skipped"):
        line += f" ({step.note})"
    return line


def _when(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %H:%M %Z")


def _words(terms: tuple[str, ...]) -> list[str]:
    return [term.replace("_", " ") for term in terms]


_HELP = {
    "new": "Open a case. Keys: country, threats, profiles, summary, occurred_on, severity, "
    "defender, organisation, gender, work (their human rights work), place, domestic_actions, "
    "earlier_incidents, perpetrators, company, home_country, financiers, consent, "
    "separate (yes: open it even if it looks like a case of the last 24 hours). "
    "Lists are comma-separated; quote values with spaces.",
    "route": "Show whom to engage and why for an alert, without opening a case (same keys as new).",
    "list": "List open cases; 'ua list all' lists closed ones too.",
    "show": "Show a case: facts, targets (T1, T2 …) with reasons, checklist with steps 1, 2 ….",
    "claim": "Take a step yourself.",
    "assign": "Give a step to someone.",
    "done": "Mark a step done, with an optional note.",
    "skip": "Skip a step; say why.",
    "snooze": "Push a step's due time back (5s, 30m, 4h, 2d, 1w).",
    "note": "Add a note to the case's log.",
    "consent": "Record the defender's consent per use; steps waiting for it open.",
    "reply": "Record what a target (T1, T2 … in ua show) answered.",
    "close": "Close the case with its outcome.",
    "reopen": "Open a closed case again.",
    "log": "Every change to the case: who, when, what, from where.",
    "measure": "Record a precautionary (IACHR), provisional (IACtHR, ACHPR) or interim (UN) "
    "measure's state; follow-up steps follow on the playbook's cadence.",
    "digest": "Post the daily digest here now, or set this room's daily digest time and zone.",
    "leads": "Make this room the team leads' room: escalations past the case lead come here.",
    "report": "Counts of cases, response times, targets and measures for a period, with a "
    "chart (counts under 3 shown as <3); 'weekly on' posts the week's summary every Monday.",
    "bind": "Admins: let Tocsin act in this channel or room, for a team. Unbound places get "
    "only a line saying how to bind them.",
    "unbind": "Admins: Tocsin stops acting here; cases stay, their reminders go to the leads room.",
    "disclosure": "Show how much of a case this place sees; admins set minimal (no names, "
    "summary or notes), standard (adds the summary and notes) or full (adds names: only in an "
    "end-to-end-encrypted room or the console).",
    "role": "Show who holds which role here; admins give a role: observer (reads), responder "
    "(works cases), lead (also consent, close, reopen, digest time), admin (also bind, roles, "
    "disclosure, purge). 'everyone' sets the role of members without one (default responder).",
    "purge": "Admins: erase a case's name, organisation, summary, notes and replies now, keeping "
    "its anonymous numbers. Asks for confirmation.",
    "draft": "A draft letter for the institutions step N names (UN mandates, the IACHR, an "
    "embassy, a fund), in English, Spanish, French or Portuguese. Names only with consent and "
    "where this place may see them; Tocsin never sends it: send it, then ua done CODE N sent.",
    "facts": "Record what a UN submission asks for, learnt after opening: where it happened, "
    "the defender's human rights work, actions taken domestically, earlier incidents, the date.",
    "help": "Show this help, or the help of one command.",
}


def help_message(topic: str | None) -> Message:
    """`ua help [command]`."""
    if topic is not None and topic in _HELP:
        text = f"{USAGE[topic]}\n{_HELP[topic]}"
        return Message(fallback=text, blocks=(Paragraph(USAGE[topic]), Note(_HELP[topic])))
    items = tuple(f"{USAGE[verb]} — {_HELP[verb]}" for verb in USAGE)
    lead = "Tocsin commands:" if topic is None else f"No command '{topic}'. Tocsin commands:"
    return Message(fallback=lead, blocks=(Heading(lead), Bullets(items)))


_CATEGORY_TITLES = {
    "un_special_procedure": "UN Special Procedures",
    "un_reprisals": "UN reprisals",
    "regional_body": "Regional human rights bodies",
    "embassy": "Embassies",
    "accountability_mechanism": "Accountability mechanisms",
    "oecd_ncp": "OECD National Contact Points",
    "emergency_support": "Emergency support",
    "journalist_support": "Journalist support",
}


def routing_message(result: Triage) -> Message:
    """`ua route …`: the targets grouped by category, each with its reason and contact."""
    title = _triage_title(result)
    blocks = (
        *_target_blocks(result),
        *_financier_notes(result),
        Note("Nothing was stored. Open the case with: ua new …"),
    )
    return Message(fallback=f"{title}: {len(result.targets)} targets", blocks=blocks)


def triage_message(result: Triage) -> Message:
    """`tocsin triage`: the targets by category, then the checklist the case would start with."""
    steps = tuple(
        f"{s.n}. {s.title} ({s.owner_role}, due in {s.due_in_minutes} min"
        + (f", waiting for {s.gated_by})" if s.gated_by else ")")
        for s in result.checklist
    )
    blocks = (
        *_target_blocks(result),
        *_financier_notes(result),
        Heading("Checklist"),
        Bullets(steps),
    )
    return Message(fallback=_triage_title(result), blocks=blocks)


def _financier_notes(result: Triage) -> tuple[Block, ...]:
    if not result.unknown_financiers:
        return ()
    names = ", ".join(f"'{f}'" for f in result.unknown_financiers)
    return (
        Note(
            f"No accountability mechanism is known for {names}: check the spelling (World Bank, "
            "IFC, MIGA, IDB, IDB Invest, AfDB, ADB, EBRD, EIB, AIIB) or look for its own "
            "complaints channel."
        ),
    )


def _triage_title(result: Triage) -> str:
    return f"Whom to engage: {result.country_name}, {result.alert.effective_severity.value}"


def _target_blocks(result: Triage) -> list[Block]:
    blocks: list[Block] = [Heading(_triage_title(result))]
    for category, title_text in _CATEGORY_TITLES.items():
        targets = [t for t in result.targets if t.category.value == category]
        if targets:
            blocks.append(Heading(f"{title_text} ({len(targets)})"))
            blocks.append(Bullets(tuple(_target_line(t) for t in targets)))
    return blocks


def _target_line(target: Target) -> str:
    line = f"{target.name} — {target.reason}"
    return f"{line} Contact: {target.contact}" if target.contact else line
