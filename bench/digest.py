"""The daily digest with 100,000 cases and 1,000,000 checklist steps, on SQLite and PostgreSQL
(targets: under 200 ms per destination; peak memory of the process under 200 MB).

The data (all fictional), filled with set-based SQL (INSERT … SELECT over a series: PostgreSQL's
generate_series, a recursive CTE on SQLite), the sealed columns written through their column type:

- 100,000 cases opened evenly over the two years before the benchmark's day (about 137 a day),
  raised in three rooms (two Slack channels, one Matrix room) over eight countries. Every case
  opened in the last 21 days is open, and so is one older case in 50 (long-running ones): about
  4,800 open cases (4.8 %); the rest were closed 7 to 20 days after opening, and those closed over
  180 days ago are marked erased, as retention leaves them.
- 1,000,000 steps, 10 per case, due 2 to 20 days after opening. In an open case a step not
  yet due is open and one already due is done four times in five (open and overdue otherwise).
  In a closed case the steps due before the close are done; those left are skipped in half the
  cases and left open in the other half, as closing a case leaves them (silenced): about
  194,000 open steps of closed cases, against 22,000 of open ones. One case in 7 has no
  assignee on any step (unowned).
- 5,000 precautionary measures (one case in 20), each followed up by the case's step 10;
  200,000 targets (an embassy and a mechanism per case); 75 contacts, 40 % of them not verified
  for over 180 days; 100,000 delivered outbox rows and 7 dead letters.
- Four destinations with a daily digest (the three rooms and the leads' room), in four time zones.

PostgreSQL is then vacuumed and analysed, as autovacuum does after such a load; SQLite is left
as Tocsin leaves it (no ANALYZE).

Then, in a fresh process per database (which did not fill it), for each destination: what the
scheduler does when its digest is due (`build_digest`: gather the DigestInput from the database
in a new session, render it), 3 warm-up runs then 30 timed runs. Reports p95 per database with
median/p95/p99, and the larger peak RSS (ru_maxrss) of the two measuring processes, against the
floor of a process that only imports the same modules. Run it as `python -m bench.digest`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, text

from bench.results import Figure, percentile, publish, spread
from bot.domain.lifecycle import Outcome
from bot.domain.messages import Heading
from bot.store.db import create_database_engine, session_factory
from bot.store.migrate import upgrade_to_head
from bot.store.models import Case, Contact, Destination, OutboxMessage
from bot.store.sealing import generate_key, use_keys
from config.playbook import load_playbook
from config.world import load_world
from handlers.context import Services
from handlers.digest import build_digest
from tests.pg_schema import POSTGRES_URL, postgres_schema

CASES, STEPS_PER_CASE = 100_000, 10
# The benchmark's day: the digests are built at this instant, the cases fill the two years before.
NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
CASE_EVERY_S = 630  # 100,000 cases x 630 s: 729 days
START = NOW - timedelta(seconds=CASES * CASE_EVERY_S)
OPEN_RECENT_DAYS, OPEN_ONE_OLD_IN = 21, 50
DAY_S = 86_400
ROOMS = [
    ("slack", "C0BENCHHN", "America/Tegucigalpa"),
    ("slack", "C0BENCHCO", "America/Bogota"),
    ("matrix", "!bench-asia:example.org", "Asia/Manila"),
]
LEADS_ROOM = ("matrix", "!bench-leads:example.org", "Europe/Madrid")
COUNTRIES = ["HN", "GT", "CO", "MX", "BR", "PH", "KE", "IN"]
GOVERNMENTS = ["CA", "EU", "NO", "US", "GB", "NL", "CH", "FI"]
TITLES = [
    "Confirm the alert with the defender",
    "Assess the risk",
    "Agree on the response with the defender",
    "Brief the team lead",
    "Request precautionary measures",
    "Alert the special rapporteur",
    "Contact the embassies",
    "Prepare the public statement",
    "Follow up with the authorities",
    "Follow up on the measures",
]
ROLES = [
    "lead",
    "responder",
    "responder",
    "lead",
    "legal",
    "legal",
    "legal",
    "comms",
    "legal",
    "legal",
]
ASSIGNEES = ["@ana", "@bea", "@carl", "@dina", "@emil"]
SENT_OUTBOX_ROWS, DEAD_LETTERS = 100_000, 7
WARM_UP, RUNS = 3, 30
# Every section the data is made to fill.
SECTIONS = [
    "New cases in the last 24 hours",
    "Overdue, ",
    "Due today",
    "Measures due for follow-up",
    "Open cases nobody has taken a step of",
    "Contacts open cases rely on",
    "Messages Tocsin could not deliver",
]
TARGET_MS, TARGET_MB = 200.0, 200.0
ROOT = Path(__file__).resolve().parents[1]
DATA_KEY_VARIABLE = "TOCSIN_BENCH_DATA_KEY"


# --- SQL that differs between the two databases -------------------------------------------


def _epoch(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"CAST(extract(epoch FROM {column}) AS bigint)"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def _stamp(dialect: str, seconds: str) -> str:
    """A stored UTC datetime from seconds since the epoch (SQLite: as SQLAlchemy writes it)."""
    if dialect == "postgresql":
        return f"to_timestamp({seconds})"
    return f"(strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000')"


def _day(dialect: str, seconds: str) -> str:
    if dialect == "postgresql":
        return f"CAST(to_timestamp({seconds}) AS date)"
    return f"date({seconds}, 'unixepoch')"


def _series(dialect: str, n: int) -> str:
    """A subquery of the integers 1..n in a column `i`."""
    if dialect == "postgresql":
        return f"(SELECT generate_series(1, {n}) AS i)"
    return (
        f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
        "SELECT i FROM s)"
    )


def _padded(dialect: str, number: str) -> str:
    """The case number as codes show it: at least four digits."""
    if dialect == "postgresql":
        as_text = f"CAST({number} AS text)"
        return f"(CASE WHEN {number} < 10000 THEN lpad({as_text}, 4, '0') ELSE {as_text} END)"
    return f"printf('%04d', {number})"


def _pick(index: str, values: list[str]) -> str:
    """The value at `index` (0-based) in `values`, as a SQL CASE."""
    whens = " ".join(f"WHEN {k} THEN '{value}'" for k, value in enumerate(values))
    return f"(CASE {index} {whens} END)"


def _epoch_of(moment: datetime) -> int:
    return int(moment.timestamp())


# --- Filling ------------------------------------------------------------------------------


def _year_bounds() -> list[tuple[int, int]]:
    """(year, the first case number i of that year), latest year first."""
    bounds = []
    for year in range(START.year, NOW.year + 1):
        first = datetime(year, 1, 1, tzinfo=UTC)
        offset = max(0, _epoch_of(first) - _epoch_of(START))
        bounds.append((year, -(-offset // CASE_EVERY_S) + 1))
    return sorted(bounds, reverse=True)


def _cases_sql(dialect: str) -> str:
    bounds = _year_bounds()
    year = "(CASE " + " ".join(f"WHEN i >= {b} THEN {y}" for y, b in bounds) + " END)"
    number = "(CASE " + " ".join(f"WHEN i >= {b} THEN i - {b} + 1" for _, b in bounds) + " END)"
    now, recent = _epoch_of(NOW), _epoch_of(NOW) - OPEN_RECENT_DAYS * DAY_S
    erased_after = 181 * DAY_S
    room = "i % 3"
    return f"""
        INSERT INTO cases (code, year, number, status, outcome, country, severity,
            severity_derived, profiles, perpetrators, summary, financiers, consent_government,
            consent_un_public, consent_media, opened_by, origin_platform, origin_address,
            created_at, updated_at, closed_at, erased_at)
        SELECT 'UA-' || year || '-' || {_padded(dialect, "number")}, year, number,
            CASE WHEN is_open = 1 THEN 'open' ELSE 'closed' END,
            CASE WHEN is_open = 1 THEN NULL ELSE {_pick("i % 7", [o.value for o in Outcome])} END,
            substr('{"".join(COUNTRIES)}', (i % {len(COUNTRIES)}) * 2 + 1, 2),
            CASE WHEN i % 10 = 0 THEN 'critical' WHEN i % 10 < 5 THEN 'high' ELSE 'medium' END,
            TRUE, '[]', '[]', :summary, '[]', FALSE, FALSE, FALSE, 'bench',
            {_pick(room, [platform for platform, _, _ in ROOMS])},
            {_pick(room, [address for _, address, _ in ROOMS])},
            {_stamp(dialect, "t")},
            {_stamp(dialect, "CASE WHEN is_open = 1 THEN t ELSE closed END")},
            CASE WHEN is_open = 1 THEN NULL ELSE {_stamp(dialect, "closed")} END,
            CASE WHEN is_open = 0 AND closed + {erased_after} < {now}
                THEN {_stamp(dialect, f"closed + {erased_after}")} END
        FROM (
            SELECT i, t, {year} AS year, {number} AS number,
                CASE WHEN t >= {recent} OR i % {OPEN_ONE_OLD_IN} = 0 THEN 1 ELSE 0 END AS is_open,
                t + (7 + i % 14) * {DAY_S} AS closed
            FROM (SELECT i, {_epoch_of(START)} + (i - 1) * {CASE_EVERY_S} AS t
                  FROM {_series(dialect, CASES)} AS series) AS timed
        ) AS numbered
        ORDER BY i
    """


def _measures_sql(dialect: str) -> str:
    created = _epoch(dialect, "created_at")
    return f"""
        INSERT INTO measures (case_id, body, kind, reference, status, requested_on, granted_on,
            follow_up_every_days, next_follow_up_at, updated_at)
        SELECT id, 'IACHR', 'precautionary', 'MC-' || id || '-' || year, 'granted',
            {_day(dialect, created)}, {_day(dialect, f"{created} + 5 * {DAY_S}")}, 30,
            CASE WHEN status = 'open' THEN {_stamp(dialect, f"{created} + 35 * {DAY_S}")} END,
            created_at
        FROM cases WHERE id % 20 = 0 ORDER BY id
    """


def _steps_sql(dialect: str) -> str:
    now = _epoch_of(NOW)
    due = f"ct + n * 2 * {DAY_S} + n * 3600"
    # An open case: a step not yet due is open, one already due done four times in five. A
    # closed case: what fell due before the close is done; what was left is skipped in every
    # other case and left open in the rest, as closing leaves it (silenced: no reminder).
    state = (
        f"CASE WHEN closed IS NULL THEN CASE WHEN {due} >= {now} OR (id / 3 + n * 7) % 5 = 0 "
        f"THEN 'open' ELSE 'done' END "
        f"WHEN {due} < closed THEN 'done' WHEN id % 2 = 0 THEN 'skipped' ELSE 'open' END"
    )
    assignee = (
        f"CASE WHEN id % 7 = 0 OR n % 3 = 0 THEN NULL "
        f"ELSE {_pick(f'(id * 3 + n) % {len(ASSIGNEES)}', ASSIGNEES)} END"
    )
    return f"""
        INSERT INTO checklist_steps (case_id, n, key, title, owner_role, assignee, status,
            due_at, completed_at, reminders_sent, next_reminder_at, measure_id)
        SELECT id, n, 'bench-' || n, {_pick("n - 1", TITLES)}, {_pick("n - 1", ROLES)},
            {assignee}, state, {_stamp(dialect, due)},
            CASE state WHEN 'done' THEN {_stamp(dialect, "ct + n * 12 * 3600")}
                WHEN 'skipped' THEN {_stamp(dialect, "closed")} END,
            CASE WHEN state = 'open' AND {due} < {now} THEN 2 ELSE 0 END,
            CASE WHEN state <> 'open' OR closed IS NOT NULL THEN NULL
                WHEN {due} >= {now} THEN {_stamp(dialect, due)}
                ELSE {_stamp(dialect, f"{now} + (id * 7919 + n) % {DAY_S}")} END,
            CASE WHEN n = {STEPS_PER_CASE} THEN measure END
        FROM (
            SELECT id, ct, closed, measure, n, {state} AS state
            FROM (
                SELECT c.id, {_epoch(dialect, "c.created_at")} AS ct,
                    {_epoch(dialect, "c.closed_at")} AS closed, m.id AS measure, series.i AS n
                FROM cases AS c
                CROSS JOIN {_series(dialect, STEPS_PER_CASE)} AS series
                LEFT JOIN measures AS m ON m.case_id = c.id
            ) AS planned
        ) AS decided
        ORDER BY id, n
    """


def _targets_sql(dialect: str) -> str:
    government = _pick(f"id % {len(GOVERNMENTS)}", GOVERNMENTS)
    mechanism = (
        "CASE id % 3 WHEN 0 THEN 'iachr' WHEN 1 THEN 'sr_defenders' ELSE 'oecd_ncp:' || country END"
    )
    category = (
        "CASE WHEN position = 1 THEN 'embassy' "
        "ELSE CASE id % 3 WHEN 0 THEN 'regional_body' WHEN 1 THEN 'un_special_procedure' "
        "ELSE 'oecd_ncp' END END"
    )
    return f"""
        INSERT INTO targets (case_id, position, category, institution, name, reason, status,
            contacted_at)
        SELECT id, position, {category},
            CASE WHEN position = 1 THEN 'embassy:' || {government} ELSE {mechanism} END,
            'Fictional institution ' || position, 'A fictional reason to engage it.',
            CASE WHEN status = 'open' THEN 'pending' ELSE 'contacted' END,
            CASE WHEN status = 'open' THEN NULL ELSE created_at END
        FROM (SELECT c.id, c.country, c.status, c.created_at, series.i AS position
              FROM cases AS c CROSS JOIN {_series(dialect, 2)} AS series) AS planned
        ORDER BY id, position
    """


def _outbox_sql(dialect: str) -> str:
    room = "i % 3"
    sent = f"{_epoch_of(START)} + i * 630"
    return f"""
        INSERT INTO outbox (platform, address, encrypted, case_code, payload, status, attempts,
            next_attempt_at, created_at, sent_at)
        SELECT {_pick(room, [p for p, _, _ in ROOMS])}, {_pick(room, [a for _, a, _ in ROOMS])},
            FALSE, NULL, :payload, 'sent', 1, {_stamp(dialect, sent)}, {_stamp(dialect, sent)},
            {_stamp(dialect, f"{sent} + 2")}
        FROM {_series(dialect, SENT_OUTBOX_ROWS)} AS series
    """


def _contacts() -> list[dict[str, Any]]:
    """75 contacts: an embassy desk per country and government, an NCP per country, and three
    mechanisms; 40 % not verified for over 180 days (or never)."""
    rows: list[dict[str, Any]] = []
    for country in COUNTRIES:
        for government in GOVERNMENTS:
            rows.append(
                {
                    "institution": "embassy",
                    "government": government,
                    "country": country,
                    "identity": f"hrd.{government.lower()}.{country.lower()}@example.org",
                    "role": "human rights officer",
                }
            )
        rows.append(
            {
                "institution": "oecd_ncp",
                "government": "",
                "country": country,
                "identity": f"ncp.{country.lower()}@example.org",
                "role": "national contact point",
            }
        )
    for institution in ("iachr", "sr_defenders", "front_line_defenders"):
        rows.append(
            {
                "institution": institution,
                "government": "",
                "country": "",
                "identity": f"desk@{institution.replace('_', '-')}.example.org",
                "role": "desk",
            }
        )
    for k, row in enumerate(rows):
        stale = k % 5 < 2
        verified = NOW.date() - timedelta(days=400 if stale else 30 + k)
        row.update(
            email=row["identity"],
            languages=["English", "Spanish"],
            verified_on=None if stale and k % 10 == 0 else verified,
            updated_at=NOW - timedelta(days=k),
        )
    return rows


def _destinations() -> list[dict[str, Any]]:
    return [
        {
            "platform": platform,
            "address": address,
            "label": f"bench room {k + 1}",
            "encrypted": platform == "matrix",
            "timezone": zone,
            "team": "Bench team",
            "digest_time": "09:00",
            "next_digest_at": NOW,
            "is_lead": (platform, address, zone) == LEADS_ROOM,
            "created_at": START,
            "bound_at": START,
            "bound_by": "slack:UBENCHADMIN",
        }
        for k, (platform, address, zone) in enumerate([*ROOMS, LEADS_ROOM])
    ]


def fill(engine: Engine) -> dict[str, int]:
    """Migrate and fill the database; the number of rows of each table."""
    upgrade_to_head(engine)
    dialect = engine.dialect.name
    summary = bindparam("summary", "A fictional alert.", type_=Case.__table__.c.summary.type)
    payload = bindparam("payload", {}, type_=OutboxMessage.__table__.c.payload.type)
    with engine.begin() as connection:
        connection.execute(text(_cases_sql(dialect)).bindparams(summary))
        connection.execute(text(_measures_sql(dialect)))
        connection.execute(text(_steps_sql(dialect)))
        connection.execute(text(_targets_sql(dialect)))
        connection.execute(text(_outbox_sql(dialect)).bindparams(payload))
        connection.execute(insert(Contact), _contacts())
        connection.execute(insert(Destination), _destinations())
        _dead_letters(connection)
    analysed(engine)
    with engine.connect() as connection:
        tables = ["cases", "checklist_steps", "measures", "targets", "contacts", "outbox"]
        return {
            table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in tables
        }


def analysed(engine: Engine) -> None:
    """On PostgreSQL, what autovacuum does after a bulk load (SQLite is left as Tocsin is)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def _dead_letters(connection: Connection) -> None:
    platform, address, _ = ROOMS[1]
    connection.execute(
        insert(OutboxMessage),
        [
            {
                "platform": platform,
                "address": address,
                "encrypted": False,
                "payload": {"fallback": "A fictional reminder."},
                "status": "dead",
                "attempts": 1,
                "next_attempt_at": NOW - timedelta(hours=k),
                "created_at": NOW - timedelta(hours=k),
                "last_error": "Slack: channel_not_found",
            }
            for k in range(1, DEAD_LETTERS + 1)
        ],
    )


