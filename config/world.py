"""Load the world data shipped under config/data into the pure domain's World, checked whole."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bot.domain.countries import CountryIndex, iso_countries, iso_name_variants
from bot.domain.world import (
    GovernmentList,
    GroupList,
    Institution,
    MandateList,
    MechanismList,
    RegionalBodyList,
    SupportList,
    World,
)
from config.datafile import DataFile, DataFileError, Loc, load_data_file, load_model

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SUPPORTIVE_GOVERNMENTS = ("US", "EU", "CA", "NO", "CH", "GB", "NL", "FI")
# Groups routing itself relies on, beyond those the data files' rules name.
REQUIRED_GROUPS = ("eu", "oecd_guidelines", "most_dangerous", "deteriorating")


@cache
def _iso_alpha2_codes() -> frozenset[str]:
    return frozenset(c.alpha2 for c in iso_countries())


def _iso_alpha2(code: str) -> str:
    if code not in _iso_alpha2_codes():
        raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 code")
    return code


Alpha2 = Annotated[str, AfterValidator(_iso_alpha2)]


class CountryData(BaseModel):
    """countries.yaml: display names and aliases, each pointing at a real ISO code."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    as_of: date
    display_names: dict[Alpha2, str] = Field(default_factory=dict)
    aliases: dict[str, Alpha2] = Field(default_factory=dict)


class SupportiveGovernmentsError(ValueError):
    """TOCSIN_SUPPORTIVE_GOVERNMENTS names a government the data does not know."""


def load_world(
    data_dir: Path = DATA_DIR, supportive: Sequence[str] = DEFAULT_SUPPORTIVE_GOVERNMENTS
) -> World:
    """Read and validate every world data file; DataFileError names the file and line."""
    countries = load_model(data_dir / "countries.yaml", CountryData)
    groups = load_data_file(data_dir / "country_groups.yaml", GroupList)
    un = load_data_file(data_dir / "un_mandates.yaml", MandateList)
    regional = load_data_file(data_dir / "regional_bodies.yaml", RegionalBodyList)
    support = load_data_file(data_dir / "support.yaml", SupportList)
    mechanisms = load_model(data_dir / "mechanisms.yaml", MechanismList)
    governments = load_data_file(data_dir / "governments.yaml", GovernmentList)

    group_members = _check_groups(groups)
    _check_unique_ids(
        [
            (un, "mandates", un.model.mandates),
            (regional, "bodies", regional.model.bodies),
            (support, "organisations", support.model.organisations),
        ]
    )
    for data_file, key, institutions in (
        (un, "mandates", un.model.mandates),
        (regional, "bodies", regional.model.bodies),
        (support, "organisations", support.model.organisations),
    ):
        _check_group_references(data_file, key, institutions, group_members)
    _check_governments(governments, group_members)
    return World(
        countries=CountryIndex(
            iso_countries(countries.display_names),
            aliases={**iso_name_variants(), **countries.aliases},
        ),
        groups=group_members,
        un=un.model,
        regional=regional.model,
        support=support.model,
        mechanisms=mechanisms,
        governments=governments.model.governments,
        supportive=_check_supportive(supportive, governments.model),
    )


def _check_groups(groups: DataFile[GroupList]) -> dict[str, frozenset[str]]:
    members: dict[str, frozenset[str]] = {}
    for n, group in enumerate(groups.model.groups):
        if group.id in members:
            raise groups.error(("groups", n, "id"), f"duplicate group id '{group.id}'")
        unknown = sorted(group.members - _iso_alpha2_codes())
        if unknown:
            raise groups.error(
                ("groups", n, "members"), f"'{unknown[0]}' is not an ISO 3166-1 alpha-2 code"
            )
        members[group.id] = group.members
    for required in REQUIRED_GROUPS:
        if required not in members:
            raise groups.error(("groups",), f"the group '{required}' is required by routing")
    return members


def _check_unique_ids(
    files: list[
        tuple[
            DataFile[MandateList] | DataFile[RegionalBodyList] | DataFile[SupportList],
            str,
            tuple[Institution, ...],
        ]
    ],
) -> None:
    seen: set[str] = set()
    for data_file, key, institutions in files:
        for n, institution in enumerate(institutions):
            if institution.id in seen:
                raise data_file.error(
                    (key, n, "id"), f"duplicate institution id '{institution.id}'"
                )
            seen.add(institution.id)


def _check_group_references(
    data_file: DataFile[MandateList] | DataFile[RegionalBodyList] | DataFile[SupportList],
    key: str,
    institutions: tuple[Institution, ...],
    groups: dict[str, frozenset[str]],
) -> None:
    for loc, group in _group_references(key, institutions):
        if group not in groups:
            raise data_file.error(
                loc,
                f"names the country group '{group}', which country_groups.yaml does not "
                f"define; defined: {', '.join(sorted(groups))}",
            )


def _group_references(key: str, institutions: tuple[Institution, ...]) -> Iterator[tuple[Loc, str]]:
    for n, institution in enumerate(institutions):
        for r, rule in enumerate(institution.rules):
            for group in sorted(rule.when.group_ids()):
                yield (key, n, "rules", r, "when"), group


def _check_governments(
    governments: DataFile[GovernmentList], groups: dict[str, frozenset[str]]
) -> None:
    seen: set[str] = set()
    for n, government in enumerate(governments.model.governments):
        if government.id in seen:
            raise governments.error(
                ("governments", n, "id"), f"duplicate government '{government.id}'"
            )
        seen.add(government.id)
        if government.home_group is not None and government.home_group not in groups:
            raise governments.error(
                ("governments", n, "home_group"), f"unknown country group '{government.home_group}'"
            )
        if government.home is not None and government.home not in _iso_alpha2_codes():
            raise governments.error(
                ("governments", n, "home"), f"'{government.home}' is not an ISO code"
            )


def _check_supportive(supportive: Sequence[str], governments: GovernmentList) -> tuple[str, ...]:
    known = [g.id for g in governments.governments]
    chosen = tuple(dict.fromkeys(code.strip().upper() for code in supportive if code.strip()))
    unknown = [code for code in chosen if code not in known]
    if unknown:
        raise SupportiveGovernmentsError(
            f"TOCSIN_SUPPORTIVE_GOVERNMENTS: '{unknown[0]}' is not a government with guidelines "
            f"in governments.yaml; accepted: {', '.join(known)}"
        )
    return chosen


__all__ = ["DataFileError", "SupportiveGovernmentsError", "load_world"]
