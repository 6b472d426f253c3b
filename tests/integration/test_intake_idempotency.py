"""An alert's source id opens one case, whether it arrives twice in a row or at the same time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from bot.connectors.console.render import render_text
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.models import Case
from handlers.commands import handle_line
from handlers.context import Services
from handlers.intake import new_case, take_alert
from tests.conftest import FrozenClock
from tests.factories import committing_services, remove_committed_cases
from tests.integration.test_cli import tocsin, write_alert

ROOM = Place("console", "intake-room")
ALERT = {
    "country": "PE",
    "threats": ["judicial_harassment"],
    "profiles": ["environmental"],
    "summary": "charged after the river protest (fictional)",
    "source": {"external_id": "partner-form-4471"},
}


def test_the_same_source_id_maps_to_the_same_case(services: Services) -> None:
    first = new_case(ALERT, actor="console:ana", place=ROOM, services=services)
    again = new_case(ALERT, actor="console:ana", place=ROOM, services=services)
    code = first.fallback.split()[1].rstrip(":")
    assert again.fallback.startswith(f"Already opened as {code}") and not again.is_error
    other = new_case(
        {**ALERT, "source": {"external_id": "partner-form-4472"}},
        actor="console:ana",
        place=ROOM,
        services=services,
    )
    assert other.fallback.startswith("Opened ") and code not in other.fallback
    without_id = {k: v for k, v in ALERT.items() if k != "source"}
    for _ in range(2):
        assert new_case(without_id, actor="a", place=ROOM, services=services).fallback.startswith(
            "Opened "
        )


def test_simultaneous_alerts_with_one_source_id_open_one_case(
    migrated_engine: Engine, world: World, playbook: Playbook
) -> None:
    services = committing_services(
        migrated_engine, world, playbook, datetime(2034, 5, 1, tzinfo=UTC)
    )
    alert = {**ALERT, "source": {"external_id": "partner-form-race"}}
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(
                pool.map(
                    lambda n: take_alert(alert, actor=f"t{n}", place=ROOM, services=services),
                    range(8),
                )
            )
        assert len({r.view.code for r in results}) == 1
        assert sum(r.opened for r in results) == 1
        with services.transaction() as session:
            count = session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.source_external_id == "partner-form-race")
            )
        assert count == 1
    finally:
        remove_committed_cases(migrated_engine, year=2034, room=ROOM.address)


def test_tocsin_alert_new_prints_the_same_code_for_a_resent_alert(tmp_path: Path) -> None:
    assert tocsin(tmp_path, "migrate").returncode == 0
    path = write_alert(tmp_path, ALERT)
    first, second = tocsin(tmp_path, "alert", "new", path), tocsin(tmp_path, "alert", "new", path)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout and first.stdout.startswith("UA-")


NAMED = {
    "country": "CO",
    "threats": ["death_threat", "surveillance"],
    "profiles": ["land"],
    "summary": "threatened at the land office (fictional)",
    "defender": {"name": "Lía Fictional-Twin"},
}


def test_a_likely_duplicate_is_linked_to_the_case_not_opened_again(
    services: Services, clock: FrozenClock
) -> None:
    first = new_case(NAMED, actor="console:ana", place=ROOM, services=services)
    code = first.fallback.split()[1].rstrip(":")
    clock.advance(hours=5)
    twin = {**NAMED, "threats": ["death_threat"], "defender": {"name": "lia  fictional-twin"}}
    again = new_case(twin, actor="console:beto", place=ROOM, services=services)
    assert again.fallback.startswith(f"Not opened: this looks like {code}") and again.public
    log = handle_line(f"ua log {code}", actor="console:ana", place=ROOM, services=services)
    assert log is not None and "console:beto  duplicate alert" in render_text(log)
    assert "separate=yes" in again.fallback
    forced = new_case({**twin, "separate": True}, actor="b", place=ROOM, services=services)
    assert forced.fallback.startswith("Opened ")
    other_threat = {**NAMED, "threats": ["raid"]}
    assert new_case(other_threat, actor="b", place=ROOM, services=services).fallback.startswith(
        "Opened "
    )
    clock.advance(hours=25)  # more than a day after the last: a new incident
    assert new_case(NAMED, actor="b", place=ROOM, services=services).fallback.startswith("Opened ")
