"""The letter templates of draft appeals (config/templates/LANG/CATEGORY.txt.j2), loaded and
checked at start: a template that uses a name drafts do not provide stops Tocsin there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from pydantic import BaseModel, ConfigDict, field_validator

from bot.domain.drafts import DRAFT_FLAGS, DRAFT_VARIABLES, LANGUAGES, Terms
from bot.domain.vocabulary import Perpetrator, Profile, Threat
from bot.domain.world import TargetCategory
from config.datafile import DataFileError, load_data_file

TEMPLATES = Path(__file__).parent / "templates"
BLOCKS = ("subject", "body")
SUFFIX = ".txt.j2"
HTML_LETTER = "letter.html.j2"


class _Placeholders(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consent_not_given: str
    not_recorded: str
    not_shown: str
    sender: str

    @field_validator("consent_not_given", "not_recorded", "not_shown")
    @classmethod
    def _names_field(cls, value: str) -> str:
        if "{field}" not in value:
            raise ValueError("must contain {field}, where the missing fact's name goes")
        return value


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    organisation: str
    gender: str
    work: str
    place: str
    date: str
    summary: str
    domestic_actions: str
    earlier_incidents: str
    profiles: str


def _complete(terms: Mapping[str, str], expected: set[str]) -> Mapping[str, str]:
    missing = sorted(expected - set(terms))
    if missing:
        raise ValueError(f"no words for {', '.join(missing)}")
    return terms


class TermsFile(BaseModel):
    """terms.yaml: one language's placeholders and vocabulary words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placeholders: _Placeholders
    fields: _Fields
    threats: dict[str, str]
    profiles: dict[str, str]
    perpetrators: dict[str, str]

    @field_validator("threats")
    @classmethod
    def _all_threats(cls, value: dict[str, str]) -> Mapping[str, str]:
        return _complete(value, {t.value for t in Threat})

    @field_validator("profiles")
    @classmethod
    def _all_profiles(cls, value: dict[str, str]) -> Mapping[str, str]:
        return _complete(value, {p.value for p in Profile})

    @field_validator("perpetrators")
    @classmethod
    def _all_perpetrators(cls, value: dict[str, str]) -> Mapping[str, str]:
        return _complete(value, {p.value for p in Perpetrator})

    def terms(self) -> Terms:
        """The plain-data words drafts use."""
        return Terms(
            placeholders=self.placeholders.model_dump(),
            fields=self.fields.model_dump(),
            threats=self.threats,
            profiles=self.profiles,
            perpetrators=self.perpetrators,
        )


@dataclass(frozen=True)
class Letter:
    """A rendered draft."""

    subject: str
    body: str


@dataclass(frozen=True)
class LetterTemplates:
    """Every category's template in every language, checked, and each language's words."""

    root: Path
    environment: jinja2.Environment
    terms: Mapping[str, Terms]

    def render(self, category: TargetCategory, language: str, variables: dict[str, Any]) -> Letter:
        """The subject line and body of this category's letter in this language."""
        template = self.environment.get_template(template_name(language, category))
        context = template.new_context(variables)
        subject, body = ("".join(template.blocks[block](context)).strip() for block in BLOCKS)
        return Letter(subject=" ".join(subject.split()), body=body + "\n")

    def html(self, letter: Letter, language: str) -> str:
        """The letter as HTML, every character of it escaped (the facts are typed by people)."""
        paragraphs = [block.splitlines() for block in letter.body.split("\n\n") if block.strip()]
        template = self.environment.get_template(HTML_LETTER)
        return template.render(subject=letter.subject, paragraphs=paragraphs, language=language)


def template_name(language: str, category: TargetCategory) -> str:
    """The template's path under the templates folder: `es/embassy.txt.j2`."""
    return f"{language}/{category.value}{SUFFIX}"


def load_letters(root: Path | None = None) -> LetterTemplates:
    """Load and check the templates under `root` (default: Tocsin's own), or raise
    DataFileError naming the file, the line and what is wrong."""
    root = root or TEMPLATES
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
    )
    terms = {language: _load_terms(root, language) for language in LANGUAGES}
    for language in LANGUAGES:
        for path in sorted((root / language).glob("*.j2")):
            _check_names(environment, root, path)
        for category in TargetCategory:
            _check_letter(environment, root, language, category)
    letters = LetterTemplates(root=root, environment=environment, terms=terms)
    _try_every_letter(letters)
    return letters


@cache
def default_letters() -> LetterTemplates:
    """Tocsin's own templates, loaded once per process."""
    return load_letters()


def _load_terms(root: Path, language: str) -> Terms:
    return load_data_file(root / language / "terms.yaml", TermsFile).model.terms()


def _source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataFileError(f"{path}: cannot be read ({error.strerror})") from None


def _check_names(environment: jinja2.Environment, root: Path, path: Path) -> None:
    """Every name the template uses is one drafts provide."""
    try:
        tree = environment.parse(_source(path), name=str(path.relative_to(root)))
    except jinja2.TemplateSyntaxError as error:
        raise DataFileError(f"{path}:{error.lineno}: {error.message}") from None
    unknown = sorted(meta.find_undeclared_variables(tree) - DRAFT_VARIABLES)
    if unknown:
        line = _first_line(path, unknown[0])
        raise DataFileError(
            f"{path}:{line}: uses the variable '{unknown[0]}', which drafts do not provide "
            f"(they provide: {', '.join(sorted(DRAFT_VARIABLES))})"
        )


def _first_line(path: Path, name: str) -> int:
    for number, line in enumerate(_source(path).splitlines(), 1):
        if name in line:
            return number
    return 1


def _check_letter(
    environment: jinja2.Environment, root: Path, language: str, category: TargetCategory
) -> None:
    """The letter exists and has a subject and a body."""
    name = template_name(language, category)
    path = root / name
    if not path.is_file():
        raise DataFileError(f"{path}: missing; every target category needs a letter per language")
    template = environment.get_template(name)
    missing = [block for block in BLOCKS if block not in template.blocks]
    if missing:
        raise DataFileError(f"{path}: has no {{% block {missing[0]} %}}")


def _try_every_letter(letters: LetterTemplates) -> None:
    """Render each letter with sample values down every branch, so a name that is only wrong at
    render time (an attribute, a filter, an include) stops Tocsin now, not mid-emergency."""
    for language in LANGUAGES:
        for category in TargetCategory:
            for variables in sample_variables(category):
                try:
                    letters.render(category, language, variables)
                except jinja2.TemplateError as error:
                    path = letters.root / template_name(language, category)
                    raise DataFileError(f"{path}: {error}") from None


# Institutions whose letters take their own branch in a template.
_BRANCHING = {TargetCategory.REGIONAL_BODY: ("iachr", "escazu_article_9", "coe_commissioner")}


def sample_variables(category: TargetCategory) -> list[dict[str, Any]]:
    """Fictional values of the right types for every variable, with every flag on and then
    off, for each institution with a branch of its own."""
    samples = []
    for institution in _BRANCHING.get(category, ("",)):
        for flag in (True, False):
            values: dict[str, Any] = {name: f"[{name}]" for name in DRAFT_VARIABLES}
            values.update(dict.fromkeys(DRAFT_FLAGS, flag))
            values.update(
                mandates=["[mandate]"],
                institution=institution,
                company="[company]" if flag else "",
                today=date(2026, 1, 1).isoformat(),
            )
            samples.append(values)
    return samples
