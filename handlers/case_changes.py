"""Changing the case itself: notes, consent, facts, target replies, close, reopen; its audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bot.domain import lifecycle
from bot.domain.alert import MAX_SHORT_TEXT, MAX_TEXT
from bot.domain.commands.forms import CaseChange, RecordFacts, RecordReply, SetConsent
from bot.domain.commands.request import Command
from bot.domain.commands.words import unquote as _unquote
from bot.domain.lifecycle import StepState, TransitionError
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.domain.text import clean
from bot.domain.views import audit_message
from bot.store.cases import get_case
from bot.store.changes import (
    audit_trail,
    case_state,
    consents_of,
    lock_case,
    record,
    set_consents,
    step_state,
    store_case,
    store_step,
)
from bot.store.models import Case, Defender
from handlers.context import Services
from handlers.loading import card_reply, found, open_case_for_change
from handlers.registry import handles


@handles(CaseChange)
def change_case(change: CaseChange, request: Command, services: Services) -> Message:
    """`ua note|close|reopen|log CODE …`."""
    actor, place = request.actor, request.place
    if change.action == "log":
        return _log(change.code, place, services)
    now = services.clock()
    with services.transaction() as session:
        case = found(lock_case(session=session, code=change.code), change.code)
        detail: dict[str, object]
        if change.action == "note":
            lifecycle.ensure_open(case_state(case))
            detail, headline = {"text": change.text}, "Note added."
        elif change.action == "close":
            outcome, note = _outcome_and_note(change.text)
            store_case(case, lifecycle.close(case_state(case), outcome.lower(), now))
            _each_step(case, lifecycle.silence)
            detail = (
                {"outcome": case.outcome, "note": note.strip()}
                if note.strip()
                else {"outcome": case.outcome}
            )
            headline = f"{case.code} closed: {(case.outcome or '').replace('_', ' ')}."
        else:
            store_case(case, lifecycle.reopen(case_state(case)))
            _each_step(case, lifecycle.wake)
            detail, headline = {}, f"{case.code} is open again."
        record(
            session=session,
            case=case,
            actor=actor,
            place=place,
            action=f"case_{change.action}",
            now=now,
            detail=detail,
        )
        return card_reply(session, services, case, place, headline)


def _outcome_and_note(text: str) -> tuple[str, str]:
    words = text.split(maxsplit=1)
    note = words[1] if len(words) > 1 else ""
    return words[0].lower(), _unquote(note)


def _each_step(case: Case, change: Callable[[StepState], StepState]) -> None:
    for row in case.steps:
        store_step(row, change(step_state(row)))


@handles(SetConsent)
def set_consent(change: SetConsent, request: Command, services: Services) -> Message:
    """`ua consent CODE media=yes …`: record the answers and open or block the steps they gate."""
    actor, place = request.actor, request.place
    now = services.clock()
    with services.transaction() as session:
        case = open_case_for_change(lock_case(session=session, code=change.code), change.code)
        recorded = consents_of(case)
        if all(recorded[use] == given for use, given in change.changes.items()):
            raise TransitionError("That consent is already recorded; nothing changed.")
        consents = {**recorded, **change.changes}
        set_consents(case, consents)
        moved: dict[str, list[int]] = {"opened": [], "blocked": []}
        for row in case.steps:
            before = step_state(row)
            after = lifecycle.apply_consent(before, consents)
            if after != before:
                store_step(row, after)
                moved["opened" if after.status.value == "open" else "blocked"].append(row.n)
        record(
            session=session,
            case=case,
            actor=actor,
            place=place,
            action="consent",
            now=now,
            detail={"changes": change.changes, **{k: v for k, v in moved.items() if v}},
        )
        answers = ", ".join(f"{use}={'yes' if on else 'no'}" for use, on in change.changes.items())
        headline = f"Consent recorded: {answers}." + "".join(
            f" {_steps_phrase(numbers)} {verb}." for verb, numbers in moved.items() if numbers
        )
        return card_reply(session, services, case, place, headline)


def _steps_phrase(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"Step {numbers[0]}"
    return "Steps " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


@handles(RecordReply)
def record_reply(change: RecordReply, request: Command, services: Services) -> Message:
    """`ua reply CODE T2 text`: a target answered."""
    actor, place = request.actor, request.place
    now = services.clock()
    with services.transaction() as session:
        case = open_case_for_change(lock_case(session=session, code=change.code), change.code)
        if not 1 <= change.target <= len(case.targets):
            raise TransitionError(
                f"{case.code} has no target T{change.target}; "
                f"its targets are T1 to T{len(case.targets)}."
            )
        target = case.targets[change.target - 1]
        target.status, target.reply, target.replied_at = "replied", change.text, now
        record(
            session=session,
            case=case,
            actor=actor,
            place=place,
            action="target_replied",
            now=now,
            detail={"target": target.name, "text": change.text},
        )
        return card_reply(session, services, case, place, f"Reply from {target.name} recorded.")


def _log(code: str, place: Place, services: Services) -> Message:
    with services.transaction() as session:
        case: Case = found(get_case(session=session, code=code), code)
        events = [
            (
                e.at,
                _actor_and_device(e.actor, e.device, e.device_trust),
                e.action,
                e.destination,
                e.detail,
            )
            for e in audit_trail(session=session, case=case)
        ]
        level = services.disclosure_for(session, place)
    return audit_message(code, events, services.zone_for(place), level)


def _actor_and_device(actor: str, device: str | None, trust: str | None) -> str:
    """Who acted, with the device and how it was trusted where the command came from one."""
    return f"{actor} (device {device}, {trust})" if device else actor


_FACT_LIMITS = {"place": MAX_SHORT_TEXT}


@handles(RecordFacts)
def record_facts(change: RecordFacts, request: Command, services: Services) -> Message:
    """`ua facts CODE place=… work=…`: what UN submissions ask for, learnt after opening. The
    log says which facts changed, never their text (it may identify the defender)."""
    actor, place = request.actor, request.place
    values = {key: clean(value) for key, value in change.facts.items()}
    for key, value in values.items():
        limit = _FACT_LIMITS.get(key, MAX_TEXT)
        if len(value) > limit:
            raise TransitionError(f"{key} is too long: at most {limit:,} characters.")
    with services.transaction() as session:
        case = open_case_for_change(lock_case(session=session, code=change.code), change.code)
        _set_facts(case, values)
        record(
            session=session,
            case=case,
            actor=actor,
            place=place,
            action="facts",
            now=services.clock(),
            detail={"fields": sorted(values)},
        )
        headline = (
            f"Recorded for {case.code}: {', '.join(k.replace('_', ' ') for k in values)}. "
            f"Drafts use them: ua draft {case.code} N"
        )
        return card_reply(session, services, case, place, headline)


def _set_facts(case: Case, values: dict[str, str]) -> None:
    for key, value in values.items():
        if key == "work":
            if case.defender is None:
                case.defender = Defender()
            case.defender.work = value
        elif key == "occurred_on":
            case.occurred_on = date.fromisoformat(value)
        else:
            setattr(case, key, value)
