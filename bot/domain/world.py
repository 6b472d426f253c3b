"""The world Tocsin routes against: countries and institutions, as validated plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from string import Formatter

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.alert import Alert
from bot.domain.countries import CountryIndex
from bot.domain.vocabulary import Perpetrator, Profile, Threat


class TargetCategory(StrEnum):
    """The kinds of institution a case may engage."""

    UN_SPECIAL_PROCEDURE = "un_special_procedure"
    REGIONAL_BODY = "regional_body"
    EMBASSY = "embassy"
    ACCOUNTABILITY_MECHANISM = "accountability_mechanism"
    OECD_NCP = "oecd_ncp"
    EMERGENCY_SUPPORT = "emergency_support"
    JOURNALIST_SUPPORT = "journalist_support"
    UN_REPRISALS = "un_reprisals"


REASON_PLACEHOLDERS = frozenset({"country", "matched"})


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Data):
    """What must all hold for a rule to apply; within one list any value matches."""

    always: bool = False
    threats: frozenset[Threat] | None = None
    profiles: frozenset[Profile] | None = None
    perpetrators: frozenset[Perpetrator] | None = None
    company: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.always and self.model_fields_set <= {"always"}:
            raise ValueError("a rule needs at least one condition (or always: true)")
        return self

    def matched_terms(self, alert: Alert) -> list[str] | None:
        """The alert's terms that satisfy this condition, or None when it does not hold."""
        terms: list[str] = []
        for wanted, present in (
            (self.threats, alert.threats),
            (self.profiles, alert.profiles),
            (self.perpetrators, alert.perpetrators),
        ):
            if wanted is None:
                continue
            hits = [term for term in present if term in wanted]
            if not hits:
                return None
            terms.extend(hits)
        if self.company is not None:
            has_company = bool(alert.business and alert.business.company)
            if has_company != self.company:
                return None
        return terms


class Rule(_Data):
    """One situation that brings an institution in, and the sentence that says why."""

    when: Condition
    reason: str = Field(min_length=1)

    @field_validator("reason")
    @classmethod
    def _known_placeholders(cls, reason: str) -> str:
        used = {field for _, field, _, _ in Formatter().parse(reason) if field is not None}
        unknown = used - REASON_PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{sorted(unknown)[0]}}}; accepted: "
                + ", ".join(f"{{{name}}}" for name in sorted(REASON_PLACEHOLDERS))
            )
        return reason


class Mandate(_Data):
    """A UN mechanism (Special Procedure, reprisals official, agency) and when it applies."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    category: TargetCategory
    name: str = Field(min_length=1)
    email: str | None = None
    rules: tuple[Rule, ...] = Field(min_length=1)


class Submission(_Data):
    """How a communication reaches the UN Special Procedures."""

    form: str
    languages: tuple[str, ...]
    notes: str
    general_mailbox: str | None = None
    general_mailbox_confirmed: bool = False


class MandateList(_Data):
    """The UN mandates file: sourced, dated, with unique ids."""

    source: str = Field(min_length=1)
    as_of: date
    submission: Submission
    mandates: tuple[Mandate, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> MandateList:
        seen: set[str] = set()
        for mandate in self.mandates:
            if mandate.id in seen:
                raise ValueError(f"duplicate mandate id '{mandate.id}'")
            seen.add(mandate.id)
        return self


@dataclass(frozen=True)
class World:
    """Everything routing needs to know about the world, loaded once at start."""

    countries: CountryIndex
    un: MandateList