# --- Measuring (in a process of its own) ----------------------------------------------------


def bench_services(url: str, schema: str | None) -> tuple[Services, Engine]:
    """Handler services on the filled database, at the benchmark's instant, with the data key
    the parent process passed on (dispose the engine)."""
    use_keys([os.environ[DATA_KEY_VARIABLE]])
    engine = engine_for(url, schema)
    world = load_world()
    services = Services(
        sessions=session_factory(engine),
        world=world,
        playbook=load_playbook(world),
        tz=UTC,
        clock=lambda: NOW,
    )
    return services, engine


def measure(url: str, schema: str | None) -> dict[str, Any]:
    """Per destination, the milliseconds of each timed digest; the process's peak RSS in MB."""
    services, engine = bench_services(url, schema)
    with services.sessions() as session:
        destinations = list(session.scalars(select(Destination.id).order_by(Destination.id)))
    samples: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    headings: dict[str, list[str]] = {}
    for destination_id in destinations:
        timed: list[float] = []
        for run in range(WARM_UP + RUNS):
            with services.sessions() as session, session.begin():
                started = time.perf_counter()
                destination = session.get_one(Destination, destination_id)
                message = build_digest(session, services, destination, NOW)
                elapsed = (time.perf_counter() - started) * 1000
            if run >= WARM_UP:
                timed.append(elapsed)
        place = f"{destination.platform}:{destination.address}"
        samples[place] = timed
        sizes[place] = len(str(message.blocks))
        headings[place] = [b.text for b in message.blocks if isinstance(b, Heading)]
        missing = [s for s in SECTIONS if not any(h.startswith(s) for h in headings[place])]
        assert not missing, f"the digest of {place} lacks {missing}: the data is not as planned"
    engine.dispose()
    return {"samples": samples, "sizes": sizes, "headings": headings, "rss_mb": _peak_rss_mb()}


