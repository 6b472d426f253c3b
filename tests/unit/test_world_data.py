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
    with pytest.raises(DataFileError, match="duplicate mandate id 'wgad'"):
        load_world(data_dir)


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
