"""A real Synapse homeserver on a loopback port, for the Matrix tests and benchmark.

Started from the `matrix-synapse` package with SQLite, registration only through the shared secret,
no federation, and rate limits relaxed so tests are not slowed by them. It can be stopped and
started again on the same port and data, as a homeserver restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.ports import free_port

SERVER_NAME = "tocsin.test"
STARTUP_TIMEOUT_S = 60.0
_GENEROUS = {"per_second": 1000, "burst_count": 1000}


class SynapseServer:
    """One Synapse process on 127.0.0.1; `start`, `stop`, `register`."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.shared_secret = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._log = folder / "synapse.log"

    @property
    def url(self) -> str:
        """The client-server API base URL."""
        return f"http://127.0.0.1:{self.port}"

    def user_id(self, localpart: str) -> str:
        """The full Matrix user ID for a local user."""
        return f"@{localpart}:{SERVER_NAME}"

    def start(self) -> None:
        """Start Synapse and wait until it answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "homeserver.json"
        if not config.exists():
            self._write_signing_key()
            config.write_text(json.dumps(self._config(), indent=1))
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)],
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SYNAPSE_ASYNC_IO_REACTOR": "0"},
            )
        self._wait_until_up()

    def stop(self) -> None:
        """Stop Synapse (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop and start again on the same port and data."""
        self.stop()
        self.start()

    def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Create a user through the shared-secret admin API; returns the user ID."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = self._get(endpoint)["nonce"]
        message = "\0".join([nonce, localpart, password, "admin" if admin else "notadmin"])
        mac = hmac.new(self.shared_secret.encode(), message.encode(), hashlib.sha1).hexdigest()
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac,
        }
        request = urllib.request.Request(
            endpoint,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["user_id"])

    def log_tail(self, lines: int = 40) -> str:
        """The end of Synapse's log, for a failing test's message."""
        if not self._log.exists():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def _get(self, url: str) -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=30) as response:
            return dict(json.load(response))

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"Synapse exited at start:\n{self.log_tail()}")
            try:
                self._get(f"{self.url}/_matrix/client/versions")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"Synapse did not answer in {STARTUP_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def _write_signing_key(self) -> None:
        from signedjson.key import generate_signing_key, write_signing_keys

        with (self.folder / "signing.key").open("w") as key_file:
            write_signing_keys(key_file, [generate_signing_key("a_test")])

    def _config(self) -> dict[str, Any]:
        folder = self.folder
        return {
            "server_name": SERVER_NAME,
            "pid_file": str(folder / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
            "media_store_path": str(folder / "media"),
            "signing_key_path": str(folder / "signing.key"),
            "registration_shared_secret": self.shared_secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            "enable_metrics": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "rc_message": _GENEROUS,
            "rc_registration": _GENEROUS,
            "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
            "rc_joins_per_room": _GENEROUS,
            "rc_invites": {
                "per_room": _GENEROUS,
                "per_user": _GENEROUS,
                "per_issuer": _GENEROUS,
            },
            "rc_login": {
                "address": _GENEROUS,
                "account": _GENEROUS,
                "failed_attempts": _GENEROUS,
            },
            "rc_key_requests": _GENEROUS,
            "rc_admin_redaction": _GENEROUS,
            "rc_3pid_validation": _GENEROUS,
            "rc_delayed_event_mgmt": _GENEROUS,
            "rc_room_creation": _GENEROUS,
            "rc_reports": _GENEROUS,
        }
