"""The README's promise: piping commands into `make run` opens and lists a case."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from bot.store.db import create_database_engine
from bot.store.migrate import alembic_config, upgrade_to_head
from tests.conftest import isolated_environment


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_piped_commands_into_make_run_open_and_list_a_case(
    project_root: Path, tmp_path: Path
) -> None:
    environment = isolated_environment(tmp_path / "tocsin.db")
    script = (
        "ua new country=HN threats=arbitrary_detention profiles=journalist "
        'summary="held at a police station"\nua list\n'
    )
    result = subprocess.run(
        ["make", "-s", "run"],
        input=script,
        capture_output=True,
        text=True,
        cwd=project_root,
        env=environment,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    code = result.stdout.split("Opened ", 1)[1].split()[0]
    assert code.startswith("UA-") and code.endswith("-0001")
    assert f"{code}  HIGH      Honduras  arbitrary detention" in result.stdout


def test_migrations_downgrade_to_nothing_and_back(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'round.db'}")
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    upgrade_to_head(engine)
    assert "cases" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_console_stops_on_sigterm_while_it_waits_for_input(tmp_path: Path) -> None:
    """A platform's stop ends a console Tocsin cleanly too, though no input ever ends."""
    environment = isolated_environment(tmp_path / "tocsin.db")
    run = [sys.executable, "-m", "bot"]
    subprocess.run([*run, "migrate"], env=environment, cwd=tmp_path, check=True, timeout=60)
    process = subprocess.Popen(
        [*run, "run"],
        env=environment,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("ua list\n")
    process.stdin.flush()
    assert process.stdout.readline().startswith("No open cases")  # up and answering
    process.terminate()  # the input stays open: only the signal can end it
    stopping = time.monotonic()
    _, errors = process.communicate(timeout=15)
    assert time.monotonic() - stopping < 10, "a platform kills what takes longer"
    assert process.returncode == 0, errors
