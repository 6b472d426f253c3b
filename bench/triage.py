"""Triage throughput and cost (targets: at least 5,000 alerts a second on one core for the pure
core, route + checklist; under 50 ms CPU for any alert on the handler path).

The pure core is fed 2,000 varied, fictional alerts (a seeded mix of every country, threat,
profile and perpetrator, some with a company and financiers) against a 500-contact directory,
round after round; each round's alerts per CPU second (time.process_time, one thread, so one
core) is a sample, and the median round is the figure. The handler path (parse, then the
directory read from SQLite, then the core) is timed per alert on the 8 hand-written alerts below.
Run it as `python -m bench.triage`.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.results import Figure, percentile, publish, spread
from bot.domain.alert import Alert, parse_alert
from bot.domain.directory import Contact, Directory
from bot.domain.triage import triage
from bot.domain.vocabulary import Perpetrator, Profile, Threat
from bot.domain.world import World
from bot.store.contacts import import_contacts
from bot.store.db import create_database_engine, session_factory
from bot.store.migrate import upgrade_to_head
from config.playbook import load_playbook
from config.world import load_world
from handlers.context import Services, utc_now
from handlers.intake import triage_alert

TARGET_MS = 50.0
TARGET_PER_S = 5_000.0
ROUNDS = 200
VARIED, THROUGHPUT_ROUNDS = 2_000, 15

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


def varied_alerts(count: int, world: World) -> list[Alert]:
    """Fictional alerts over every country and term, the same for every run (seeded)."""
    chance = random.Random(20261128)
    countries = [c.alpha2 for c in world.countries]
    alerts = []
    for _ in range(count):
        data: dict[str, Any] = {
            "country": chance.choice(countries),
            "threats": chance.sample(list(Threat), chance.randint(1, 3)),
            "profiles": chance.sample(list(Profile), chance.randint(0, 2)),
            "perpetrators": chance.sample(list(Perpetrator), chance.randint(0, 2)),
            "summary": "fictional benchmark alert",
        }
        if chance.random() < 0.2:
            data["business"] = {
                "company": "Example Holdings",
                "home_country": chance.choice(countries),
                "financiers": chance.sample(["IFC", "World Bank", "IDB Invest", "EIB"], 2),
            }
        alerts.append(parse_alert(data, world.countries))
    return alerts


def throughput(alerts: list[Alert], run: Callable[[Alert], object]) -> list[float]:
    """Alerts per CPU second, one sample per round over all the alerts."""
    samples = []
    for _ in range(THROUGHPUT_ROUNDS):
        start = time.process_time()
        for alert in alerts:
            run(alert)
        samples.append(len(alerts) / (time.process_time() - start))
    return samples


def main() -> int:
    world = load_world()
    playbook = load_playbook(world)
    contacts = directory_of(500)
    directory = Directory.of(contacts)
    today = date(2026, 11, 27)
    alerts = varied_alerts(VARIED, world)
    rates = throughput(alerts, lambda a: triage(a, world, playbook, directory, today=today))
    data = [{"summary": "fictional benchmark alert", **a} for a in ALERTS]
    parse_only = throughput(
        [parse_alert(d, world.countries) for d in data] * (VARIED // len(data)),
        lambda a: parse_alert(a.model_dump(mode="json"), world.countries),
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
    ok = publish(
        [
            Figure(
                name="Triage (route + checklist, pure): alerts per second, one core",
                value=statistics.median(rates),
                unit="alerts/s",
                target=TARGET_PER_S,
                direction="min",
                floor=statistics.median(parse_only),
                note=f"{VARIED:,} varied alerts, 500-contact directory; rounds: "
                f"{spread(rates)}; floor = parse_alert alone (pydantic), alerts/s",
            ),
            Figure(
                name="Triage on the handler path (+ directory read from SQLite): CPU p99",
                value=percentile(handler, 99),
                unit="ms",
                target=TARGET_MS,
                direction="max",
                note=f"per alert: {spread(handler)} ms",
            ),
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
