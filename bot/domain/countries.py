"""Country names to ISO 3166 codes, tolerant of the spellings responders actually type."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import pycountry


@dataclass(frozen=True, slots=True)
class Country:
    """A country as Tocsin names it: ISO codes and a readable name."""

    alpha2: str
    alpha3: str
    name: str


class UnknownCountryError(ValueError):
    """The text names no country Tocsin knows."""

    def __init__(self, text: str, suggestions: list[str]) -> None:
        hint = f" (did you mean {' or '.join(suggestions)}?)" if suggestions else ""
        super().__init__(
            f"'{text}' is not a country Tocsin knows{hint}; "
            "accepted: an ISO code (HN, HND) or a name (Honduras)"
        )
        self.text = text
        self.suggestions = suggestions


_PUNCTUATION = re.compile(r"[^\w\s]")


def normalise_name(text: str) -> str:
    """Fold case, accents and punctuation so that "Côte d'Ivoire" == "cote divoire"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.casefold().replace("&", " and ")
    plain = _PUNCTUATION.sub("", plain)
    words = plain.split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


class CountryIndex:
    """Resolves codes and names (ISO, official, common, and configured aliases) to a Country."""

    def __init__(
        self,
        countries: Iterable[Country],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self._by_code: dict[str, Country] = {}
        self._by_name: dict[str, Country] = {}
        for country in countries:
            self._by_code[country.alpha2] = country
            self._by_code[country.alpha3] = country
            self._by_name[normalise_name(country.name)] = country
        for alias, code in (aliases or {}).items():
            self._by_name[normalise_name(alias)] = self.by_code(code)

    def by_code(self, code: str) -> Country:
        """The country with this ISO alpha-2 or alpha-3 code (KeyError when there is none)."""
        return self._by_code[code.upper()]

    def resolve(self, text: str) -> Country:
        """The country the text names, or UnknownCountryError with suggestions."""
        cleaned = text.strip()
        if cleaned.upper() in self._by_code:
            return self._by_code[cleaned.upper()]
        key = normalise_name(cleaned)
        if key in self._by_name:
            return self._by_name[key]
        raise UnknownCountryError(cleaned, self._suggest(key))

    def search(self, text: str, limit: int = 100) -> list[Country]:
        """Countries whose code or a name starts with, then contains, the text: for pickers."""
        key = normalise_name(text)
        if not key:
            return []
        starts: dict[str, Country] = {}
        contains: dict[str, Country] = {}
        for name, country in sorted(self._by_name.items()):
            if name.startswith(key) or country.alpha2.lower() == key:
                starts.setdefault(country.alpha2, country)
            elif key in name:
                contains.setdefault(country.alpha2, country)
        found = [*starts.values(), *(c for a, c in contains.items() if a not in starts)]
        return found[:limit]

    def __iter__(self) -> Iterator[Country]:
        return iter({c.alpha2: c for c in self._by_code.values()}.values())

    def _suggest(self, key: str) -> list[str]:
        close = difflib.get_close_matches(key, list(self._by_name), n=3, cutoff=0.75)
        return sorted({self._by_name[name].name for name in close})


def iso_countries(display_names: Mapping[str, str] | None = None) -> list[Country]:
    """Every ISO 3166-1 country, named by its common name unless a display name is given."""
    names = display_names or {}
    countries = []
    for entry in pycountry.countries:
        name = names.get(entry.alpha_2) or getattr(entry, "common_name", None) or entry.name
        countries.append(Country(alpha2=entry.alpha_2, alpha3=entry.alpha_3, name=name))
    return countries


def iso_name_variants() -> dict[str, str]:
    """Official and ISO short names of each country, as aliases to its alpha-2 code."""
    variants: dict[str, str] = {}
    for entry in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(entry, attr, None)
            if value:
                variants[value] = entry.alpha_2
    return variants
