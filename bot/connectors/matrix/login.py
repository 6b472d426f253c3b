"""Logging the bot in: the same device on every start, and a store only this user can read."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from nio import AsyncClient, LoginError, WhoamiError, WhoamiResponse

from bot.connectors.matrix import credentials
from bot.errors import StartupError
from config.settings import Settings

log = logging.getLogger(__name__)

LOGIN_TIMEOUT_S = 30.0
DEVICE_NAME = "Tocsin"


def secure_store(store: Path) -> None:
    """Create the store folder, or tighten it: the keys in it read every room's history."""
    store.mkdir(parents=True, exist_ok=True)
    if store.stat().st_uid != os.getuid():
        raise StartupError(
            f"MATRIX_STORE_PATH {store} belongs to another user: give it to the user Tocsin runs as"
        )
    store.chmod(0o700)
    for path in store.iterdir():
        if path.is_file():
            path.chmod(0o600)


async def log_in(client: AsyncClient, settings: Settings) -> None:
    """Restore the saved device (or the configured token), else log in with the password once.

    Raises StartupError, saying what to fix, when the homeserver refuses or cannot be reached."""
    await _check_reachable(settings)
    assert settings.matrix_user_id is not None
    if settings.matrix_access_token is not None:
        assert settings.matrix_device_id is not None
        client.restore_login(
            settings.matrix_user_id,
            settings.matrix_device_id,
            settings.matrix_access_token.get_secret_value(),
        )
        identity = await _whoami(client, settings)
        if identity is None:
            raise StartupError(
                "the Matrix homeserver refused MATRIX_ACCESS_TOKEN: log in again and set a fresh "
                "token, or use MATRIX_PASSWORD"
            )
        _check_identity(identity, settings.matrix_user_id, settings.matrix_device_id)
        return
    store = settings.matrix_store_path
    saved = credentials.load(store, settings.matrix_user_id)
    if saved is not None:
        client.restore_login(saved.user_id, saved.device_id, saved.access_token)
        identity = await _whoami(client, settings)
        if identity is not None:
            _check_identity(identity, saved.user_id, saved.device_id)
            return
        log.warning("Tocsin's Matrix session was signed out: logging in as a new device")
        _forget_device(client)
    await _password_login(client, settings)


def _forget_device(client: AsyncClient) -> None:
    """Drop a signed-out device entirely: reusing its ID would bring it back without keys on the
    server, unable to read any encrypted room. Its key file stays in the store, unused."""
    client.device_id = None
    client.access_token = ""
    client.store = None
    client.olm = None


def _check_identity(response: WhoamiResponse, user_id: str, device_id: str) -> None:
    """The token must belong to the configured user and device, or the keys would not."""
    if response.user_id != user_id or (response.device_id and response.device_id != device_id):
        raise StartupError(
            f"the Matrix token belongs to {response.user_id} device {response.device_id}, not "
            f"{user_id} device {device_id}: set MATRIX_USER_ID and MATRIX_DEVICE_ID to match"
        )


async def _password_login(client: AsyncClient, settings: Settings) -> None:
    assert settings.matrix_password is not None
    password = settings.matrix_password.get_secret_value()
    response = await _within_timeout(client.login(password, device_name=DEVICE_NAME), settings)
    if isinstance(response, LoginError):
        raise StartupError(
            f"the Matrix homeserver refused the login of {settings.matrix_user_id} "
            f"({response.status_code}: {response.message}): check MATRIX_USER_ID and "
            "MATRIX_PASSWORD"
        )
    credentials.save(
        settings.matrix_store_path,
        credentials.Credentials(
            user_id=str(client.user_id),
            device_id=str(client.device_id),
            access_token=str(client.access_token),
        ),
    )


async def _whoami(client: AsyncClient, settings: Settings) -> WhoamiResponse | None:
    """Whom the token belongs to; None only when the homeserver says the token is unknown. Any
    other error stops the start: logging in again would make a new device with new keys."""
    response = await _within_timeout(client.whoami(), settings)
    if not isinstance(response, WhoamiError):
        return response
    if response.status_code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
        return None
    raise StartupError(
        f"the Matrix homeserver could not check Tocsin's login ({response.status_code}: "
        f"{response.message}): try again when it is healthy"
    )


async def _check_reachable(settings: Settings) -> None:
    url = f"{settings.matrix_homeserver}/_matrix/client/versions"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=LOGIN_TIMEOUT_S)) as http,
            http.get(url) as response,
        ):
            reachable = response.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        reachable = False
    if not reachable:
        raise StartupError(
            f"no Matrix homeserver answers at {settings.matrix_homeserver}: check "
            "MATRIX_HOMESERVER (https://matrix.example.org) and the network"
        )


async def _within_timeout(call: Awaitable[Any], settings: Settings) -> Any:
    try:
        return await asyncio.wait_for(call, timeout=LOGIN_TIMEOUT_S)
    except TimeoutError:
        raise StartupError(
            f"the Matrix homeserver at {settings.matrix_homeserver} cannot be reached: "
            "check MATRIX_HOMESERVER and the network"
        ) from None
