"""From an alert to every institution to engage, each with a reason a responder can paste."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from bot.domain.alert import Alert
from bot.domain.directory import EMBASSY, Contact, Directory
from bot.domain.vocabulary import Profile, Severity
from bot.domain.world import Government, Institution, TargetCategory, World, has_company

MAX_CONTACTS_SHOWN = 3
AMBASSADOR_GROUPS = ("most_dangerous", "deteriorating")
OECD_NCP = "oecd_ncp"


@dataclass(frozen=True, slots=True)
class Target:
    """An institution to engage on a case, and why; `institution` keys the directory."""

    category: TargetCategory
    name: str
    reason: str
    contact: str | None = None
    institution: str = ""
    # The institution without its government or country: `embassy` of `embassy:CA`.
    institution_kind: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "institution_kind", self.institution.partition(":")[0])


@dataclass(frozen=True, slots=True)
class _Context:
    alert: Alert
    world: World
    directory: Directory
    today: date | None
    country_name: str
    needs_ambassador: bool


def route(
    alert: Alert, world: World, directory: Directory | None = None, *, today: date | None = None
) -> list[Target]:
    """Every target for the alert, in a stable order: deterministic for the same input.

    `today` flags directory contacts not verified for 180 days; leave it out to flag none.
    """
    ctx = _Context(
        alert=alert,
        world=world,
        directory=directory or Directory(),
        today=today,
        country_name=world.countries.by_code(alert.country).name,
        needs_ambassador=_needs_ambassador(alert, world),
    )
    return [
        *_by_rules(ctx, world.un.mandates),
        *_by_rules(ctx, world.regional.bodies),
        *_embassies(ctx),
        *_mechanisms(ctx),
        *_national_contact_points(ctx),
        *_by_rules(ctx, world.support.organisations),
    ]


def _by_rules(ctx: _Context, institutions: tuple[Institution, ...]) -> Iterator[Target]:
    for institution in institutions:
        reason = _first_reason(institution, ctx)
        if reason is not None:
            yield Target(
                category=institution.category,
                name=institution.name,
                reason=reason,
                contact=_contact(ctx, institution.id, _official_channels(institution, ctx)),
                institution=institution.id,
            )


def _first_reason(institution: Institution, ctx: _Context) -> str | None:
    for rule in institution.rules:
        terms = rule.when.matched_terms(ctx.alert, ctx.world.groups)
        if terms is not None:
            matched = ", ".join(term.replace("_", " ") for term in terms)
            who = who_is_at_risk(ctx.alert, prefer=terms)
            text = rule.reason.format(country=ctx.country_name, matched=matched, who=who)
            return " ".join(text.split())
    return None


def _official_channels(institution: Institution, ctx: _Context) -> list[str]:
    channels = []
    if institution.category is TargetCategory.UN_SPECIAL_PROCEDURE:
        channels.append(f"online form {ctx.world.un.submission.form}")
    elif institution.channel:
        channels.append(institution.channel)
    if institution.email:
        channels.append(institution.email)
    return channels


def _embassies(ctx: _Context) -> Iterator[Target]:
    for government in (ctx.world.government(g) for g in ctx.world.supportive):
        if _has_no_mission_there(government, ctx):
            continue
        reason = (
            f"Ask the human rights officer of the {government.mission} in {ctx.country_name} "
            f"to act (visits, trial observation, démarches), citing {government.guideline}."
        )
        if government.follows_eu_guidelines and ctx.world.in_group(ctx.alert.country, "eu"):
            reason += (
                " The EU Guidelines formally cover missions in non-EU countries: inside the EU, "
                "ask as a fellow member state."
            )
        if ctx.needs_ambassador:
            reason += (
                f" The 2021 NGO letter names {ctx.country_name} among the countries where "
                "defenders are in most danger: ask for ambassador-level engagement."
            )
        contacts = ctx.directory.for_mission(government.id, ctx.alert.country)
        yield Target(
            category=TargetCategory.EMBASSY,
            name=f"{government.mission} in {ctx.country_name}",
            reason=reason,
            contact=_describe(ctx, contacts, [])
            or _missing(
                f"institution: {EMBASSY}, government: {government.id}, country: {ctx.alert.country}"
            ),
            institution=f"{EMBASSY}:{government.id}",
        )


def _has_no_mission_there(government: Government, ctx: _Context) -> bool:
    """No government has an embassy at home; the EU Guidelines do not apply inside the EU."""
    country = ctx.alert.country
    if government.home == country:
        return True
    return government.home_group is not None and ctx.world.in_group(country, government.home_group)


def _needs_ambassador(alert: Alert, world: World) -> bool:
    """A critical case in a country the letter names as most dangerous or deteriorating."""
    return alert.effective_severity is Severity.CRITICAL and any(
        world.in_group(alert.country, group) for group in AMBASSADOR_GROUPS
    )


def _mechanisms(ctx: _Context) -> Iterator[Target]:
    business = ctx.alert.business
    seen: set[str] = set()
    for financier in business.financiers if business else ():
        mechanism = ctx.world.mechanisms.by_financier(financier)
        if mechanism is None or mechanism.id in seen:
            continue
        seen.add(mechanism.id)
        reason = (
            f"The project is financed by {mechanism.financier}: raise the threat with its "
            "accountability mechanism."
        )
        if mechanism.note:
            reason += f" {mechanism.note}"
        yield Target(
            category=TargetCategory.ACCOUNTABILITY_MECHANISM,
            name=mechanism.name,
            reason=reason,
            contact=_contact(ctx, mechanism.id, []),
            institution=mechanism.id,
        )


def _national_contact_points(ctx: _Context) -> Iterator[Target]:
    business = ctx.alert.business
    if business is None or not has_company(ctx.alert):
        return
    company = business.company or "The company"
    host = ctx.alert.country
    for state in dict.fromkeys(c for c in (business.home_country, host) if c):
        if not ctx.world.in_group(state, "oecd_guidelines"):
            continue
        name = ctx.world.countries.by_code(state).name
        if state == business.home_country:
            reason = (
                f"{company} is based in {name}, which adheres to the OECD Guidelines for "
                "Multinational Enterprises (2023 update: enterprises should refrain from "
                "reprisals): complain to its National Contact Point."
            )
        else:
            reason = (
                f"{name}, where the harm happens, adheres to the OECD Guidelines for "
                "Multinational Enterprises: its National Contact Point can receive a complaint too."
            )
        contacts = ctx.directory.for_institution(OECD_NCP, state)
        yield Target(
            category=TargetCategory.OECD_NCP,
            name=f"National Contact Point of {name} for the OECD Guidelines for Multinational "
            "Enterprises",
            reason=reason,
            contact=_describe(ctx, contacts, [])
            or _missing(f"institution: {OECD_NCP}, country: {state}"),
            institution=f"{OECD_NCP}:{state}",
        )


def _contact(ctx: _Context, institution: str, official: list[str]) -> str:
    contacts = ctx.directory.for_institution(institution, ctx.alert.country)
    return _describe(ctx, contacts, official) or _missing(f"institution: {institution}")


def _describe(ctx: _Context, contacts: list[Contact], official: list[str]) -> str | None:
    parts = [*official, *(c.describe(ctx.today) for c in contacts[:MAX_CONTACTS_SHOWN])]
    return "; ".join(parts) or None


def _missing(key: str) -> str:
    return (
        f"No contact on file: add one to your directory ({key}) "
        "and load it with 'tocsin contacts import FILE'."
    )


_WHO = {
    Profile.ENVIRONMENTAL: "an environmental defender",
    Profile.LAND: "a land defender",
    Profile.INDIGENOUS: "an indigenous defender",
    Profile.ANTI_CORRUPTION: "an anti-corruption defender",
    Profile.WOMAN: "a woman defender",
    Profile.LGBTI: "an LGBTI defender",
    Profile.STUDENT: "a student defender",
    Profile.ACADEMIC: "an academic",
    Profile.RELIGIOUS_MINORITY: "a defender from a religious minority",
    Profile.DISABILITY: "a defender with a disability",
    Profile.MIGRANT: "a migrant defender",
    Profile.MINORITY: "a defender from a minority",
    Profile.JOURNALIST: "a journalist",
    Profile.LAWYER: "a lawyer",
    Profile.TRADE_UNIONIST: "a trade unionist",
}


def who_is_at_risk(alert: Alert, prefer: list[str] | None = None) -> str:
    """'a journalist', 'an indigenous defender' … from a matched or the first profile."""
    for term in [*(prefer or ()), *alert.profiles]:
        if term in _WHO:
            return _WHO[Profile(term)]
    return "a defender"
