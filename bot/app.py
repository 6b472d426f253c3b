"""Wiring: settings -> store -> handlers -> outbox -> connectors -> scheduler, on one asyncio
loop. The one place that knows every layer: it builds each piece and hands it to whoever
needs it (a connector gets its `ConnectorKit`; the scheduler a way to wake the dispatcher)."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, text

from bot.connectors.console.connector import ConsoleConnector
from bot.connectors.contract import Connector, ConnectorKit
from bot.connectors.http import HttpServer, Readiness
from bot.connectors.webhook.connector import WebhookConnector
from bot.errors import StartupError
from bot.outbox import queue
from bot.outbox.dispatcher import Connectors, Dispatcher
from bot.outbox.ledger import Ledger
from bot.scheduler import Scheduler
from bot.store.data_keys import check_keys
from bot.store.db import create_database_engine, session_factory
from bot.store.leader import LeaderLock
from bot.store.migrate import SCHEMA_HEAD, current_revision
from bot.store.sealing import DataKeyError, keyring, use_keys
from config.letters import load_letters
from config.playbook import load_playbook
from config.settings import Settings
from config.world import load_world
from handlers.context import Services
from handlers.sink import Handlers

log = logging.getLogger(__name__)

# A platform's stop (SIGTERM) is followed by a kill after about ten seconds.
STOP_TIMEOUT_S = 3.0
# On stop, the dispatcher may send for this long what is due before giving up its rows.
DRAIN_S = 3.0


@dataclass(frozen=True)
class Application:
    """The running pieces: the engine (to dispose of) and the handlers' services."""

    engine: Engine
    services: Services

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def build_application(settings: Settings, *, require_schema: bool = True) -> Application:
    """Load the world, connect to the database and check its schema is current."""
    world = load_world(supportive=settings.tocsin_supportive_governments)
    engine = create_database_engine(settings.database_url)
    if require_schema:
        check_schema(engine)
        _use_data_keys(settings, engine)
    playbook = load_playbook(world, settings.tocsin_playbook)
    services = Services(
        sessions=session_factory(engine),
        world=world,
        playbook=playbook,
        tz=settings.timezone,
        admins=frozenset(settings.tocsin_admins),
        retention_days=settings.tocsin_retention_days,
        letters=load_letters(settings.tocsin_templates),
        draft_language=settings.tocsin_draft_language,
        un_language=settings.tocsin_un_language,
    )
    return Application(engine=engine, services=services)


@contextmanager
def opened(settings: Settings, *, require_schema: bool = True) -> Iterator[Application]:
    """The application for one command, its connections released at the end."""
    app = build_application(settings, require_schema=require_schema)
    try:
        yield app
    finally:
        app.close()


