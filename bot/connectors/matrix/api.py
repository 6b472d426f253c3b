"""The few client-server API calls nio has no method for (cross-signing, secret storage), as
plain JSON over nio's own HTTP session and access token."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from nio import AsyncClient

JsonObject = dict[str, Any]
PREFIX = "/_matrix/client/v3"


class HomeserverError(RuntimeError):
    """The homeserver answered with an error the caller did not expect."""

    def __init__(self, status: int, body: JsonObject) -> None:
        super().__init__(f"{status} {body.get('errcode', '')}: {body.get('error', '')}".strip())
        self.status = status
        self.body = body


class ClientApi:
    """JSON calls as the logged-in device."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def call(
        self, method: str, path: str, body: JsonObject | None = None
    ) -> tuple[int, JsonObject]:
        """The status and JSON body of one call (`path` after /_matrix/client/v3)."""
        client = self._client
        if client.client_session is None:
            await client.whoami()  # nio opens its HTTP session on its first call
        headers = {"Authorization": f"Bearer {client.access_token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        data = json.dumps(body) if body is not None else None
        response = await client.send(method, PREFIX + path, data, headers)
        async with response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = {}
        return response.status, answer if isinstance(answer, dict) else {}

    async def ok(self, method: str, path: str, body: JsonObject | None = None) -> JsonObject:
        """The JSON body of a call that must succeed; HomeserverError otherwise."""
        status, answer = await self.call(method, path, body)
        if status != 200:
            raise HomeserverError(status, answer)
        return answer

    async def account_data(self, event_type: str) -> JsonObject | None:
        """The account's data of one type, None when it has none."""
        status, answer = await self.call("GET", self._account_data_path(event_type))
        if status == 404:
            return None
        if status != 200:
            raise HomeserverError(status, answer)
        return answer

    async def set_account_data(self, event_type: str, content: JsonObject) -> None:
        await self.ok("PUT", self._account_data_path(event_type), content)

    async def query_keys(self, users: list[str]) -> JsonObject:
        """Device and cross-signing keys of `users`, as the homeserver holds them now."""
        return await self.ok("POST", "/keys/query", {"device_keys": {u: [] for u in users}})

    def _account_data_path(self, event_type: str) -> str:
        user = quote(str(self._client.user_id), safe="")
        return f"/user/{user}/account_data/{quote(event_type, safe='')}"
