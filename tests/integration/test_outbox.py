"""The outbox: written with the change, delivered in order per destination, retried, and
dead-lettered only for good reasons; on PostgreSQL two dispatchers never take the same row."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from bot.connectors.contract import DeliveryFailed
from bot.domain.access import principal
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.wire import message_from_json
from bot.domain.world import World
from bot.outbox import queue
from bot.outbox.dispatcher import Connectors, Dispatcher
from bot.outbox.ledger import Ledger
from bot.store.models import OutboxMessage
from handlers.commands import handle_line
from handlers.context import Services
from tests.conftest import OPENED_AT, FrozenClock
from tests.factories import TEST_ADMIN, bind_place, committing_services, fresh_services
from tests.integration.test_cli import tocsin

A, B = Place("console", "room-a"), Place("console", "room-b")
NEW = 'ua new country=HN threats=raid summary="office raided (fictional)"'
NEW_TOO = 'ua new country=GT threats=raid summary="another office raided (fictional)"'


@pytest.fixture
def real(tmp_path: Path, world: World, playbook: Playbook) -> Iterator[Services]:
    """Services that really commit (the dispatcher works from threads of its own), with a
    clock the test moves."""
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    yield replace(services, clock=FrozenClock())
    engine.dispose()


def note(text: str) -> Message:
    return Message(fallback=text)


class Recorder:
    """A connector that records sends and fails as told, per message text."""

    def __init__(self, failures: dict[str, DeliveryFailed] | None = None) -> None:
        self.sent: list[tuple[str, str, str | None]] = []
        self.failures = dict(failures or {})

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        failure = self.failures.pop(message.fallback, None)
        if failure is not None:
            raise failure
        self.sent.append((place.address, message.fallback, key))


def fill(services: Services, items: list[tuple[Place, str]]) -> None:
    with services.transaction() as session:
        for place, text in items:
            queue.enqueue(session=session, place=place, message=note(text), now=services.clock())


def dispatcher(services: Services, recorder: Recorder) -> Dispatcher:
    connectors = Connectors()
    connectors.register("console", recorder)
    return Dispatcher(services, connectors, seed=1)


async def test_rows_go_in_order_per_destination_with_their_delivery_keys(
    real: Services,
) -> None:
    services = real
    fill(services, [(A, "a1"), (B, "b1"), (A, "a2"), (B, "b2"), (A, "a3")])
    recorder = Recorder()
    assert await dispatcher(services, recorder).deliver_due() == 5
    for room, texts in (("room-a", ["a1", "a2", "a3"]), ("room-b", ["b1", "b2"])):
        assert [text for where, text, _ in recorder.sent if where == room] == texts
    assert all(key and key.startswith("outbox:") for _, _, key in recorder.sent)
    with services.transaction() as session:
        assert queue.backlog(session=session).pending == 0


async def test_a_failure_holds_its_destination_only_and_is_retried_later(
    real: Services,
) -> None:
    services, clock = real, real.clock
    assert isinstance(clock, FrozenClock)
    fill(services, [(A, "a1"), (A, "a2"), (B, "b1")])
    recorder = Recorder({"a1": DeliveryFailed("Slack: ratelimited", retry_after=30)})
    sender = dispatcher(services, recorder)
    await sender.deliver_due()
    assert [text for _, text, _ in recorder.sent] == ["b1"]  # a2 waits behind a1
    clock.advance(seconds=29)
    await sender.deliver_due()
    assert len(recorder.sent) == 1  # Retry-After is honoured
    clock.advance(seconds=2)
    await sender.deliver_due()
    assert [text for _, text, _ in recorder.sent] == ["b1", "a1", "a2"]
    with services.transaction() as session:
        sent = queue.rows(session=session, status=queue.SENT)
        assert [r.attempts for r in sent] == [2, 1, 1]  # a1, a2, b1 in the order written
        assert all(r.payload == {} for r in sent)  # delivered: the text is not kept


async def test_a_permanent_failure_goes_to_the_dead_letters_and_can_be_retried(
    real: Services,
) -> None:
    services = real
    fill(services, [(A, "a1"), (A, "a2")])
    recorder = Recorder({"a1": DeliveryFailed("Slack: is_archived", permanent=True)})
    sender = dispatcher(services, recorder)
    await sender.deliver_due()
    assert [text for _, text, _ in recorder.sent] == ["a2"]
    with services.transaction() as session:
        [dead] = queue.rows(session=session, status=queue.DEAD)
        assert dead.last_error == "Slack: is_archived"
        assert queue.backlog(session=session).dead == 1
        assert queue.retry_dead(session=session, now=services.clock()) == 1
    await sender.deliver_due()
    assert [text for _, text, _ in recorder.sent] == ["a2", "a1"]


async def test_the_dispatcher_delivers_what_a_change_wrote_without_being_asked(
    real: Services,
) -> None:
    services = real
    recorder = Recorder()
    sender = dispatcher(services, recorder)
    sender.start()
    try:
        fill(services, [(A, "woken")])
        services.changes.notify()
        for _ in range(100):
            if recorder.sent:
                break
            await asyncio.sleep(0.05)
        assert [text for _, text, _ in recorder.sent] == ["woken"]
    finally:
        await sender.stop()


def test_two_dispatchers_never_claim_the_same_row(
    migrated_engine: Engine, world: World, playbook: Playbook
) -> None:
    if migrated_engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    at = OPENED_AT
    services = committing_services(migrated_engine, world, playbook, at)
    rooms = (Place("console", "skip-locked-a"), Place("console", "skip-locked-b"))
    try:
        fill(services, [(rooms[0], "a1"), (rooms[1], "b1")])
        with Session(migrated_engine) as first, Session(migrated_engine) as second:
            mine = queue.claim(session=first, now=at)  # not committed: rows locked
            theirs = queue.claim(session=second, now=at)  # skips them, never waits
            addresses = {d.place.address for batch in mine for d in batch}
            assert {r.address for r in rooms} <= addresses
            assert not {d.place.address for b in theirs for d in b} & addresses
            first.commit()  # leased for LEASE
            second.rollback()
            assert queue.claim(session=second, now=at) == []
            later = queue.claim(session=second, now=at + queue.LEASE + timedelta(seconds=1))
            assert {r.address for r in rooms} <= {d.place.address for b in later for d in b}
            second.rollback()
    finally:
        with migrated_engine.begin() as connection:
            connection.execute(
                delete(OutboxMessage).where(OutboxMessage.address.in_([r.address for r in rooms]))
            )


def test_tocsin_outbox_lists_pending_and_failed_rows(tmp_path: Path) -> None:
    workdir = tmp_path
    assert tocsin(workdir, "migrate").returncode == 0
    empty = tocsin(workdir, "outbox")
    assert empty.returncode == 0 and "0 pending; 0 failed" in empty.stdout
    bad = tocsin(workdir, "outbox", "--retry", "x")
    assert bad.returncode == 2 and "--retry takes a row number" in bad.stderr
    retried = tocsin(workdir, "outbox", "--retry", "all")
    assert retried.returncode == 0 and retried.stdout.startswith("0 failed message(s)")


async def test_a_card_reply_is_in_the_outbox_and_sent_once_whoever_sends_it(
    real: Services,
) -> None:
    services, clock = real, real.clock
    assert isinstance(clock, FrozenClock)
    room = Place("console", "stdin")
    opened = handle_line(NEW, actor="console:ana", place=room, services=services)
    later = handle_line(NEW_TOO, actor="console:ana", place=room, services=services)
    assert opened is not None and later is not None
    assert opened.outbox_key and later.outbox_key  # written with the case it announces
    recorder = Recorder()
    sender = dispatcher(services, recorder)
    assert await sender.deliver_due() == 0  # the answering connector has a grace to post it
    await Ledger(services).delivered(opened.outbox_key)  # it posted the first …
    clock.advance(seconds=6)
    assert await sender.deliver_due() == 1  # … and died before the second: the outbox sends it
    assert [key for _, _, key in recorder.sent] == [later.outbox_key]
    assert recorder.sent[0][1].startswith("Opened UA-2026-0002")


async def test_a_row_held_by_the_answering_connector_is_left_alone_then_marked_maybe_sent(
    real: Services,
) -> None:
    """The connector holds the row while it posts; if it never reports back (killed), the
    dispatcher takes the row after the lease, told that it may already be posted."""
    services, clock = real, real.clock
    assert isinstance(clock, FrozenClock)
    opened = handle_line(NEW, actor="console:ana", place=A, services=services)
    assert opened is not None and opened.outbox_key
    posted = Ledger(services)
    assert await posted.take(opened.outbox_key)
    assert not await posted.take(opened.outbox_key), "held once, by one poster"
    clock.advance(seconds=6)  # past the reply grace, within the lease
    with services.transaction() as session:
        assert queue.claim(session=session, now=clock()) == []
    clock.advance(seconds=10)  # the lease lapsed: whoever held it is gone
    with services.transaction() as session:
        [[item]] = queue.claim(session=session, now=clock())
    assert item.key == opened.outbox_key and item.maybe_sent


async def test_a_refused_post_is_given_back_and_is_not_taken_for_maybe_sent(
    real: Services,
) -> None:
    services, clock = real, real.clock
    assert isinstance(clock, FrozenClock)
    opened = handle_line(NEW, actor="console:ana", place=A, services=services)
    assert opened is not None and opened.outbox_key
    posted = Ledger(services)
    assert await posted.take(opened.outbox_key)
    await posted.give_back(opened.outbox_key)
    clock.advance(seconds=6)
    with services.transaction() as session:
        [[item]] = queue.claim(session=session, now=clock())
    assert item.key == opened.outbox_key and not item.maybe_sent


@pytest.mark.parametrize(
    "command",
    ["ua bind Fictional team", "ua disclosure standard", "ua role everyone observer", "ua unbind"],
)
def test_admin_confirmations_are_written_to_the_outbox_with_the_change(
    real: Services, command: str
) -> None:
    room = Place("slack", "C77")
    if command != "ua bind Fictional team":
        bind_place(real, room)
    admin = replace(real, admins=frozenset({principal("slack", TEST_ADMIN)}))
    reply = handle_line(command, actor=TEST_ADMIN, place=room, services=admin)
    assert reply is not None and reply.public and reply.outbox_key, reply
    with real.transaction() as session:
        row = session.get(OutboxMessage, queue.row_id(reply.outbox_key))
        assert row is not None and (row.platform, row.address) == ("slack", "C77")
        assert message_from_json(row.payload).fallback == reply.fallback


def test_the_notice_of_a_likely_duplicate_is_written_to_the_outbox(real: Services) -> None:
    alert = 'ua new country=HN threats=raid defender="Fictional Person" summary="office raided"'
    handle_line(alert, actor="console:ana", place=A, services=real)
    again = handle_line(alert, actor="console:bo", place=A, services=real)
    assert again is not None and again.fallback.startswith("Not opened: this looks like")
    assert again.outbox_key


async def test_an_answer_does_not_overtake_older_messages_waiting_for_its_place(
    real: Services,
) -> None:
    """While a place's queue is held up (Slack was down), the answering connector leaves a new
    card to the dispatcher, which sends it right after the older rows, in order."""
    fill(real, [(A, "an older reminder")])
    opened = handle_line(NEW, actor="console:ana", place=A, services=real)
    assert opened is not None and opened.outbox_key
    assert not await Ledger(real).take(opened.outbox_key)
    recorder = Recorder()
    assert await dispatcher(real, recorder).deliver_due() == 2  # no 5 s grace: due at once
    assert [text.split(":")[0] for _, text, _ in recorder.sent] == [
        "an older reminder",
        "Opened UA-2026-0001",
    ]


def test_dead_letters_are_in_the_digest(real: Services) -> None:
    fill(real, [(A, "a note for a room that is gone")])
    with real.transaction() as session:
        [[item]] = queue.claim(session=session, now=real.clock())
        queue.mark_failed(
            session=session,
            row_id=item.id,
            now=real.clock(),
            error="Slack: is_archived",
            retry_at=None,
        )
    room = Place("slack", "C5")
    bind_place(real, room)
    digest = handle_line("ua digest", actor="slack:U1", place=room, services=real)
    assert digest is not None
    assert "console:room-a: 1 — Slack: is_archived" in str(digest.blocks)
    assert "tocsin outbox --failed" in str(digest.blocks)