def engine_for(url: str, schema: str | None) -> Engine:
    """An engine on the database, in the schema when one is given (PostgreSQL)."""
    if schema is None:
        return create_database_engine(url)
    return create_database_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(module: str, *arguments: str, key: str) -> dict[str, Any]:
    """Run `python -m MODULE ARGUMENTS…` with the data key; the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, DATA_KEY_VARIABLE: key},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(arguments)} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _filled_and_measured(url: str, schema: str | None, key: str) -> dict[str, Any]:
    engine = engine_for(url, schema)
    started = time.perf_counter()
    counts = fill(engine)
    took = time.perf_counter() - started
    engine.dispose()
    name = engine.dialect.name
    print(f"{name}: filled {counts} in {took:.1f} s", flush=True)
    result = child("bench.digest", "measure", url, schema or "-", key=key)
    for place, timed in result["samples"].items():
        print(f"  {place}: {spread(timed)} ms; digest {result['sizes'][place]:,} characters")
    first = next(iter(result["headings"].values()))
    print("  sections of the first: " + "; ".join(first[1:]))
    print(f"  peak RSS {result['rss_mb']:.0f} MB", flush=True)
    return {**result, "fill_s": took}


def on_both_databases(
    name: str, run: Callable[[str, str | None, str], dict[str, Any]], key: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`run(url, schema, key)` on a new SQLite file, then in a new PostgreSQL schema (both
    dropped after): the results, SQLite's first."""
    with tempfile.TemporaryDirectory() as folder:
        sqlite = run(f"sqlite:///{Path(folder) / f'{name}.db'}", None, key)
    with postgres_schema(f"tocsin_bench_{name}") as schema:
        postgres = run(POSTGRES_URL, schema, key)
    return sqlite, postgres


