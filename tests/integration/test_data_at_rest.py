"""Encryption at rest: a defender's name and story never lie in the database in clear."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, Text, select
from sqlalchemy.orm import Session

from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.data_keys import reseal, sealed_columns
from bot.store.models import Case, Defender
from bot.store.sealing import generate_key, is_sealed, use_keys
from handlers.commands import handle_line
from handlers.context import Services
from handlers.intake import open_case_from_alert
from tests.conftest import POSTGRES_URL, TEST_DATA_KEY, isolated_environment
from tests.factories import (
    committing_services,
    fresh_services,
    pg_dump,
    remove_committed_cases,
)
from tests.integration.test_cli import tocsin, write_alert

NAME = "Ana Fictional-Sealed"
ORGANISATION = "Radio Ejemplo Sellada"
STORY = "Taken from the Fictional-Sealed radio station at dawn"
NOTE = "Lawyer Fictional-Sealed reached by phone"
ALERT = {
    "country": "HN",
    "profiles": ["journalist"],
    "threats": ["arbitrary_detention"],
    "summary": STORY,
    "defender": {"name": NAME, "organisation": ORGANISATION},
}
ROOM = Place("console", "sealed-room")
SECRETS = (NAME, ORGANISATION, STORY, NOTE, "Fictional-Sealed")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def keys_restored() -> Iterator[None]:
    yield
    use_keys([TEST_DATA_KEY])


def open_named_case(services: Services) -> str:
    code = open_case_from_alert(ALERT, actor="console:ana", place=ROOM, services=services).code
    reply = handle_line(
        f"ua done {code} 1 {NOTE}", actor="console:ana", place=ROOM, services=services
    )
    assert reply is not None and not reply.is_error
    return code


def test_the_sqlite_file_holds_no_name_summary_or_note(
    tmp_path: Path, world: World, playbook: Playbook
) -> None:
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    try:
        open_named_case(services)
        with services.transaction() as session:
            assert session.scalars(select(Defender.name)).one() == NAME
            assert session.scalars(select(Case.summary)).one() == STORY
    finally:
        engine.dispose()  # checkpoints the write-ahead log into the file
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("tocsin.db*"))
    for secret in SECRETS:
        assert secret.encode() not in stored, secret


def test_a_postgresql_dump_holds_no_name_summary_or_note(
    migrated_engine: Engine, world: World, playbook: Playbook
) -> None:
    if migrated_engine.dialect.name != "postgresql":
        pytest.skip("the dump is PostgreSQL's")
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    real = committing_services(migrated_engine, world, playbook, datetime(2032, 3, 1, tzinfo=UTC))
    schema = migrated_engine.dialect.default_schema_name
    search_path = migrated_engine.url.query.get("options")
    try:
        open_named_case(real)
        dump = pg_dump(POSTGRES_URL)
        assert "UA-2032-0001" in dump, (schema, search_path)
        for secret in SECRETS:
            assert secret not in dump, secret
    finally:
        remove_committed_cases(migrated_engine, year=2032, room=ROOM.address)


def test_values_stored_in_clear_before_are_sealed_and_still_read(
    tmp_path: Path, world: World, playbook: Playbook
) -> None:
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    try:
        open_named_case(services)
        with engine.begin() as connection:  # as a database from before encryption held it
            connection.execute(sa.update(Defender).values(name=sa.type_coerce(NAME, Text)))
        assert reseal(engine, clear_only=True) == 1
        assert reseal(engine, clear_only=True) == 0
        with services.transaction() as session:
            assert session.scalars(select(Defender.name)).one() == NAME
        assert all_sealed(engine)
    finally:
        engine.dispose()


def all_sealed(engine: Engine) -> bool:
    with engine.connect() as connection:
        for _table, column in sealed_columns():
            raw = sa.type_coerce(column, Text)
            for (stored,) in connection.execute(select(raw).where(raw.is_not(None))):
                if not is_sealed(stored):
                    return False
    return True


def test_keys_rotate_and_the_old_key_can_then_go(workdir: Path, keys_restored: None) -> None:
    old, new = generate_key(), generate_key()
    assert tocsin(workdir, "migrate", TOCSIN_DATA_KEY=old).returncode == 0
    opened = tocsin(workdir, "alert", "new", write_alert(workdir, ALERT), TOCSIN_DATA_KEY=old)
    assert opened.returncode == 0, opened.stderr
    rotated = tocsin(workdir, "keys", "rotate", TOCSIN_DATA_KEY=f"{new},{old}")
    assert rotated.returncode == 0 and "re-encrypted" in rotated.stderr
    refused = tocsin(workdir, "reminders", TOCSIN_DATA_KEY=old)
    assert refused.returncode == 2 and "cannot open the stored data" in refused.stderr
    assert tocsin(workdir, "reminders", TOCSIN_DATA_KEY=new).returncode == 0
    engine = sa.create_engine(f"sqlite:///{workdir / 'tocsin.db'}")
    use_keys([new])
    with Session(engine) as session:
        assert session.scalars(select(Defender.name)).one() == NAME
    engine.dispose()


def test_a_first_start_writes_a_key_to_dotenv_and_production_refuses_without_one(
    workdir: Path,
) -> None:
    first = tocsin(workdir, "migrate", TOCSIN_DATA_KEY="")
    assert first.returncode == 0, first.stderr
    assert "written to .env" in first.stderr
    env_file = workdir / ".env"
    assert env_file.stat().st_mode & 0o077 == 0
    assert env_file.read_text().count("TOCSIN_DATA_KEY=") == 1
    again = tocsin(workdir, "migrate", TOCSIN_DATA_KEY="")
    assert again.returncode == 0 and "written to .env" not in again.stderr
    assert env_file.read_text().count("TOCSIN_DATA_KEY=") == 1
    opened = tocsin(workdir, "alert", "new", write_alert(workdir, ALERT), TOCSIN_DATA_KEY="")
    assert opened.returncode == 0, opened.stderr

    elsewhere = workdir / "production"
    elsewhere.mkdir()
    refused = tocsin(elsewhere, "migrate", TOCSIN_DATA_KEY="", TOCSIN_ENV="production")
    assert refused.returncode == 2
    assert "production needs the key" in refused.stderr and "Traceback" not in refused.stderr
    assert not (elsewhere / ".env").exists()
    env_file.rename(workdir / "key-backup")  # the key lost: the files are there, unreadable
    unset = tocsin(workdir, "reminders", TOCSIN_DATA_KEY="")
    assert unset.returncode == 2 and "TOCSIN_DATA_KEY is not set" in unset.stderr


def test_a_malformed_key_is_named_in_one_line(workdir: Path) -> None:
    result = tocsin(workdir, "migrate", TOCSIN_DATA_KEY="not-a-key")
    assert result.returncode == 2
    assert "TOCSIN_DATA_KEY" in result.stderr and "tocsin keys new" in result.stderr
    assert result.stderr.count("\n") == 1


def test_isolated_environment_can_drop_the_key() -> None:
    assert "TOCSIN_DATA_KEY" not in isolated_environment(Path("x.db"), TOCSIN_DATA_KEY="")
