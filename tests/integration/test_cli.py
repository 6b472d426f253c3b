"""The `tocsin` command as scripts and newcomers use it: real processes, real files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import isolated_environment
from tests.ports import free_port

ALERT = {
    "country": "HN",
    "profiles": ["journalist"],
    "threats": ["arbitrary_detention"],
    "summary": "held at a police station",
}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty folder: no .env, a fresh SQLite database."""
    return tmp_path


def tocsin(
    workdir: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = isolated_environment(workdir / "tocsin.db", **env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=environment,
        timeout=120,
        check=False,
    )


def write_alert(workdir: Path, data: Any) -> str:
    path = workdir / "alert.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_triage_json_has_the_stable_shape(workdir: Path) -> None:
    result = tocsin(workdir, "triage", write_alert(workdir, ALERT), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"case", "targets", "checklist"}
    assert out["case"]["country"] == "HN" and out["case"]["severity"] == "high"
    assert all(set(t) == {"category", "name", "reason", "contact"} for t in out["targets"])
    assert {"n", "title", "due_in_minutes", "owner_role", "target", "gated_by"} == set(
        out["checklist"][0]
    )
    assert "Working Group on Arbitrary Detention" in [t["name"] for t in out["targets"]]
    assert not (workdir / "tocsin.db").exists(), "triage must write nothing"


def test_triage_reads_standard_input(workdir: Path) -> None:
    result = tocsin(workdir, "triage", "-", stdin=json.dumps(ALERT))
    assert result.returncode == 0, result.stderr
    assert "Whom to engage: Honduras, high" in result.stdout


def test_alert_new_stores_the_case_and_prints_its_code(workdir: Path) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    first = tocsin(workdir, "alert", "new", write_alert(workdir, ALERT))
    second = tocsin(workdir, "alert", "new", "-", stdin=json.dumps(ALERT))
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    year = first.stdout.strip()[3:7]
    assert first.stdout == f"UA-{year}-0001\n" and second.stdout == f"UA-{year}-0002\n"
    listing = tocsin(workdir, "run", stdin="ua list\n")
    assert f"UA-{year}-0002" in listing.stdout and f"UA-{year}-0001" in listing.stdout


def test_alert_new_on_an_empty_database_says_to_migrate(workdir: Path) -> None:
    result = tocsin(workdir, "alert", "new", write_alert(workdir, ALERT))
    assert result.returncode == 2
    assert (
        result.stderr
        == "tocsin: The database is empty: run 'tocsin migrate' (or 'make run') first.\n"
    )


@pytest.mark.parametrize(
    ("alert", "words"),
    [
        ({**ALERT, "country": "Atlantis"}, "country: 'Atlantis' is not a country"),
        ({**ALERT, "threats": ["tortur"]}, "threats[0]: 'tortur' is not a known threat"),
        ({k: v for k, v in ALERT.items() if k != "summary"}, "summary: is required"),
        ({**ALERT, "summary": "x" * 20_001}, "summary: is too long: at most 20,000 characters"),
        ("{not json", "is not valid JSON (line 1, column 2"),
        ("[]", "must be a JSON object"),
    ],
)
@pytest.mark.parametrize("command", [("triage",), ("alert", "new")])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    workdir: Path, alert: Any, words: str, command: tuple[str, ...]
) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    result = tocsin(workdir, *command, write_alert(workdir, alert))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tocsin: ")
    assert words in result.stderr
    assert "No open cases." in tocsin(workdir, "run", stdin="ua list\n").stdout


def test_a_missing_file_is_a_clear_error(workdir: Path) -> None:
    result = tocsin(workdir, "triage", "nowhere.json")
    assert result.returncode == 2
    assert result.stderr == "tocsin: cannot read 'nowhere.json': No such file or directory\n"


def test_bad_settings_stop_every_command_with_the_variable_named(workdir: Path) -> None:
    result = tocsin(workdir, "migrate", TOCSIN_TIMEZONE="Mars/Olympus")
    assert result.returncode == 2
    assert result.stderr.startswith("tocsin: configuration error: TOCSIN_TIMEZONE: 'Mars/Olympus'")
    assert result.stderr.count("\n") == 1


