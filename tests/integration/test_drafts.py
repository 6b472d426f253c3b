"""`ua draft` and `tocsin draft` on stored cases (SQLite and PostgreSQL, and a real process):
the letter a responder gets, what each place may see, and how sending is recorded."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.connectors.console.render import render_text
from bot.domain.places import Place
from bot.store.models import AuditEvent, ChecklistStep, Target
from handlers.commands import handle_line
from handlers.context import Services
from tests.conftest import isolated_environment
from tests.factories import bind_place

ROOM = Place(platform="console", address="test-room")
SLACK = Place(platform="slack", address="C0DRAFTS")
NAME = "Marisol Ejemplo"
FACTS = {
    "summary": "Detained at dawn after a community assembly",
    "place": "Villa Ficticia",
    "work": "Defends a river community against a dam",
    "domestic_actions": "Habeas corpus filed on Monday",
    "earlier_incidents": "Threatening messages in August",
}
NEW = (
    "ua new country=HN threats=arbitrary_detention,death_threat profiles=land "
    f'defender="{NAME}" occurred_on=2026-11-02 consent=government '
    + " ".join(f'{key}="{value}"' for key, value in FACTS.items())
)
CODE = "UA-2026-0001"


def say(services: Services, line: str, place: Place = ROOM) -> str:
    reply = handle_line(line, actor="console:ana", place=place, services=services)
    assert reply is not None
    return render_text(reply)


def step_of(services: Services, key: str) -> int:
    with services.transaction() as session:
        return session.scalars(select(ChecklistStep.n).where(ChecklistStep.key == key)).first()


@pytest.fixture
def opened(services: Services) -> Services:
    assert f"Opened {CODE}" in say(services, NEW)
    return services


def test_a_un_draft_holds_the_facts_the_mandates_ask_for(opened: Services) -> None:
    n = step_of(opened, "un_urgent_appeal")
    out = say(opened, f"ua draft {CODE} {n}")
    assert f"Draft for step {n} of {CODE}" in out
    assert (
        "Subject: URGENT \u2013 Special Rapporteur on the situation of human rights defenders"
        in out
    )
    assert "hrc-sr-defenders@un.org" in out and "hrc-wg-ad@un.org" in out
    for fact in (
        "Detained at dawn",
        "Villa Ficticia",
        "Habeas corpus",
        "August",
        "November 2, 2026",
    ):
        assert fact in out
    # The console is `standard` unless set: the identity stays out, and it says where to get it.
    assert NAME not in out and "[NAME — not shown here" in out
    assert f"tocsin draft {CODE} --target" in out
    assert f"ua done {CODE} {n} sent" in out
    with opened.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "draft")).one()
    assert event.detail["language"] == "en" and event.detail["level"] == "standard"


def test_spanish_and_portuguese_drafts_and_the_uns_languages(opened: Services) -> None:
    n = step_of(opened, "un_urgent_appeal")
    spanish = say(opened, f"ua draft {CODE} {n} es")
    assert "URGENTE" in spanish and "2 de noviembre de 2026" in spanish
    portuguese = say(opened, f"ua draft {CODE} {n} pt")
    assert "2 de novembro de 2026" in portuguese
    assert "English, French or Spanish only" in portuguese


def test_a_minimal_slack_channel_gets_placeholders_for_every_sensitive_fact(
    opened: Services,
) -> None:
    bind_place(opened, SLACK)
    n = step_of(opened, "embassy_officer")
    out = say(opened, f"ua draft {CODE} {n}", place=SLACK)
    assert "Embassy of" in out and "Subject:" in out
    for fact in (NAME, *FACTS.values()):
        assert fact not in out
    assert "[WHAT HAPPENED — not shown here" in out
    assert "may not see every sensitive fact" in out


def test_without_consent_the_name_stays_out_even_where_names_may_be_seen(
    services: Services,
) -> None:
    say(services, NEW.replace("consent=government", "consent=none"))
    say(services, "ua disclosure full", place=ROOM)
    n = step_of(services, "embassy_officer")
    out = say(services, f"ua draft {CODE} {n}")
    assert NAME not in out and "[NAME — consent not given]" in out
    assert f"ua consent {CODE} government=yes" in out


def test_sending_is_recorded_with_ua_done_sent(opened: Services) -> None:
    n = step_of(opened, "embassy_officer")
    say(opened, f"ua done {CODE} {n} sent")
    with opened.transaction() as session:
        step = session.scalars(select(ChecklistStep).where(ChecklistStep.n == n)).one()
        target = session.scalars(select(Target).where(Target.name == step.target_name)).one()
    assert step.status == "done" and step.note == "sent"
    assert target.status == "contacted" and target.contacted_at is not None


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        (f"ua draft {CODE} 1", "names no institution to write to"),
        (f"ua draft {CODE} 99", f"{CODE} has no step 99"),
        (f"ua draft {CODE} 2 de", "Drafts are written in en, es, fr, pt; 'de' is not one"),
        ("ua draft UA-2026-0999 2", "No case UA-2026-0999"),
        (f"ua draft {CODE}", "Usage: ua draft UA-2026-0042 3 [en|es|fr|pt]"),
    ],
)
def test_bad_draft_requests_get_one_clear_line(opened: Services, line: str, answer: str) -> None:
    out = say(opened, line)
    assert answer in out
    assert "Traceback" not in out


def tocsin(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=isolated_environment(workdir / "tocsin.db", **env),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tocsin_draft_writes_an_eml_with_the_full_letter(tmp_path: Path) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text(
        "contacts:\n  - institution: iachr\n    role: precautionary measures desk\n"
        "    email: pm-desk@example.org\n    verified_on: 2026-11-01\n",
        encoding="utf-8",
    )
    assert tocsin(tmp_path, "migrate").returncode == 0
    assert tocsin(tmp_path, "contacts", "import", str(directory)).returncode == 0
    alert = tmp_path / "alert.json"
    alert.write_text(
        '{"country": "HN", "threats": ["death_threat"], "summary": "Shots fired at <home>",'
        f' "defender": {{"name": "{NAME}"}}, "consent": {{"government": true}}}}',
        encoding="utf-8",
    )
    assert tocsin(tmp_path, "alert", "new", str(alert)).returncode == 0
    out = tmp_path / "draft.eml"
    result = tocsin(
        tmp_path, "draft", CODE, "--target", "iachr", "--format", "eml", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "pm-desk@example.org"
    assert "Article 25" in message["Subject"] and message["X-Unsent"] == "1"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert NAME in text.get_content() and "Shots fired at <home>" in text.get_content()
    assert "Shots fired at &lt;home&gt;" in html.get_content()


def test_tocsin_draft_answers_bad_input_in_one_line(tmp_path: Path) -> None:
    assert tocsin(tmp_path, "migrate").returncode == 0
    result = tocsin(tmp_path, "draft", "UA-2026-0007", "--target", "iachr")
    assert result.returncode == 2
    assert result.stderr.strip() == "tocsin: No case UA-2026-0007. See the open cases with: ua list"


def test_a_broken_template_stops_tocsin_at_start(tmp_path: Path, project_root: Path) -> None:
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(project_root / "config" / "templates", templates)
    letter = templates / "pt" / "embassy.txt.j2"
    letter.write_text(letter.read_text(encoding="utf-8") + "{{ nome_do_defensor }}\n")
    assert tocsin(tmp_path, "migrate").returncode == 0
    result = tocsin(tmp_path, "draft", CODE, "--target", "T1", TOCSIN_TEMPLATES=str(templates))
    assert result.returncode == 2
    assert "pt/embassy.txt.j2" in result.stderr and "'nome_do_defensor'" in result.stderr
    assert "Traceback" not in result.stderr


def test_facts_learnt_later_go_into_drafts_and_the_log_keeps_only_their_names(
    services: Services,
) -> None:
    say(
        services,
        f'ua new country=HN threats=death_threat summary="Shots at night" defender="{NAME}" consent=government',
    )
    out = say(
        services,
        f'ua facts {CODE} place="Villa Ficticia" work="Defends a river community" '
        'earlier_incidents="Threats in August" occurred_on=2026-11-02',
    )
    assert f"Recorded for {CODE}: place, work, earlier incidents, occurred on." in out
    say(services, "ua disclosure full")
    n = step_of(services, "embassy_officer")
    draft = say(services, f"ua draft {CODE} {n}")
    for fact in (NAME, "Villa Ficticia", "Defends a river community", "Threats in August"):
        assert fact in draft
    assert "November 2, 2026" in draft
    assert "[ACTIONS TAKEN DOMESTICALLY — not recorded]" in draft
    with services.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "facts")).one()
    assert event.detail == {"fields": ["earlier_incidents", "occurred_on", "place", "work"]}


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        (f'ua facts {CODE} town="Villa"', "is not key=value with one of place, work"),
        (f"ua facts {CODE} occurred_on=yesterday", "'yesterday' is not a date"),
        (f"ua facts {CODE}", "Usage: ua facts UA-2026-0042"),
        (f"ua facts {CODE} place={'x' * 501}", "place is too long: at most 500 characters"),
    ],
)
def test_bad_facts_change_nothing(opened: Services, line: str, answer: str) -> None:
    assert answer in say(opened, line)
    with opened.transaction() as session:
        events = session.scalars(select(AuditEvent.action)).all()
    assert "facts" not in events