def _all_samples(result: dict[str, Any]) -> list[float]:
    return [ms for timed in result["samples"].values() for ms in timed]


def main(arguments: list[str]) -> int:
    if arguments[:1] == ["floor"]:
        print(json.dumps({"rss_mb": _peak_rss_mb()}))
        return 0
    if arguments[:1] == ["measure"]:
        url, schema = arguments[1], arguments[2]
        print(json.dumps(measure(url, None if schema == "-" else schema)))
        return 0
    key = generate_key()
    use_keys([key])
    sqlite, postgres = on_both_databases("digest", _filled_and_measured, key)
    floor = statistics.median(child("bench.digest", "floor", key=key)["rss_mb"] for _ in range(3))
    rss = max(sqlite["rss_mb"], postgres["rss_mb"])
    per = f"{len(sqlite['samples'])} destinations x {RUNS} runs after {WARM_UP} warm-up"
    figures = [
        Figure(
            name=f"Digest per destination, {label}, 100k cases / 1M steps, p95",
            value=percentile(_all_samples(result), 95),
            unit="ms",
            target=TARGET_MS,
            direction="max",
            note=f"{spread(_all_samples(result))} ms; {per}; filled in {result['fill_s']:.0f} s",
        )
        for label, result in (("SQLite", sqlite), ("PostgreSQL", postgres))
    ]
    figures.append(
        Figure(
            name="Digest: peak memory of the process",
            value=rss,
            unit="MB",
            target=TARGET_MB,
            direction="max",
            floor=floor,
            note=f"ru_maxrss of the measuring process: SQLite {sqlite['rss_mb']:.0f} MB, "
            f"PostgreSQL {postgres['rss_mb']:.0f} MB; floor = a process importing the same modules",
        )
    )
    return 0 if publish(figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