def test_run_with_an_unreachable_homeserver_says_what_to_check(workdir: Path) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    result = tocsin(
        workdir,
        "run",
        MATRIX_HOMESERVER=f"http://127.0.0.1:{free_port()}",
        MATRIX_USER_ID="@tocsin:example.org",
        MATRIX_PASSWORD="fictional",
        MATRIX_ALLOWED_INVITERS=":example.org",
        TOCSIN_ADMINS="matrix:@lead:example.org",
    )
    assert result.returncode == 2
    assert "no Matrix homeserver answers at http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_matrix_trust_refuses_what_is_not_a_user_or_a_whole_key(workdir: Path) -> None:
    store = str(workdir / "store")
    bad_user = tocsin(workdir, "matrix", "trust", "lead", "DEV", "x" * 43, MATRIX_STORE_PATH=store)
    assert bad_user.returncode == 2 and "not a Matrix user ID" in bad_user.stderr
    short = tocsin(
        workdir, "matrix", "trust", "@a:example.org", "DEV", "abcd efgh", MATRIX_STORE_PATH=store
    )
    assert short.returncode == 2 and "43 characters" in short.stderr
    assert not (workdir / "store" / "device-trust.json").exists()
    blocked = tocsin(workdir, "matrix", "block", "@a:example.org", "DEV", MATRIX_STORE_PATH=store)
    assert blocked.returncode == 0
    assert (workdir / "store" / "device-trust.json").stat().st_mode & 0o077 == 0


def test_migrate_is_idempotent(workdir: Path) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    again = tocsin(workdir, "migrate")
    assert again.returncode == 0 and "up to date" in again.stderr


def test_an_organisations_own_playbook_drives_the_checklist(workdir: Path) -> None:
    playbook = workdir / "playbook.yaml"
    playbook.write_text(
        "name: Small team\nsource: our own practice\nas_of: 2026-11-01\nsteps:\n"
        "  - id: call\n    title: Call {who} now\n    owner: lead\n    due: 5s\n"
        "  - id: embassies\n    title: 'Ring the {target}'\n    owner: responder\n"
        "    due: {critical: 30m, high: PT2H, medium: 1d}\n"
        "    targets: {categories: [embassy], mode: each}\n    gate: government\n"
    )
    result = tocsin(
        workdir, "triage", write_alert(workdir, ALERT), "--json", TOCSIN_PLAYBOOK=str(playbook)
    )
    checklist = json.loads(result.stdout)["checklist"]
    assert checklist[0] == {
        "n": 1,
        "title": "Call a journalist now",
        "due_in_minutes": 1,
        "owner_role": "lead",
        "target": None,
        "gated_by": None,
    }
    assert checklist[1]["title"] == "Ring the Embassy of the United States in Honduras"
    assert (checklist[1]["due_in_minutes"], checklist[1]["gated_by"]) == (120, "consent.government")
    assert len(checklist) == 9


def test_a_bad_playbook_stops_tocsin_at_start_with_file_and_line(workdir: Path) -> None:
    playbook = workdir / "playbook.yaml"
    playbook.write_text(
        "name: Broken\nsource: test\nas_of: 2026-11-01\nsteps:\n"
        "  - id: call\n    title: Call\n    owner: boss\n    due: 5s\n"
    )
    assert tocsin(workdir, "migrate").returncode == 0
    result = tocsin(workdir, "run", TOCSIN_PLAYBOOK=str(playbook))
    assert result.returncode == 2
    assert result.stderr.startswith(f"tocsin: configuration error: {playbook}:7: steps.0.owner:")
    assert "'lead', 'responder', 'legal' or 'comms'" in result.stderr


