"""The key the Matrix store's own secrets (Olm account, sessions) are pickled under: random,
kept sealed under TOCSIN_DATA_KEY beside the store, never the library's default."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from bot.connectors.contract import Sealer

log = logging.getLogger(__name__)

FILE_NAME = "pickle-key.sealed"
# What matrix-nio pickles under when it is told nothing; stores made before Tocsin chose its own.
LIBRARY_DEFAULT = "DEFAULT_KEY"


def pickle_key(store: Path, sealer: Sealer) -> str:
    """The store's pickle key: made on first use, opened with the data key afterwards."""
    path = store / FILE_NAME
    if path.exists():
        return sealer.open(path.read_text().strip())
    if any(store.glob("*.db")):
        log.warning(
            "the Matrix store %s was made with the library's default pickle key: move it aside "
            "and start again (Tocsin makes a new device and signs it) to seal it under "
            "TOCSIN_DATA_KEY",
            store,
        )
        return LIBRARY_DEFAULT
    key = secrets.token_urlsafe(32)
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(sealer.seal(key))
    return key
