"""`tocsin contacts …` and routing with the organisation's directory, through real processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import ALERT, tocsin, write_alert

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "directory.example.yaml"


def test_import_list_and_stale(tmp_path: Path) -> None:
    assert tocsin(tmp_path, "migrate").returncode == 0
    first = tocsin(tmp_path, "contacts", "import", str(EXAMPLE))
    assert first.returncode == 0, first.stderr
    assert first.stdout == "5 added, 0 updated, 0 removed\n"
    assert (
        tocsin(tmp_path, "contacts", "import", str(EXAMPLE)).stdout
        == "0 added, 5 updated, 0 removed\n"
    )

    listed = tocsin(tmp_path, "contacts", "list", "--country", "Honduras").stdout
    assert "Alex Example (human rights officer)" in listed and "Carl Sample" not in listed

    stale = tocsin(tmp_path, "contacts", "stale").stdout
    assert "Carl Sample (ambassador)" in stale and "NOT VERIFIED" in stale
    assert "Alex Example" not in stale
    assert "Alex Example" in tocsin(tmp_path, "contacts", "stale", "--days", "0").stdout


def test_triage_shows_the_directory_contact_of_the_embassy(tmp_path: Path) -> None:
    assert tocsin(tmp_path, "migrate").returncode == 0
    assert tocsin(tmp_path, "contacts", "import", str(EXAMPLE)).returncode == 0
    out = json.loads(tocsin(tmp_path, "triage", write_alert(tmp_path, ALERT), "--json").stdout)
    contacts = {t["name"]: t["contact"] for t in out["targets"]}
    assert contacts["Embassy of Canada in Honduras"].startswith(
        "Alex Example (human rights officer)"
    )
    assert contacts["Embassy of Norway in Honduras"].startswith("No contact on file")


def test_a_bad_directory_file_changes_nothing(tmp_path: Path) -> None:
    assert tocsin(tmp_path, "migrate").returncode == 0
    bad = tmp_path / "directory.csv"
    bad.write_text(
        "institution,role,email\niachr,desk,ok@example.org\nembasy,officer,x@example.org\n"
    )
    result = tocsin(tmp_path, "contacts", "import", str(bad))
    assert result.returncode == 2
    assert f"{bad}:3: institution: 'embasy' is not known (did you mean 'embassy'?)" in result.stderr
    assert result.stderr.count("\n") == 1
    assert tocsin(tmp_path, "contacts", "list").stdout == "No contacts.\n"


def test_replace_removes_contacts_missing_from_the_file(tmp_path: Path) -> None:
    assert tocsin(tmp_path, "migrate").returncode == 0
    assert tocsin(tmp_path, "contacts", "import", str(EXAMPLE)).returncode == 0
    one = tmp_path / "one.yaml"
    one.write_text("contacts:\n  - {institution: cpj, role: desk, email: desk@example.org}\n")
    result = tocsin(tmp_path, "contacts", "import", str(one), "--replace")
    assert result.stdout == "1 added, 0 updated, 5 removed\n"


def test_import_without_a_file_uses_tocsin_directory(tmp_path: Path) -> None:
    assert tocsin(tmp_path, "migrate").returncode == 0
    assert tocsin(tmp_path, "contacts", "import").stderr == (
        "tocsin: name the directory file, or set TOCSIN_DIRECTORY\n"
    )
    result = tocsin(tmp_path, "contacts", "import", TOCSIN_DIRECTORY=str(EXAMPLE))
    assert result.stdout == "5 added, 0 updated, 0 removed\n"


def test_supportive_governments_setting_limits_the_embassies(tmp_path: Path) -> None:
    result = tocsin(
        tmp_path,
        "triage",
        write_alert(tmp_path, ALERT),
        "--json",
        TOCSIN_SUPPORTIVE_GOVERNMENTS="CH, ca",
    )
    embassies = [
        t["name"] for t in json.loads(result.stdout)["targets"] if t["category"] == "embassy"
    ]
    # In the organisation's order of preference.
    assert embassies == ["Embassy of Switzerland in Honduras", "Embassy of Canada in Honduras"]
    wrong = tocsin(
        tmp_path, "triage", write_alert(tmp_path, ALERT), TOCSIN_SUPPORTIVE_GOVERNMENTS="XX"
    )
    assert wrong.returncode == 2
    assert "TOCSIN_SUPPORTIVE_GOVERNMENTS: 'XX'" in wrong.stderr


def test_unknown_country_threat_or_profile_lists_the_accepted_values(tmp_path: Path) -> None:
    for field, value, accepted in (
        ("threats", ["poisoning"], "accepted: killing, attempted_killing"),
        ("profiles", ["poet"], "accepted: journalist, lawyer"),
        ("country", "Atlantis", "accepted: an ISO code"),
    ):
        result = tocsin(tmp_path, "triage", write_alert(tmp_path, {**ALERT, field: value}))
        assert result.returncode == 2
        assert accepted in result.stderr
