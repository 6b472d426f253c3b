"""Countries are recognised however a responder spells them, and never guessed."""

from __future__ import annotations

import pytest

from bot.domain.countries import UnknownCountryError
from bot.domain.world import World


@pytest.mark.parametrize(
    ("text", "alpha2"),
    [
        ("HN", "HN"),
        ("hnd", "HN"),
        ("Honduras", "HN"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("cote divoire", "CI"),
        ("Ivory Coast", "CI"),
        ("CIV", "CI"),
        ("C\u00f4te d\u2019Ivoire", "CI"),  # typographic apostrophe
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("Russian Federation", "RU"),
        ("Russia", "RU"),
        ("Venezuela, Bolivarian Republic of", "VE"),
        ("venezuela", "VE"),
        ("Democratic Republic of the Congo", "CD"),
        ("DRC", "CD"),
        ("the Philippines", "PH"),
        ("Brasil", "BR"),
        ("México", "MX"),
        ("United States of America", "US"),
        ("UK", "GB"),
        ("Norway", "NO"),
        ("  guatemala  ", "GT"),
    ],
)
def test_country_spellings_resolve_to_one_iso_code(world: World, text: str, alpha2: str) -> None:
    assert world.countries.resolve(text).alpha2 == alpha2


def test_unknown_country_is_refused_with_a_suggestion(world: World) -> None:
    with pytest.raises(UnknownCountryError) as caught:
        world.countries.resolve("Hondurass")
    assert "Honduras" in str(caught.value)
    assert "ISO code" in str(caught.value)


@pytest.mark.parametrize("text", ["", "XX", "Narnia", "Congo Republic of Nowhere"])
def test_nonsense_is_never_matched_to_a_country(world: World, text: str) -> None:
    with pytest.raises(UnknownCountryError):
        world.countries.resolve(text)


def test_countries_show_readable_names(world: World) -> None:
    assert world.countries.by_code("CD").name == "Democratic Republic of the Congo"
    assert world.countries.by_code("VE").name == "Venezuela"
    assert world.countries.by_code("HN").name == "Honduras"
