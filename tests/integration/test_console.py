"""The console: a newcomer types `ua …` lines and reads plain-text replies."""

from __future__ import annotations

import io

import pytest

from bot.app import connector_kit
from bot.connectors.console.connector import ConsoleConnector
from handlers.context import Services


async def converse(services: Services, *lines: str) -> str:
    stdin, stdout = io.StringIO("".join(f"{line}\n" for line in lines)), io.StringIO()
    await ConsoleConnector(connector_kit(services), stdin=stdin, stdout=stdout).run()
    return stdout.getvalue()


NEW = 'ua new country=HN threats=arbitrary_detention profiles=journalist summary="held at a police station"'


async def test_a_case_opened_in_the_console_is_listed_and_shown(services: Services) -> None:
    out = await converse(services, NEW, "ua list", "ua show ua-2026-1")
    assert "Opened UA-2026-0001" in out
    assert "UA-2026-0001  HIGH      Honduras  arbitrary detention" in out
    assert "Working Group on Arbitrary Detention — The defender is detained" in out
    assert "[!] " in out and "waiting for consent media" in out


async def test_due_times_are_shown_in_the_organisations_time_zone(services: Services) -> None:
    out = await converse(services, NEW, "ua show UA-2026-0001")
    # Opened 14:30 UTC, safety step due 30 minutes later: 09:00 in Tegucigalpa (CST).
    assert "due Fri 27 Nov 09:00 CST" in out


async def test_the_console_shows_no_name_until_an_admin_sets_full(services: Services) -> None:
    out = await converse(
        services,
        'ua new country=HN threats=raid summary="office raided" defender="Ana Example"',
        "ua show UA-2026-0001",
    )
    assert "Ana Example" not in out
    assert "office raided" in out  # standard: the summary, no name
    assert "Names are shown only where disclosure is full" in out
    out = await converse(
        services, "ua disclosure full", "ua show UA-2026-0001", "ua log UA-2026-0001"
    )
    assert "Disclosure here is now full" in out
    assert "Defender: Ana Example" in out.replace("  ", " ").replace("Defender:  ", "Defender: ")
    assert "read full" in out  # the read of the full details is in the case's log


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ua new country=Atlantis threats=raid summary=x", "! Not accepted: country: 'Atlantis'"),
        ("ua new country=HN summary=x", "! Not accepted: threats: is required. Usage: ua new"),
        ("ua show UA-2026-0099", "! No case UA-2026-0099"),
        ("ua dance", "! Unknown command 'dance'"),
        ("hello there", "! Commands start with 'ua'"),
    ],
)
async def test_bad_input_gets_one_short_line_and_opens_nothing(
    services: Services, line: str, expected: str
) -> None:
    out = await converse(services, line, "ua list")
    first, _, rest = out.partition("\n")
    assert first.startswith(expected)
    assert "Traceback" not in out
    assert "No open cases." in rest


async def test_an_unexpected_failure_is_reported_without_a_traceback(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("disk on fire: Ana Example")

    monkeypatch.setattr("handlers.intake.open_case", broken)
    out = await converse(services, NEW)
    assert out.startswith("! Something went wrong on Tocsin's side and nothing was changed.")
    assert "incident id" in out and "Traceback" not in out and "Ana Example" not in out


async def test_blank_lines_comments_and_quit(services: Services) -> None:
    out = await converse(services, "", "# a comment", "quit", "ua list")
    assert out == ""


async def test_ua_route_groups_targets_by_category_and_stores_nothing(services: Services) -> None:
    out = await converse(
        services,
        "ua route country=CO threats=death_threat profiles=indigenous",
        "ua list",
    )
    assert out.startswith("Whom to engage: Colombia, critical")
    assert "Regional human rights bodies (2)" in out
    assert "Inter-American Commission on Human Rights (IACHR) — Colombia is an OAS member" in out
    assert "Embassies (8)" in out and "ambassador-level engagement" in out
    assert "Nothing was stored" in out and "No open cases." in out
