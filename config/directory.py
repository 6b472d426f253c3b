"""Read the organisation's contact directory from YAML or CSV; errors name the file and line."""

from __future__ import annotations

import csv
import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.domain.countries import UnknownCountryError
from bot.domain.directory import EMBASSY, Contact
from bot.domain.routing import OECD_NCP
from bot.domain.world import World
from config.datafile import DataFileError, load_data_file

MAX_DIRECTORY_BYTES = 5_000_000
FIELDS = tuple(Contact.model_fields)


class DirectoryFile(BaseModel):
    """A YAML directory: `contacts:` followed by one mapping a contact (checked row by row)."""

    model_config = ConfigDict(extra="forbid")

    contacts: list[dict[str, Any]]


def known_institutions(world: World) -> list[str]:
    """Every institution id a contact may belong to."""
    ids = [EMBASSY, OECD_NCP]
    ids += [
        i.id for i in (*world.un.mandates, *world.regional.bodies, *world.support.organisations)
    ]
    ids += [m.id for m in world.mechanisms.mechanisms]
    return ids


def read_directory(path: Path, world: World) -> list[Contact]:
    """Every contact in the file, validated; DataFileError names the first bad line."""
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
    elif path.suffix.lower() in (".yaml", ".yml"):
        rows = _yaml_rows(path)
    else:
        raise DataFileError(f"{path}: use a .yaml, .yml or .csv file")
    return [_contact(path, line, row, world) for line, row in rows]


def _yaml_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    data_file = load_data_file(path, DirectoryFile)
    return [
        (data_file.lines.get(("contacts", n), 1), row)
        for n, row in enumerate(data_file.model.contacts)
    ]


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            unknown = [f for f in reader.fieldnames or () if f.strip() not in FIELDS]
            if unknown:
                raise DataFileError(
                    f"{path}:1: column '{unknown[0]}' is not a contact field; "
                    f"accepted: {', '.join(FIELDS)}"
                )
            rows = []
            for row in reader:
                cleaned = {k.strip(): v for k, v in row.items() if k and v and v.strip()}
                if "languages" in cleaned:
                    cleaned["languages"] = [
                        p.strip()
                        for p in cleaned["languages"].replace(";", ",").split(",")
                        if p.strip()
                    ]
                rows.append((reader.line_num, cleaned))
            return rows
    except OSError as error:
        raise DataFileError(f"{path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: is not UTF-8 text") from None


def _contact(path: Path, line: int, row: dict[str, Any], world: World) -> Contact:
    where = f"{path}:{line}"
    try:
        if row.get("country"):
            row = {**row, "country": world.countries.resolve(str(row["country"])).alpha2}
        contact = Contact.model_validate(row)
    except UnknownCountryError as error:
        raise DataFileError(f"{where}: country: {error}") from None
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        field = ".".join(str(p) for p in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = f"is not a contact field; accepted: {', '.join(FIELDS)}"
        raise DataFileError(f"{where}: {field}: {message}") from None
    _check_institution(where, contact, world)
    return contact


def _check_institution(where: str, contact: Contact, world: World) -> None:
    known = known_institutions(world)
    if contact.institution not in known:
        close = difflib.get_close_matches(contact.institution, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise DataFileError(
            f"{where}: institution: '{contact.institution}' is not known{hint}; "
            f"accepted: {', '.join(known)}"
        )
    if contact.institution == EMBASSY and not (contact.government and contact.country):
        raise DataFileError(
            f"{where}: an embassy contact needs government (whose mission, e.g. CA or EU) "
            "and country (where the mission is)"
        )
    if contact.institution == OECD_NCP and not contact.country:
        raise DataFileError(f"{where}: a National Contact Point contact needs country")