def _use_data_keys(settings: Settings, engine: Engine) -> None:
    """Open the case files with the organisation's keys, or stop with what to do."""
    if not settings.data_keys:
        raise StartupError(
            "TOCSIN_DATA_KEY is not set: run 'tocsin migrate' (or 'make run') once, which writes "
            "a new key to .env, or set your organisation's key"
        )
    use_keys(settings.data_keys)
    try:
        check_keys(engine)
    except DataKeyError as error:
        raise StartupError(str(error)) from None


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is migrated to the revision the code expects."""
    return current_revision(engine) == SCHEMA_HEAD


def check_schema(engine: Engine) -> None:
    """Fail with a clear instruction when the database is behind the code."""
    current, head = current_revision(engine), SCHEMA_HEAD
    if current != head:
        state = "is empty" if current is None else f"is at revision {current}, not {head}"
        raise StartupError(f"The database {state}: run 'tocsin migrate' (or 'make run') first.")


async def run_connectors(settings: Settings, app: Application) -> None:
    """Run every configured connector until stopped; the console when none is configured."""
    # Listen for a stop before anything starts: a SIGTERM during start-up must not kill the
    # process outright (the default action) with work half begun.
    stopped = _stop_requested()
    connectors = Connectors()
    background = Background(app.services, connectors, LeaderLock(app.engine))
    http = HttpServer(settings.tocsin_http_host, settings.tocsin_http_port)
    kit = connector_kit(app.services)
    WebhookConnector(kit).install(http.application)
    chat = _chat_connectors(settings, kit, http)
    http.serve_readiness(
        functools.partial(
            readiness,
            app.services,
            {platform: _connected(c) for platform, c in chat} or {"console": lambda: True},
            background.scheduler.running,
        )
    )
    if not chat:
        await _run_console(kit, connectors, background, http, stopped)
        return
    await http.start()
    started: list[Connector] = []
    try:
        for platform, connector in chat:
            await connector.start()
            started.append(connector)
            connectors.register(platform, connector)
        await background.start()
        try:
            await stopped.wait()
        finally:
            # Stop taking commands first, then let the dispatcher send what it can.
            await _stop_all(started)
            started = []
            await background.stop()
    finally:
        await _stop_all(started)
        await http.stop()


def connector_kit(services: Services) -> ConnectorKit:
    """What every connector is given: the handlers as its command sink, and the ledger."""
    return ConnectorKit(commands=Handlers(services), ledger=Ledger(services), sealer=keyring())


class Background:
    """What runs beside the connectors: the dispatcher, which every process runs (rows are
    claimed, never sent twice), and the scheduler, which only the lock holder runs."""

    def __init__(self, services: Services, connectors: Connectors, lock: LeaderLock) -> None:
        self.dispatcher = Dispatcher(services, connectors)
        self.scheduler = Scheduler(services, self.dispatcher.wake, lock)

    async def start(self) -> None:
        """Deliver, then schedule."""
        self.dispatcher.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        """Stop scheduling, then send for a moment what is due, then stop delivering."""
        await self.scheduler.stop()
        await self.dispatcher.stop(drain_s=DRAIN_S)


async def _run_console(
    kit: ConnectorKit,
    connectors: Connectors,
    background: Background,
    http: HttpServer,
    stopped: asyncio.Event,
) -> None:
    console = ConsoleConnector(kit)
    connectors.register("console", console)
    try:
        await http.start()
    except StartupError as error:  # trying Tocsin out must not hinge on a free port
        log.warning("no health endpoints: %s", error)
    await background.start()
    reading = asyncio.create_task(console.run())
    stopping = asyncio.create_task(stopped.wait())
    try:
        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, stopping):
            task.cancel()
        await background.stop()
        await http.stop()
    if reading.done() and not reading.cancelled():
        reading.result()  # the console's own failure, if any, is not swallowed


async def _stop_all(connectors: list[Connector]) -> None:
    for connector in reversed(connectors):
        try:
            await asyncio.wait_for(connector.stop(), timeout=STOP_TIMEOUT_S)
        except Exception:
            log.exception("a connector did not stop cleanly")


def _connected(connector: Connector) -> Callable[[], bool]:
    return lambda: connector.connected


def _chat_connectors(
    settings: Settings, kit: ConnectorKit, http: HttpServer
) -> list[tuple[str, Connector]]:
    # Each connector is imported only when configured: it pulls in a large library.
    connectors: list[tuple[str, Connector]] = []
    if settings.slack_enabled:
        from bot.connectors.slack.connector import SlackConnector

        connectors.append(("slack", SlackConnector(settings, kit, http.application)))
    if settings.matrix_enabled:
        from bot.connectors.matrix.connector import MatrixConnector

        connectors.append(("matrix", MatrixConnector(settings, kit)))
    return connectors


def readiness(
    services: Services,
    connectors: dict[str, Callable[[], bool]],
    scheduler_running: Callable[[], bool],
) -> Readiness:
    """Check the database, the connectors, the scheduler and the outbox backlog now."""
    database, backlog = True, queue.Backlog(0, 0, None)
    try:
        with services.transaction() as session:
            session.execute(text("SELECT 1"))
            backlog = queue.backlog(session=session)
    except Exception as error:
        log.warning("readiness: the database does not answer (%s)", type(error).__name__)
        database = False
    age = None
    if backlog.oldest_pending is not None:
        age = max((services.clock() - backlog.oldest_pending).total_seconds(), 0.0)
    return Readiness(
        database=database,
        connectors={name: connected() for name, connected in connectors.items()},
        scheduler=scheduler_running(),
        outbox_pending=backlog.pending,
        outbox_failed=backlog.dead,
        oldest_pending_seconds=age,
    )


def _stop_requested() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (a platform's stop, Ctrl-C)."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    return stopped


def run(settings: Settings) -> None:
    """`tocsin run`: start Tocsin and serve until input ends or the process is stopped."""
    with opened(settings) as app:
        # What start-up built (modules, world data, the playbook) lives as long as the process:
        # keep it out of the collector's sweeps, which otherwise pause commands for ~100 ms.
        gc.freeze()
        asyncio.run(run_connectors(settings, app))
