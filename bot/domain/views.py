"""Cases rendered into neutral messages, in the destination's time zone and disclosure."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.domain.case import FREE_TEXT_DETAILS, CaseView, Disclosure, StepView, TargetView
from bot.domain.commands.alert_words import USAGE_NEW
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
        return Message(fallback=none, blocks=(Paragraph(none + " Open one with: " + USAGE_NEW),))
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
