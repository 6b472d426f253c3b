"""The world Tocsin routes against: countries, groups and institutions, as validated plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from string import Formatter

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from bot.domain.alert import Alert
from bot.domain.countries import CountryIndex, normalise_name
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


REASON_PLACEHOLDERS = frozenset({"country", "matched", "who"})
Groups = Mapping[str, frozenset[str]]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Sourced(_Data):
    """A data file or list: where its facts come from and when they were checked."""

    source: str = Field(min_length=1)
    as_of: date


class Condition(_Data):
    """What must all hold for a rule to apply; within one list any value matches."""

    always: bool = False
    threats: frozenset[Threat] | None = None
    profiles: frozenset[Profile] | None = None
    perpetrators: frozenset[Perpetrator] | None = None
    company: bool | None = None
    country_in: frozenset[str] | None = None
    country_not_in: frozenset[str] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.always and self.model_fields_set <= {"always"}:
            raise ValueError("a rule needs at least one condition (or always: true)")
        return self

    def group_ids(self) -> frozenset[str]:
        """Every country group the condition names, to check they exist."""
        return (self.country_in or frozenset()) | (self.country_not_in or frozenset())

    def matched_terms(self, alert: Alert, groups: Groups) -> list[str] | None:
        """The alert's terms that satisfy this condition, or None when it does not hold."""
        wanted = self._wanted(alert)
        # Set checks first: most rules fail on a threat or profile, and these are cheapest.
        if any(terms.isdisjoint(present) for terms, present in wanted):
            return None
        if not self._country_fits(alert.country, groups):
            return None
        if self.company is not None and has_company(alert) != self.company:
            return None
        return [term for terms, present in wanted for term in present if term in terms]

    def _wanted(self, alert: Alert) -> list[tuple[frozenset[str], tuple[str, ...]]]:
        pairs = (
            (self.threats, alert.threats),
            (self.profiles, alert.profiles),
            (self.perpetrators, alert.perpetrators),
        )
        return [(terms, present) for terms, present in pairs if terms is not None]

    def _country_fits(self, country: str, groups: Groups) -> bool:
        if self.country_in is not None and not any(country in groups[g] for g in self.country_in):
            return False
        return not (
            self.country_not_in is not None
            and any(country in groups[g] for g in self.country_not_in)
        )


def has_company(alert: Alert) -> bool:
    """Whether a company or business project is involved (a company, its home, a financier)."""
    business = alert.business
    return bool(business and (business.company or business.home_country or business.financiers))


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


class Institution(_Data):
    """A body to engage and the rules that bring it in; the first matching rule gives the reason."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    category: TargetCategory
    name: str = Field(min_length=1)
    email: str | None = None
    channel: str | None = None
    note: str | None = None
    rules: tuple[Rule, ...] = Field(min_length=1)


class ContextBody(_Data):
    """A body listed for context only: it has no protection channel and is never a target."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    group: str | None = None
    note: str


class Submission(_Data):
    """How a communication reaches the UN Special Procedures."""

    form: str
    languages: tuple[str, ...]
    notes: str
    general_mailbox: str | None = None
    general_mailbox_confirmed: bool = False


class CountryGroup(_Sourced):
    """A membership list: OAS, African Charter parties, EU, Escazú parties…"""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    note: str | None = None
    members: frozenset[str] = Field(min_length=1)


class GroupList(_Sourced):
    """country_groups.yaml."""

    groups: tuple[CountryGroup, ...]


class MandateList(_Sourced):
    """un_mandates.yaml: the UN mandates and how submissions reach them."""

    submission: Submission
    mandates: tuple[Institution, ...]


class RegionalBodyList(_Sourced):
    """regional_bodies.yaml: bodies that apply by membership, and context-only ones."""

    bodies: tuple[Institution, ...]
    context_only: tuple[ContextBody, ...] = ()


class SupportList(_Sourced):
    """support.yaml: emergency funds, protection programmes and journalist organisations."""

    organisations: tuple[Institution, ...]


class Mechanism(_Data):
    """A development bank's accountability mechanism and the names its financiers go by."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    financier: str
    aliases: tuple[str, ...] = Field(min_length=1)
    note: str | None = None


class MechanismList(_Sourced):
    """mechanisms.yaml; an alias may name one mechanism only."""

    mechanisms: tuple[Mechanism, ...]
    _by_alias: dict[str, Mechanism] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_aliases(self) -> MechanismList:
        ids = [m.id for m in self.mechanisms]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate mechanism id '{duplicates[0]}'")
        seen: dict[str, str] = {}
        for mechanism in self.mechanisms:
            for alias in mechanism.aliases:
                key = normalise_name(alias)
                if key in seen and seen[key] != mechanism.id:
                    raise ValueError(
                        f"financier '{alias}' names both {seen[key]} and {mechanism.id}"
                    )
                seen[key] = mechanism.id
                self._by_alias[key] = mechanism
        return self

    def by_financier(self, financier: str) -> Mechanism | None:
        """The mechanism for a financier's name, in any of its listed spellings."""
        return self._by_alias.get(normalise_name(financier))


class Government(_Data):
    """A government with public guidelines on defenders, and where it has no mission."""

    id: str = Field(pattern=r"^[A-Z]{2}$")
    name: str
    mission: str
    guideline: str
    home: str | None = None
    home_group: str | None = None
    follows_eu_guidelines: bool = False


class GovernmentList(_Sourced):
    """governments.yaml."""

    governments: tuple[Government, ...]


@dataclass(frozen=True)
class World:
    """Everything routing needs to know about the world, loaded once at start."""

    countries: CountryIndex
    groups: Mapping[str, frozenset[str]]
    un: MandateList
    regional: RegionalBodyList
    support: SupportList
    mechanisms: MechanismList
    governments: tuple[Government, ...]
    supportive: tuple[str, ...]
    _government_by_id: dict[str, Government] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_government_by_id", {g.id: g for g in self.governments})

    def in_group(self, country: str, group: str) -> bool:
        """Whether the country belongs to the group (OAS, EU, …)."""
        return country in self.groups[group]

    def government(self, government_id: str) -> Government:
        """The government with this id (KeyError when unknown)."""
        return self._government_by_id[government_id]
