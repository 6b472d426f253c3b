"""World data is validated at start, and every error names the file and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.datafile import DataFileError
from config.world import DATA_DIR, load_world


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test set-up: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_shipped_world_data_is_valid_sourced_and_dated() -> None:
    world = load_world()
    assert world.un.source and world.un.as_of.year >= 2026
    assert len(world.un.mandates) >= 15


def test_an_alias_to_an_unknown_code_names_file_and_line(data_dir: Path) -> None:
    countries = data_dir / "countries.yaml"
    edit(countries, "Ivory Coast: CI", "Ivory Coast: QQ")
    with pytest.raises(DataFileError) as caught:
        load_world(data_dir)
    assert str(caught.value).startswith(f"{countries}:{line_of(countries, 'Ivory Coast: QQ')}:")
    assert "'QQ' is not an ISO 3166-1 alpha-2 code" in str(caught.value)


def test_a_duplicate_mandate_id_is_refused(data_dir: Path) -> None:
    mandates = data_dir / "un_mandates.yaml"
    edit(mandates, "id: wgeid", "id: wgad")
    with pytest.raises(DataFileError) as caught:
        load_world(data_dir)
    line = line_of(mandates, "id: wgad") + 0
    assert "duplicate institution id 'wgad'" in str(caught.value)
    assert str(caught.value).startswith(f"{mandates}:")
    assert str(caught.value).split(":")[1] != str(line), "points at the second, not the first"


def test_a_rule_on_an_unknown_threat_names_file_and_line(data_dir: Path) -> None:
    mandates = data_dir / "un_mandates.yaml"
    edit(mandates, "threats: [surveillance]", "threats: [wiretap]")
    with pytest.raises(DataFileError) as caught:
        load_world(data_dir)
    assert f"un_mandates.yaml:{line_of(mandates, 'wiretap')}:" in str(caught.value)


def test_an_unknown_placeholder_in_a_reason_is_refused(data_dir: Path) -> None:
    edit(data_dir / "un_mandates.yaml", "in {country} is", "in {place} is")
    with pytest.raises(DataFileError, match=r"unknown placeholder \{place\}"):
        load_world(data_dir)


def test_an_unknown_field_is_refused(data_dir: Path) -> None:
    edit(data_dir / "un_mandates.yaml", "    email: hrc-wg-ad@un.org", "    mail: hrc-wg-ad@un.org")
    with pytest.raises(DataFileError, match="mail: is not a known field"):
        load_world(data_dir)


def test_broken_yaml_names_the_line(data_dir: Path) -> None:
    countries = data_dir / "countries.yaml"
    edit(countries, "aliases:", "aliases: [unclosed")
    with pytest.raises(DataFileError, match=r"countries.yaml:\d+: not valid YAML"):
        load_world(data_dir)


def test_every_list_is_sourced_and_dated() -> None:
    import yaml

    for path in DATA_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        assert data.get("source") and data.get("as_of"), path.name
    world = load_world()
    assert all(group for group in world.groups.values())


@pytest.mark.parametrize(
    ("group", "size"),
    [
        ("oas", 35),
        ("african_charter", 54),
        ("council_of_europe", 46),
        ("osce", 57),
        ("eu", 27),
        ("escazu", 18),
        ("oecd_guidelines", 51),
        ("most_dangerous", 8),
        ("asean", 11),
    ],
)
def test_memberships_have_the_size_the_reference_gives(group: str, size: int) -> None:
    assert len(load_world().groups[group]) == size


def test_membership_edge_cases_of_the_reference() -> None:
    groups = load_world().groups
    assert "MA" not in groups["african_charter"]
    assert "RU" not in groups["council_of_europe"] and "RU" in groups["osce"]
    assert {"VE", "NI"} <= groups["oas"]
    assert not {"BR", "CR", "DO", "GT", "HT", "JM", "PY", "PE"} & groups["escazu"]
    assert groups["eu"] <= groups["osce"]


def test_a_rule_naming_a_missing_group_names_file_and_line(data_dir: Path) -> None:
    bodies = data_dir / "regional_bodies.yaml"
    edit(bodies, "- when: {country_in: [council_of_europe]}", "- when: {country_in: [coe]}")
    with pytest.raises(DataFileError) as caught:
        load_world(data_dir)
    message = str(caught.value)
    assert message.startswith(f"{bodies}:{line_of(bodies, 'country_in: [coe]')}:")
    assert "country group 'coe'" in message and "defined: african_charter" in message


def test_a_group_member_that_is_not_a_country_names_file_and_line(data_dir: Path) -> None:
    groups = data_dir / "country_groups.yaml"
    edit(groups, "members: [DZ, AO,", "members: [DZ, XA,")
    with pytest.raises(DataFileError) as caught:
        load_world(data_dir)
    assert str(caught.value).startswith(f"{groups}:{line_of(groups, 'members: [DZ, XA,')}:")
    assert "'XA' is not an ISO 3166-1 alpha-2 code" in str(caught.value)


def test_an_institution_id_used_twice_across_files_is_refused(data_dir: Path) -> None:
    edit(data_dir / "support.yaml", "id: lifeline", "id: iachr")
    with pytest.raises(
        DataFileError,
        match=r"support\.yaml:\d+: organisations\.2\.id: duplicate institution id 'iachr'",
    ):
        load_world(data_dir)


def test_a_financier_name_shared_by_two_mechanisms_is_refused(data_dir: Path) -> None:
    edit(data_dir / "mechanisms.yaml", "aliases: [AfDB,", "aliases: [IFC, AfDB,")
    with pytest.raises(DataFileError, match="financier 'IFC' names both cao and afdb_irm"):
        load_world(data_dir)


def test_an_unknown_supportive_government_is_refused_with_the_accepted_list() -> None:
    from config.world import SupportiveGovernmentsError

    with pytest.raises(SupportiveGovernmentsError) as caught:
        load_world(supportive=["CA", "DE"])
    assert str(caught.value).startswith("TOCSIN_SUPPORTIVE_GOVERNMENTS: 'DE' is not a government")
    assert "accepted: US, EU, CA" in str(caught.value)


def test_a_duplicate_mechanism_id_is_refused(data_dir: Path) -> None:
    edit(data_dir / "mechanisms.yaml", "id: mici", "id: cao")
    with pytest.raises(DataFileError, match="duplicate mechanism id 'cao'"):
        load_world(data_dir)
