"""The organisation's directory: read from YAML or CSV, shown on the targets it staffs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.domain.alert import parse_alert
from bot.domain.directory import Contact, Directory
from bot.domain.routing import route
from bot.domain.world import World
from config.datafile import DataFileError
from config.directory import read_directory

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "directory.example.yaml"
TODAY = date(2026, 11, 27)


def contact(**fields: object) -> Contact:
    return Contact.model_validate({"role": "human rights officer", **fields})


def targets(world: World, directory: Directory, **alert: object) -> dict[str, str | None]:
    data = {"country": "HN", "threats": ["raid"], "summary": "x", **alert}
    found = route(parse_alert(data, world.countries), world, directory, today=TODAY)
    return {t.name: t.contact for t in found}


def test_the_shipped_example_is_valid_and_fictional(world: World) -> None:
    contacts = read_directory(EXAMPLE, world)
    assert len(contacts) >= 4
    assert all(c.email is None or c.email.endswith("@example.org") for c in contacts)
    norway = next(c for c in contacts if c.government == "NO")
    assert norway.country == "CO", "country names resolve to codes; NO stays Norway in YAML"


def test_embassy_staff_appear_on_the_embassy_target_officer_first(world: World) -> None:
    directory = Directory.of(
        [
            contact(
                institution="embassy",
                government="CA",
                country="HN",
                role="ambassador",
                name="Dana Example",
                email="amb@example.org",
                verified_on=TODAY,
            ),
            contact(
                institution="embassy",
                government="CA",
                country="HN",
                name="Eli Example",
                email="hro@example.org",
                secure_channel="Signal",
                verified_on=TODAY,
            ),
            contact(
                institution="embassy",
                government="CA",
                country="GT",
                name="Elsewhere",
                email="gt@example.org",
                verified_on=TODAY,
            ),
        ]
    )
    got = targets(world, directory)["Embassy of Canada in Honduras"] or ""
    assert got.startswith("Eli Example (human rights officer): hro@example.org, secure: Signal")
    assert "Dana Example (ambassador)" in got
    assert "Elsewhere" not in got


def test_a_contact_not_verified_for_180_days_is_flagged(world: World) -> None:
    directory = Directory.of(
        [
            contact(
                institution="iachr",
                role="desk",
                email="desk@example.org",
                verified_on=date(2026, 1, 2),
            )
        ]
    )
    got = targets(world, directory)["Inter-American Commission on Human Rights (IACHR)"] or ""
    assert "desk@example.org" in got
    assert "NOT VERIFIED for over 180 days (last: 2026-01-02)" in got


def test_a_target_without_a_contact_says_how_to_add_one(world: World) -> None:
    got = targets(world, Directory())["Embassy of Canada in Honduras"] or ""
    assert got.startswith("No contact on file")
    assert "institution: embassy, government: CA, country: HN" in got
    assert "tocsin contacts import" in got


def test_a_csv_directory_is_read_with_languages(world: World, tmp_path: Path) -> None:
    path = tmp_path / "directory.csv"
    path.write_text(
        "institution,government,country,role,name,email,languages,verified_on\n"
        "embassy,CH,Guatemala,human rights officer,Fay Example,fay@example.org,English; Spanish,2026-10-01\n"
    )
    [row] = read_directory(path, world)
    assert (row.government, row.country, row.languages) == ("CH", "GT", ("English", "Spanish"))


@pytest.mark.parametrize(
    ("csv_row", "message"),
    [
        (
            "embasy,CA,HN,officer,x@example.org",
            "institution: 'embasy' is not known (did you mean 'embassy'?)",
        ),
        ("embassy,,HN,officer,x@example.org", "an embassy contact needs government"),
        ("iachr,,Atlantis,desk,x@example.org", "country: 'Atlantis' is not a country"),
        ("iachr,,,desk,not-an-email", "email: String should match pattern"),
    ],
)
def test_a_bad_csv_row_names_its_line(
    world: World, tmp_path: Path, csv_row: str, message: str
) -> None:
    path = tmp_path / "directory.csv"
    path.write_text(
        f"institution,government,country,role,email\niachr,,,desk,ok@example.org\n{csv_row}\n"
    )
    with pytest.raises(DataFileError) as caught:
        read_directory(path, world)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert message in str(caught.value)


def test_an_unknown_csv_column_is_refused(world: World, tmp_path: Path) -> None:
    path = tmp_path / "directory.csv"
    path.write_text("institution,role,mobile\niachr,desk,123\n")
    with pytest.raises(DataFileError, match="column 'mobile' is not a contact field"):
        read_directory(path, world)


def test_a_bad_yaml_entry_names_its_line(world: World, tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(
        "contacts:\n  - institution: iachr\n    role: desk\n  - institution: cao\n    rol: desk\n"
    )
    with pytest.raises(DataFileError) as caught:
        read_directory(path, world)
    assert str(caught.value).startswith(f"{path}:4: ")


def test_other_file_types_are_refused(world: World, tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"use a \.yaml, \.yml or \.csv file"):
        read_directory(tmp_path / "directory.xlsx", world)
