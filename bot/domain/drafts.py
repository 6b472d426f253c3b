"""What a draft appeal may say: the letter's variables, with a placeholder wherever consent or
the place's disclosure keeps a fact out, or the case does not hold it (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel import Locale
from babel.dates import format_date

from bot.domain.case import CaseView, Disclosure, StepView, TargetView
from bot.domain.commands.forms import CommandError
from bot.domain.directory import EMBASSY, Directory
from bot.domain.vocabulary import LIFE_OR_INTEGRITY_THREATS, Threat
from bot.domain.world import Institution, TargetCategory, World

LANGUAGES = ("en", "es", "fr", "pt")
# The UN Special Procedures take submissions in these only (REFERENCE.md section 2).
UN_LANGUAGES = ("en", "es", "fr")
UN_CATEGORIES = frozenset({TargetCategory.UN_SPECIAL_PROCEDURE, TargetCategory.UN_REPRISALS})
# Categories whose letters reach a state (or a body that writes to it): the defender's identity
# goes in only with `consent.government`. Emergency funds and press-freedom groups are not states.
STATE_FACING = frozenset(TargetCategory) - {
    TargetCategory.EMERGENCY_SUPPORT,
    TargetCategory.JOURNALIST_SUPPORT,
}
AMBASSADOR_STEP = "ambassador"
TARGET_SEPARATOR = "; "

# The yes/no variables templates branch on.
DRAFT_FLAGS = (
    "consent_government",
    "consent_un_public",
    "consent_media",
    "urgent",
    "life_at_risk",
    "detained",
    "judicial",
    "ambassador",
)
# Every name a template may use; a template using any other fails at start.
DRAFT_VARIABLES = frozenset(
    {
        *DRAFT_FLAGS,
        "code",
        "today",
        "mandates",
        "institution",
        "country",
        "defender",
        "organisation",
        "gender",
        "work",
        "profiles",
        "threats",
        "perpetrators",
        "occurred_on",
        "place",
        "summary",
        "domestic_actions",
        "earlier_incidents",
        "company",
        "guideline",
        "sender",
    }
)


class DraftError(CommandError):
    """A draft that cannot be made, with what to do instead."""


@dataclass(frozen=True)
class Terms:
    """One language's words for drafts (config/templates/LANG/terms.yaml)."""

    placeholders: Mapping[str, str]
    fields: Mapping[str, str]
    threats: Mapping[str, str]
    profiles: Mapping[str, str]
    perpetrators: Mapping[str, str]

    def not_recorded(self, field: str) -> str:
        """The placeholder for a fact the case does not hold."""
        return self.placeholders["not_recorded"].format(field=self.fields[field])

    def not_shown(self, field: str) -> str:
        """The placeholder for a fact this place may not see."""
        return self.placeholders["not_shown"].format(field=self.fields[field])

    def consent_not_given(self, field: str) -> str:
        """The placeholder for an identity the defender has not agreed to give."""
        return self.placeholders["consent_not_given"].format(field=self.fields[field])


@dataclass(frozen=True)
class DraftScope:
    """A draft asked for: the case as the place may see it, the targets it is addressed to."""

    case: CaseView
    targets: tuple[TargetView, ...]
    language: str
    level: Disclosure
    today: date
    guideline: str = ""

    @property
    def category(self) -> TargetCategory:
        """The kind of institution written to (the first target's: a step's share one)."""
        return TargetCategory(self.targets[0].category)


def step_targets(case: CaseView, n: int) -> tuple[StepView, tuple[TargetView, ...]]:
    """Checklist step `n` of the case and the targets it names."""
    step = next((s for s in case.steps if s.n == n), None)
    if step is None:
        raise DraftError(f"{case.code} has no step {n}: see the steps with: ua show {case.code}")
    names = step.target_name.split(TARGET_SEPARATOR) if step.target_name else []
    targets = tuple(t for t in case.targets if t.name in names)
    if not targets:
        with_targets = [str(s.n) for s in case.steps if s.target_name]
        hint = f" Steps with one: {', '.join(with_targets)}." if with_targets else ""
        raise DraftError(f"Step {n} of {case.code} names no institution to write to.{hint}")
    return step, targets


def pick_targets(case: CaseView, wanted: str) -> tuple[TargetView, ...]:
    """The targets a `--target` names (T2, an institution id such as `iachr` or `embassy:CA`,
    or part of a name), widened to the step that covers them together."""
    found = _matching_targets(case.targets, wanted.strip())
    if not found:
        listed = "; ".join(f"T{n} {t.name}" for n, t in enumerate(case.targets, 1))
        raise DraftError(f"No target of {case.code} matches '{wanted}'. Targets: {listed}")
    if len({t.name for t in found}) > 1 and not _same_step(case, found):
        names = "; ".join(t.name for t in found)
        raise DraftError(f"'{wanted}' matches several targets ({names}): use T1, T2 …")
    return _with_step_companions(case, found[0])


def _matching_targets(targets: tuple[TargetView, ...], wanted: str) -> list[TargetView]:
    lowered = wanted.lower()
    if lowered.startswith("t") and lowered[1:].isdigit():
        index = int(lowered[1:]) - 1
        return [targets[index]] if 0 <= index < len(targets) else []
    exact = [t for t in targets if t.institution.lower() == lowered]
    return exact or [t for t in targets if lowered and lowered in t.name.lower()]


def _same_step(case: CaseView, targets: list[TargetView]) -> bool:
    names = {t.name for t in targets}
    return any(
        s.target_name and names <= set(s.target_name.split(TARGET_SEPARATOR)) for s in case.steps
    )


