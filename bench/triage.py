"""How much CPU one triage costs after start-up (target: under 50 ms for any alert).

Runs every alert of a varied set many times and reports the median and the 95th percentile of
CPU time (time.process_time_ns, so other load on the machine matters less than wall time), for the
pure core (parse + route + checklist) and for the handler path that also reads a 500-contact
directory from SQLite. Exits 1 when a median misses the target.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.alert import parse_alert
from bot.domain.directory import Contact, Directory
from bot.domain.triage import triage
from bot.store.contacts import import_contacts
from bot.store.db import create_database_engine, session_factory
from bot.store.migrate import upgrade_to_head
from config.playbook import load_playbook
from config.world import load_world
from handlers.context import Services, utc_now
from handlers.intake import triage_alert

TARGET_MS = 50.0
ROUNDS = 200

ALERTS: list[dict[str, Any]] = [
    {"country": "HN", "threats": ["arbitrary_detention"], "profiles": ["journalist"]},
    {"country": "Côte d'Ivoire", "threats": ["sexual_violence"], "profiles": ["woman"]},
    {
        "country": "CO",
        "threats": ["killing", "death_threat"],
        "profiles": ["indigenous", "land"],
        "business": {
            "company": "Example Palm",
            "home_country": "GB",
            "financiers": ["IFC", "World Bank", "IDB Invest"],
        },
    },
    {"country": "RU", "threats": ["judicial_harassment", "travel_ban"], "profiles": ["lawyer"]},
    {"country": "HU", "threats": ["smear_campaign"], "profiles": ["lgbti"]},
    {"country": "PH", "threats": ["surveillance", "reprisal_for_cooperation"]},
    {
        "country": "KE",
        "threats": ["death_threat"],
        "profiles": ["environmental"],
        "business": {"company": "Example Mining", "home_country": "CA", "financiers": ["IFC"]},
    },
    {
        "country": "Mexico",
        "threats": ["killing"],
        "profiles": ["journalist"],
        "perpetrators": ["state"],
    },
]


def directory_of(size: int) -> list[Contact]:
    """A fictional directory: embassy officers of every supportive government in many countries."""
    countries = ["HN", "CO", "GT", "MX", "BR", "PH", "KE", "RU", "HU", "CI", "PE", "IN"]
    governments = ["US", "EU", "CA", "NO", "CH", "GB", "NL", "FI"]
    contacts = []
    for n in range(size):
        contacts.append(
            Contact(
                institution="embassy",
                government=governments[n % len(governments)],
                country=countries[(n // len(governments)) % len(countries)],
                role="human rights officer",
                name=f"Officer {n}",
                email=f"officer{n}@example.org",
                verified_on=date(2026, 1 + n % 12, 1),
            )
        )
    return contacts


def cpu_ms(
    run: Callable[[dict[str, Any]], object], alerts: list[dict[str, Any]], rounds: int
) -> list[float]:
    """CPU milliseconds of each call of `run` on each alert, `rounds` times over."""
    samples = []
    for _ in range(rounds):
        for alert in alerts:
            start = time.process_time_ns()
            run(alert)
            samples.append((time.process_time_ns() - start) / 1e6)
    return samples


def report(label: str, samples: list[float]) -> bool:
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    ok = median < TARGET_MS
    verdict = "ok" if ok else "MISSED"
    print(
        f"{label:44} median {median:7.3f} ms  p95 {p95:7.3f} ms  "
        f"({TARGET_MS / median:6.0f}x under the {TARGET_MS:.0f} ms target) {verdict}"
    )
    return ok


def main() -> int:
    world = load_world()
    playbook = load_playbook(world)
    contacts = directory_of(500)
    directory = Directory.of(contacts)
    today = date(2026, 11, 27)
    data = [{"summary": "fictional benchmark alert", **a} for a in ALERTS]

    parse_only = cpu_ms(lambda d: parse_alert(d, world.countries), data, ROUNDS)
    pure = cpu_ms(
        lambda d: triage(parse_alert(d, world.countries), world, playbook, directory, today=today),
        data,
        ROUNDS,
    )
    with tempfile.TemporaryDirectory() as folder:
        engine = create_database_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade_to_head(engine)
        services = Services(
            sessions=session_factory(engine), world=world, playbook=playbook, tz=ZoneInfo("UTC")
        )
        with services.transaction() as session:
            import_contacts(session=session, contacts=contacts, now=utc_now())
        handler = cpu_ms(lambda d: triage_alert(d, services), data, ROUNDS // 4)
        engine.dispose()

    print(f"triage CPU per alert, {len(ALERTS)} alerts, 500-contact directory, {ROUNDS} rounds")
    report("floor: parse_alert only (pydantic + countries)", parse_only)
    results = [
        report("pure core: parse + route + checklist", pure),
        report("handler: + directory read from SQLite", handler),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
