"""Load the playbook (the shipped default, or TOCSIN_PLAYBOOK) and check it against the world."""

from __future__ import annotations

from pathlib import Path

from bot.domain.playbook import Playbook
from bot.domain.world import World
from config.datafile import DataFile, load_data_file
from config.directory import known_institutions

DEFAULT_PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "default.yaml"


def load_playbook(world: World, path: Path | None = None) -> Playbook:
    """The validated playbook; DataFileError names the file, the line and what is accepted."""
    data_file = load_data_file(path or DEFAULT_PLAYBOOK, Playbook)
    _check_references(data_file, world)
    return data_file.model


def _check_references(data_file: DataFile[Playbook], world: World) -> None:
    institutions = set(known_institutions(world))
    for n, step in enumerate(data_file.model.steps):
        for group in sorted(step.when.country_in or ()):
            if group not in world.groups:
                raise data_file.error(
                    ("steps", n, "when", "country_in"),
                    f"unknown country group '{group}'; defined: {', '.join(sorted(world.groups))}",
                )
        for code in sorted(step.when.countries or ()):
            if code not in {c.alpha2 for c in world.countries}:
                raise data_file.error(
                    ("steps", n, "when", "countries"), f"'{code}' is not an ISO alpha-2 code"
                )
        chosen = step.targets.institutions if step.targets else None
        for institution in sorted(chosen or ()):
            if institution not in institutions:
                raise data_file.error(
                    ("steps", n, "targets", "institutions"),
                    f"unknown institution '{institution}'; "
                    f"accepted: {', '.join(sorted(institutions))}",
                )
