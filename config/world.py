"""Load the world data shipped under config/data into the pure domain's World."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bot.domain.countries import CountryIndex, iso_countries, iso_name_variants
from bot.domain.world import MandateList, World
from config.datafile import DataFileError, load_model

DATA_DIR = Path(__file__).resolve().parent / "data"


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


def load_world(data_dir: Path = DATA_DIR) -> World:
    """Read and validate every world data file; DataFileError names the file and line."""
    countries = load_model(data_dir / "countries.yaml", CountryData)
    index = CountryIndex(
        iso_countries(countries.display_names),
        aliases={**iso_name_variants(), **countries.aliases},
    )
    un = load_model(data_dir / "un_mandates.yaml", MandateList)
    return World(countries=index, un=un)


__all__ = ["DataFileError", "load_world"]