def test_tocsin_audit_prints_the_trail_and_filters_by_case(workdir: Path) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    code = tocsin(workdir, "alert", "new", write_alert(workdir, ALERT)).stdout.strip()
    tocsin(workdir, "alert", "new", write_alert(workdir, ALERT))
    every = tocsin(workdir, "audit")
    assert every.returncode == 0, every.stderr
    assert every.stdout.count("case_opened") == 2
    one = tocsin(workdir, "audit", "--case", code.lower())
    [line] = one.stdout.splitlines()
    assert f"  {code}  cli  case_opened  cli:" in line
    bad = tocsin(workdir, "audit", "--case", "UA-1999-9999")
    assert bad.returncode == 2 and bad.stderr == "tocsin: no case UA-1999-9999\n"


def test_tocsin_report_exports_csv_json_and_a_chart(workdir: Path) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    for country in ("HN", "HN", "HN", "GT", "CO"):
        alert = {**ALERT, "country": country, "summary": f"fictional, in {country}"}
        assert tocsin(workdir, "alert", "new", write_alert(workdir, alert)).returncode == 0
    out, chart = workdir / "report.csv", workdir / "report.png"
    made = tocsin(
        workdir, "report", "--format", "csv", "--bom", "--out", str(out), "--chart", str(chart)
    )
    assert made.returncode == 0, made.stderr
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    cells = {(r["section"], r["key"], r["measure"]): r["value"] for r in rows}
    assert cells[("summary", "cases", "cases")] == "5"
    assert cells[("by_country", "HN", "cases")] == "5"
    assert cells[("by_country", "GT", "cases")] == cells[("by_country", "CO", "cases")] == "<3"
    png = chart.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    data = json.loads(tocsin(workdir, "report", "--format", "json", "--country", "Honduras").stdout)
    assert data["scope"]["country"] == "HN"
    assert {
        "section": "summary",
        "key": "cases",
        "label": "Cases opened",
        "measure": "cases",
        "value": 5,
    } in data["rows"]
    text = tocsin(workdir, "report", "--since", "2020-01-01").stdout
    assert "Cases opened: 5" in text and "Honduras: 5" in text


def test_tocsin_report_refuses_bad_options_in_one_line(workdir: Path) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    for args, says in [
        (["--since", "2026-02-30"], "is not a date"),
        (["--since", "2026-06-01", "--until", "2026-01-01"], "is after until"),
        (["--country", "Atlantis"], "Atlantis"),
        (["--bom"], "--bom is for --format csv"),
        (["--chart", "report.jpg"], "writes a PNG"),
        (["--out", "/nonexistent/dir/report.txt"], "cannot write"),
    ]:
        refused = tocsin(workdir, "report", *args)
        assert refused.returncode == 2, (args, refused.stderr)
        assert says in refused.stderr and "Traceback" not in refused.stderr


def test_tocsin_partners_add_prints_the_secret_once_and_revoke_refuses_it(workdir: Path) -> None:
    assert tocsin(workdir, "migrate").returncode == 0
    added = tocsin(workdir, "partners", "add", "forms-org", "--to", "slack:C0FORMS", "--rate", "30")
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip()
    assert len(secret) >= 40 and "never shown again" in added.stderr
    listed = tocsin(workdir, "partners", "list")
    assert listed.stdout.strip() == "forms-org  active  30/min  slack:C0FORMS"
    assert secret not in listed.stdout + listed.stderr
    assert secret.encode() not in (workdir / "tocsin.db").read_bytes()  # sealed at rest
    again = tocsin(workdir, "partners", "add", "forms-org")
    assert again.returncode == 2 and "revoke it" in again.stderr
    assert tocsin(workdir, "partners", "revoke", "forms-org").returncode == 0
    assert "revoked" in tocsin(workdir, "partners", "list").stdout
    for args, says in [
        (["add", "Forms Org"], "is not a partner name"),
        (["add", "ok", "--to", "email:someone"], "slack:CHANNEL_ID"),
        (["add", "ok", "--rate", "0"], "--rate"),
        (["revoke", "nobody"], "no partner nobody"),
    ]:
        refused = tocsin(workdir, "partners", *args)
        assert refused.returncode == 2 and says in refused.stderr, (args, refused.stderr)