def _with_step_companions(case: CaseView, target: TargetView) -> tuple[TargetView, ...]:
    for step in case.steps:
        names = step.target_name.split(TARGET_SEPARATOR) if step.target_name else []
        if target.name in names:
            return tuple(t for t in case.targets if t.name in names)
    return (target,)


def default_language(category: TargetCategory, *, team: str, un: str) -> str:
    """The UN's language for UN mandates (English unless the team set another), else the team's."""
    return un if category in UN_CATEGORIES else team


def check_language(language: str) -> str:
    """The language code, or DraftError naming the ones there are."""
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise DraftError(f"Drafts are written in {', '.join(LANGUAGES)}; '{language}' is not one.")
    return code


def language_warning(category: TargetCategory, language: str) -> str | None:
    """A line for the responder when the institution will not read this language."""
    if category in UN_CATEGORIES and language not in UN_LANGUAGES:
        return (
            "The UN takes submissions in English, French or Spanish only: use this draft to "
            "check the facts, and send the en, fr or es version."
        )
    return None


def draft_variables(scope: DraftScope, terms: Terms, *, country_name: str) -> dict[str, Any]:
    """Everything a template may print, each fact already replaced by a placeholder where it
    may not or cannot appear."""
    case = scope.case
    threats = set(case.threats)
    return {
        "code": case.code,
        "today": format_date(scope.today, format="long", locale=scope.language),
        "mandates": [t.name for t in scope.targets],
        "institution": scope.targets[0].institution.partition(":")[0],
        "country": _country(case.country, scope.language, country_name),
        **_identity(scope, terms),
        **_facts(scope, terms),
        "profiles": _words(case.profiles, terms.profiles) or terms.not_recorded("profiles"),
        "threats": _words(case.threats, terms.threats),
        "perpetrators": _words(case.perpetrators, terms.perpetrators)
        or terms.perpetrators["unknown"],
        "occurred_on": (
            format_date(case.occurred_on, format="long", locale=scope.language)
            if case.occurred_on
            else terms.not_recorded("date")
        ),
        "company": case.company or "",
        "consent_government": case.consented("government"),
        "consent_un_public": case.consented("un_public"),
        "consent_media": case.consented("media"),
        "urgent": case.status == "open" and case.severity in ("critical", "high"),
        "life_at_risk": bool(threats & {t.value for t in LIFE_OR_INTEGRITY_THREATS}),
        "detained": Threat.ARBITRARY_DETENTION.value in threats,
        "judicial": bool(threats & {"judicial_harassment", "counter_terrorism_charges"}),
        "guideline": scope.guideline,
        "ambassador": any(s.key == AMBASSADOR_STEP for s in case.steps),
        "sender": terms.placeholders["sender"],
    }


def _identity(scope: DraftScope, terms: Terms) -> dict[str, str]:
    """Name, organisation, gender and work: in only with consent (for states) and at `full`."""
    case = scope.case
    values = {
        "defender": ("name", case.defender_name),
        "organisation": ("organisation", case.defender_organisation),
        "gender": ("gender", case.defender_gender),
        "work": ("work", case.defender_work),
    }
    needs_consent = identity_withheld(scope)
    return {
        key: _identity_value(field, value, scope.level, terms, needs_consent=needs_consent)
        for key, (field, value) in values.items()
    }


def identity_withheld(scope: DraftScope) -> bool:
    """Whether the letter reaches a state while the defender has not agreed to that."""
    return scope.category in STATE_FACING and not scope.case.consented("government")


def _identity_value(
    field: str, value: str | None, level: Disclosure, terms: Terms, *, needs_consent: bool
) -> str:
    if needs_consent:
        return terms.consent_not_given(field)
    if level is not Disclosure.FULL:
        return terms.not_shown(field)
    return value or terms.not_recorded(field)


def _facts(scope: DraftScope, terms: Terms) -> dict[str, str]:
    """The free-text facts: shown from `standard` up, like the summary."""
    case = scope.case
    values = {
        "summary": case.summary or None,
        "place": case.place,
        "domestic_actions": case.domestic_actions,
        "earlier_incidents": case.earlier_incidents,
    }
    hidden = scope.level is Disclosure.MINIMAL
    return {
        field: terms.not_shown(field) if hidden else (value or terms.not_recorded(field))
        for field, value in values.items()
    }


def _words(terms: Iterable[str], labels: Mapping[str, str]) -> str:
    return ", ".join(labels.get(term, term.replace("_", " ")) for term in terms)


def _country(code: str, language: str, fallback: str) -> str:
    name = Locale.parse(language).territories.get(code)
    return str(name) if name else fallback


def recipient_addresses(
    targets: Iterable[TargetView], world: World, directory: Directory, country: str
) -> tuple[str, ...]:
    """The e-mail addresses on file for the targets: the institution's confirmed address from
    Tocsin's data, then the organisation's own contacts (an embassy's come only from those)."""
    official = {i.id: i.email for i in _institutions(world) if i.email}
    found: list[str] = []
    for target in targets:
        kind, _, government = target.institution.partition(":")
        if kind == EMBASSY and government:
            contacts = directory.for_mission(government, country)
        else:
            contacts = directory.for_institution(kind, country)
            found.append(official.get(kind, ""))
        found.extend(c.email or "" for c in contacts)
    return tuple(dict.fromkeys(address for address in found if address))


def _institutions(world: World) -> Iterable[Institution]:
    yield from world.un.mandates
    yield from world.regional.bodies
    yield from world.support.organisations


def embassy_guideline(targets: Iterable[TargetView], world: World) -> str:
    """The HRD guideline of the government whose mission is written to ('' for other targets)."""
    for target in targets:
        kind, _, government = target.institution.partition(":")
        if kind == EMBASSY and government in world.supportive:
            return world.government(government).guideline
    return ""
