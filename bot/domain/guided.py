"""A guided `ua new`: the alert's fields asked one message at a time, checked as they come."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.alert import AlertError, parse_alert
from bot.domain.commands.alert_words import parse_alert_words
from bot.domain.commands.forms import CommandError
from bot.domain.commands.words import split_words
from bot.domain.countries import CountryIndex
from bot.domain.text import clean
from bot.domain.vocabulary import Profile, Threat

CANCEL_WORDS = frozenset({"cancel", "stop", "ua cancel", "!ua cancel", "/ua cancel"})
FINISH_WORDS = frozenset({"done", "no", "none", "send", "-"})
# Valid stand-ins for the fields not asked yet, so each answer is checked by the one validator
# every other surface uses, and only the field just answered can fail.
_STAND_INS: dict[str, Any] = {
    "country": "HN",
    "threats": ["arbitrary_detention"],
    "profiles": ["journalist"],
    "summary": "-",
}


@dataclass(frozen=True, slots=True)
class Question:
    """One field to ask for."""

    key: str
    prompt: str
    is_list: bool = False


QUESTIONS: tuple[Question, ...] = (
    Question("country", "1/5 · In which country is the defender at risk? (a name or a code: HN)"),
    Question(
        "threats",
        "2/5 · What is the threat? One or more, comma-separated: "
        + ", ".join(t.value for t in Threat),
        is_list=True,
    ),
    Question(
        "profiles",
        "3/5 · Who is the defender? One or more, comma-separated: "
        + ", ".join(p.value for p in Profile),
        is_list=True,
    ),
    Question("summary", "4/5 · What happened? One message, no need to name anyone."),
)
EXTRAS_PROMPT = (
    "5/5 · Anything else? key=value words ({keys}severity=, occurred_on=, perpetrators=, "
    "company=, financiers=, consent=), or 'done' to open the case."
)
# The words that name someone, and where each lands in the alert's `defender` part.
NAME_KEYS = (("defender", "name"), ("organisation", "organisation"))
NOT_HERE = (
    "Not here: this room is not end-to-end encrypted, so Tocsin takes no names in it. Give "
    "{key}= in an encrypted room, or leave it out."
)
CANCEL_HINT = " (Say 'cancel' to stop.)"


@dataclass(frozen=True, slots=True)
class GuidedAlert:
    """Where a guided alert stands: the answers so far and the question now asked."""

    answers: dict[str, Any] = field(default_factory=dict)
    asked: int = 0
    # Names are asked for only where they are safe: an end-to-end-encrypted room.
    names_allowed: bool = False

    @property
    def prompt(self) -> str:
        """The question to ask now."""
        if self.asked < len(QUESTIONS):
            return QUESTIONS[self.asked].prompt + CANCEL_HINT
        keys = "defender=, organisation=, " if self.names_allowed else ""
        return EXTRAS_PROMPT.format(keys=keys) + CANCEL_HINT


@dataclass(frozen=True, slots=True)
class GuidedStep:
    """The outcome of one answer: the next state and what to say, or the finished alert."""

    state: GuidedAlert | None
    say: str
    alert: dict[str, Any] | None = None
    cancelled: bool = False


def start(*, names_allowed: bool) -> GuidedStep:
    """Begin a guided alert; `names_allowed` only where the conversation is encrypted."""
    state = GuidedAlert(names_allowed=names_allowed)
    return GuidedStep(state, "New urgent alert. " + state.prompt)


def answer(state: GuidedAlert, text: str, countries: CountryIndex) -> GuidedStep:
    """Take one answer: ask again with the reason when it is not accepted, else move on."""
    said = clean(text).strip()
    if said.lower() in CANCEL_WORDS:
        return GuidedStep(None, "Cancelled: no case was opened.", cancelled=True)
    if state.asked < len(QUESTIONS):
        return _answer_question(state, QUESTIONS[state.asked], said, countries)
    return _answer_extras(state, said, countries)


def _answer_question(
    state: GuidedAlert, question: Question, said: str, countries: CountryIndex
) -> GuidedStep:
    value: Any = _split_list(said) if question.is_list else said
    answers = {**state.answers, question.key: value}
    problem = _problem_with(answers, question.key, countries)
    if problem:
        return GuidedStep(state, f"Not accepted: {problem}. {state.prompt}")
    following = GuidedAlert(
        answers=answers, asked=state.asked + 1, names_allowed=state.names_allowed
    )
    return GuidedStep(following, following.prompt)


def _answer_extras(state: GuidedAlert, said: str, countries: CountryIndex) -> GuidedStep:
    if said.lower() in FINISH_WORDS:
        return GuidedStep(None, "Opening the case…", alert=state.answers)
    try:
        extras = parse_alert_words(split_words(said))
    except CommandError as error:
        return GuidedStep(state, f"Not accepted: {error} {state.prompt}")
    given = extras.get("defender", {})
    names = [word for word, part in NAME_KEYS if part in given]
    if names and not state.names_allowed:
        return GuidedStep(state, NOT_HERE.format(key=names[0]) + " " + state.prompt)
    asked_already = [key for key in extras if key in _STAND_INS]
    if asked_already:
        return GuidedStep(
            state, f"Not accepted: {asked_already[0]} was asked already. " + state.prompt
        )
    answers = _merge(state.answers, extras)
    try:
        parse_alert(answers, countries)
    except AlertError as error:
        return GuidedStep(state, f"Not accepted: {error}. {state.prompt}")
    return GuidedStep(None, "Opening the case…", alert=answers)


def _problem_with(answers: dict[str, Any], key: str, countries: CountryIndex) -> str | None:
    try:
        parse_alert({**_STAND_INS, **answers}, countries)
    except AlertError as error:
        if error.field.split(".")[0].split("[")[0] == key:
            return str(error)
    return None


def _merge(answers: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    merged = dict(answers)
    for key, value in extras.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _split_list(text: str) -> list[str]:
    return [item.strip() for item in text.replace(";", ",").split(",") if item.strip()]
