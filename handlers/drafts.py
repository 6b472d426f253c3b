"""Draft appeals: `ua draft CODE N [lang]` in chat and `tocsin draft` at the console. Tocsin
writes the letter; a person checks it and sends it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.domain.case import CaseView, Disclosure, TargetView, disclose
from bot.domain.commands.forms import DraftAppeal
from bot.domain.commands.request import Command
from bot.domain.drafts import (
    DraftError,
    DraftScope,
    check_language,
    default_language,
    draft_variables,
    embassy_guideline,
    identity_withheld,
    language_warning,
    recipient_addresses,
    step_targets,
)
from bot.domain.messages import Heading, Message, Note, Paragraph
from bot.domain.places import Place
from bot.domain.world import TargetCategory
from bot.store.cases import case_view, get_case
from bot.store.changes import record
from bot.store.contacts import load_directory
from config.letters import Letter
from handlers.context import Services
from handlers.registry import handles

LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French", "pt": "Portuguese"}


@dataclass(frozen=True)
class Draft:
    """A letter for some of a case's targets, and what the responder needs to send it."""

    code: str
    targets: tuple[TargetView, ...]
    language: str
    level: Disclosure
    letter: Letter
    recipients: tuple[str, ...]
    warning: str | None
    name_withheld: bool


Chooser = Callable[[CaseView], tuple[TargetView, ...]]


@handles(DraftAppeal)
def draft_command(command: DraftAppeal, request: Command, services: Services) -> Message:
    """`ua draft CODE N [lang]`: the draft for step N, as much as this place may see."""
    actor, place = request.actor, request.place
    with services.transaction() as session:
        level = services.disclosure_for(session, place)
        draft = make_draft(
            session,
            services,
            code=command.code,
            choose=lambda view: step_targets(view, command.n)[1],
            language=command.language,
            place=place,
            actor=actor,
            level=level,
        )
    return draft_message(draft, step=command.n, full_level=place.may_see_names, level=level)


def make_draft(
    session: Session,
    services: Services,
    *,
    code: str,
    choose: Chooser,
    language: str | None,
    place: Place,
    actor: str,
    level: Disclosure,
) -> Draft:
    """The draft of case `code` for the targets `choose` picks, in `language` (else the
    target's default), with what `level` allows; the request is audited as made at `place`."""
    case = get_case(session=session, code=code)
    if case is None:
        raise DraftError(f"No case {code}. See the open cases with: ua list")
    full = case_view(
        case, country_name=services.country_name(case.country), detail=True, identity=True
    )
    view = disclose(full, level)
    targets = choose(view)
    category = TargetCategory(targets[0].category)
    chosen = check_language(language) if language else _default(category, services)
    scope = DraftScope(
        case=view,
        targets=targets,
        language=chosen,
        level=level,
        today=services.today(),
        guideline=embassy_guideline(targets, services.world),
    )
    variables = draft_variables(
        scope, services.letters.terms[chosen], country_name=view.country_name
    )
    directory = load_directory(session=session, countries=[view.country])
    record(
        session=session,
        case=case,
        actor=actor,
        place=place,
        action="draft",
        now=services.clock(),
        detail={"targets": [t.name for t in targets], "language": chosen, "level": scope.level},
        changes_case=False,
    )
    return Draft(
        code=view.code,
        targets=targets,
        language=chosen,
        level=scope.level,
        letter=services.letters.render(category, chosen, variables),
        recipients=recipient_addresses(targets, services.world, directory, view.country),
        warning=language_warning(category, chosen),
        name_withheld=identity_withheld(scope),
    )


def _default(category: TargetCategory, services: Services) -> str:
    return default_language(category, team=services.draft_language, un=services.un_language)


def draft_message(draft: Draft, *, step: int, full_level: bool, level: Disclosure) -> Message:
    """The draft in chat: who it is for, what was left out and why, the letter, how to record."""
    names = "; ".join(t.name for t in draft.targets)
    notes = [_addresses(draft), *_left_out(draft, full_level=full_level, level=level)]
    if draft.warning:
        notes.append(draft.warning)
    notes.append(
        "Tocsin sends nothing: check the draft, send it yourself, then record it with: "
        f"ua done {draft.code} {step} sent"
    )
    return Message(
        fallback=f"Draft for step {step} of {draft.code} ({LANGUAGE_NAMES[draft.language]})",
        blocks=(
            Heading(f"Draft for step {step} of {draft.code}: {names}"),
            Note(f"{LANGUAGE_NAMES[draft.language]} · " + " ".join(notes[:1])),
            Paragraph(f"Subject: {draft.letter.subject}"),
            Paragraph(draft.letter.body.rstrip()),
            *(Note(note) for note in notes[1:]),
        ),
    )


def _addresses(draft: Draft) -> str:
    if draft.recipients:
        return f"To: {', '.join(draft.recipients)}"
    return (
        "No e-mail address on file for this target: use its form or channel, or add the "
        "address to your directory (tocsin contacts import)."
    )


def _left_out(draft: Draft, *, full_level: bool, level: Disclosure) -> list[str]:
    notes = []
    if draft.name_withheld:
        notes.append(
            "The defender has not agreed that their name go to governments: it stays out. Once "
            f"they agree: ua consent {draft.code} government=yes"
        )
    if level is not Disclosure.FULL:
        where = "set this room to full disclosure" if full_level else "ask in an encrypted room"
        hidden = (
            "every sensitive fact" if level is Disclosure.MINIMAL else "the defender's identity"
        )
        notes.append(
            f"This place may not see {hidden}, so placeholders stand in for it. For the full "
            f"draft, {where}, or at the console: tocsin draft {draft.code} --target "
            f"{draft.targets[0].institution or 'T1'} --format eml"
        )
    return notes
