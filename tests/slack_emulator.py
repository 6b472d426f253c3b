"""A local Slack: the Web API methods Tocsin calls, Socket Mode over a WebSocket, signed HTTP
delivery, Block Kit limits checked on every payload, 429s on demand, and a record of what was
posted. Used by the end-to-end tests; it never talks to the real Slack."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

LIMITS = {"blocks": 50, "section": 3000, "header": 150, "button": 75, "modal_title": 24}


@dataclass
class Call:
    """One Web API call as the emulator received it, and when (time.monotonic())."""

    method: str
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Upload:
    """A file uploaded with files_upload_v2: its bytes, and where it was shared (once complete)."""

    file_id: str
    filename: str
    alt_txt: str | None
    length: int
    data: bytes = b""
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None


@dataclass
class SlackEmulator:
    """Start with `await emulator.start()`; point SLACK_API_URL at `emulator.api_url`."""

    bot_token: str = "xoxb-emulated"
    app_token: str = "xapp-emulated"
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    acks: dict[str, float] = field(default_factory=dict)
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _broken: dict[str, str] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _pushed: dict[str, float] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0
    #: Channels the bot is not a member of: posting there fails with not_in_channel.
    closed_channels: set[str] = field(default_factory=set)
    #: Messages someone deleted: updating them fails with message_not_found.
    deleted: set[str] = field(default_factory=set)
    #: Every message in every channel, oldest first, as conversations.history reads them.
    messages: list[dict[str, Any]] = field(default_factory=list)
    _outage_until: float = 0.0
    _outage_calls: itertools.count[int] = field(default_factory=itertools.count)
    _outage_retry_after: int = 1
    #: How long each chat.postMessage takes to answer, once the message is posted (a slow
    #: Slack: a client killed meanwhile never learns its message went out).
    post_latency_s: float = 0.0
    #: Posts made whose answer is still on its way (see post_latency_s).
    unanswered: int = 0
    #: Files by id, as files.getUploadURLExternal gave them out.
    uploads: dict[str, Upload] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> None:
        application = web.Application()
        application.router.add_route("*", "/api/{method}", self._api)
        application.router.add_get("/socket", self._socket)
        application.router.add_post("/respond", self._respond)
        application.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(application)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, *, times: int, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After."""
        self._failures[method] = [retry_after] * times

    def break_method(self, method: str, error: str = "internal_error") -> None:
        """Make every later call of `method` fail with `error` (a Slack outage, a missing scope)."""
        self._broken[method] = error

    def outage(self, seconds: float, *, retry_after: int = 1) -> None:
        """For `seconds`, answer every chat.* call with HTTP 500 or 429 (Retry-After), in turn:
        Slack having an incident."""
        self._outage_until = time.monotonic() + seconds
        self._outage_retry_after = retry_after

    def in_outage(self) -> bool:
        return time.monotonic() < self._outage_until

    def shared_files(self, channel: str | None = None) -> list[Upload]:
        """Files whose upload was completed into a channel (this one, if given), in order."""
        return [
            u
            for u in self.uploads.values()
            if u.channel is not None and channel in (None, u.channel)
        ]

    def posted(self, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posted(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{count} x {method} expected; calls: {[c.method for c in self.calls]}"
                )
            await asyncio.sleep(0.02)
        return self.posted(method)

    # --- Web API -----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or args.get(
            "token", ""
        )
        if token not in (self.bot_token, self.app_token):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        pending = self._failures.get(method)
        if pending:
            retry_after = pending.pop(0)
            self.calls.append(Call(f"{method}#429", args))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if method.startswith("chat.") and self.in_outage():
            return self._outage_answer(method, args)
        if method in self._broken:
            self.calls.append(Call(f"{method}#error", args))
            return web.json_response({"ok": False, "error": self._broken[method]})
        problems = _check_limits(args)
        if problems:
            self.violations.extend(f"{method}: {p}" for p in problems)
            return web.json_response({"ok": False, "error": "invalid_blocks", "errors": problems})
        self.calls.append(Call(method, args))
        answer = self._answer(method, args)
        if method == "chat.postMessage" and self.post_latency_s:
            self.unanswered += 1
            try:
                await asyncio.sleep(self.post_latency_s)
            finally:
                self.unanswered -= 1
        return web.json_response(answer)

    def _outage_answer(self, method: str, args: dict[str, Any]) -> web.Response:
        if next(self._outage_calls) % 2:
            self.calls.append(Call(f"{method}#429", args))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self._outage_retry_after)},
            )
        self.calls.append(Call(f"{method}#500", args))
        return web.Response(status=500, text="<html>Internal Server Error</html>")

    def _store(self, args: dict[str, Any], ts: str) -> None:
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        message = {"ts": ts, "text": args.get("text", ""), "channel": args.get("channel")}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        if metadata:
            message["metadata"] = metadata
        self.messages.append(message)

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first; metadata only when asked for."""
        found = [
            m
            for m in self.messages
            if m["channel"] == args.get("channel")
            and "thread_ts" not in m
            and float(m["ts"]) >= float(args.get("oldest") or 0)
        ]
        return {"ok": True, "messages": self._shown(found[::-1], args), "has_more": False}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent, then its replies, oldest first."""
        thread = args.get("ts")
        found = [
            m
            for m in self.messages
            if m["channel"] == args.get("channel") and thread in (m["ts"], m.get("thread_ts"))
        ]
        return {"ok": True, "messages": self._shown(found, args), "has_more": False}

    @staticmethod
    def _shown(found: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
        limit = int(args.get("limit") or 100)
        with_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
        return [
            {k: v for k, v in m.items() if with_metadata or k != "metadata"} for m in found[:limit]
        ]

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.update" and args.get("ts") in self.deleted:
            return {"ok": False, "error": "message_not_found"}
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "user": "tocsin",
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "chat.postMessage":
            if args.get("channel") in self.closed_channels:
                return {"ok": False, "error": "not_in_channel"}
            ts = f"{next(self._ts)}.000100"
            self._store(args, ts)
            return {"ok": True, "channel": args.get("channel"), "ts": ts}
        if method == "files.getUploadURLExternal":
            return self._upload_url(args)
        if method == "files.completeUploadExternal":
            return self._complete_upload(args)
        if method == "conversations.history":
            return self._history(args)
        if method == "conversations.replies":
            return self._replies(args)
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            if args.get("channel") in self.closed_channels:
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "message_ts": f"{next(self._ts)}.000200"}

        if method == "users.info":
            user = str(args.get("user"))
            return {"ok": True, "user": {"id": user, "name": f"fictional.{user.lower()}"}}
        if method == "views.open":
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **(args.get("view") or {})}}
        return {"ok": True}

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):08d}"
        self.uploads[file_id] = Upload(
            file_id, str(args["filename"]), args.get("alt_txt"), int(args["length"])
        )
        return {
            "ok": True,
            "file_id": file_id,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
        }

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL: the file's bytes, which must be as long as announced."""
        upload = self.uploads.get(request.match_info["file_id"])
        data = await request.read()
        if upload is None or len(data) != upload.length:
            return web.Response(status=400, text="bad upload")
        upload.data = data
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        shared = []
        for item in files or []:
            upload = self.uploads.get(item.get("id"))
            if upload is None or not upload.data:
                return {"ok": False, "error": "file_not_found"}
            if args.get("channel_id") in self.closed_channels:
                return {"ok": False, "error": "not_in_channel"}
            upload.title = item.get("title")
            upload.channel = args.get("channel_id")
            upload.thread_ts = args.get("thread_ts")
            shared.append({"id": upload.file_id, "title": upload.title})
        return {"ok": True, "files": shared}

    async def _respond(self, request: web.Request) -> web.Response:
        """The command's response URL: what the bot says there reaches the asker anywhere."""
        self.calls.append(Call("response_url", json.loads(await request.text() or "{}")))
        return web.Response(text="ok")

    def response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/respond"

    # --- Socket Mode -------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                envelope_id = json.loads(frame.data).get("envelope_id")
                if envelope_id in self._pushed:
                    self.acks[envelope_id] = time.monotonic() - self._pushed[envelope_id]
        return socket

    async def connected(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not [s for s in self._sockets if not s.closed]:
            assert time.monotonic() < deadline, "the bot never opened its Socket Mode connection"
            await asyncio.sleep(0.02)

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope (`slash_commands`, `interactive`, `events_api`) to the bot."""
        envelope_id = str(uuid.uuid4())
        socket = next(s for s in self._sockets if not s.closed)
        self._pushed[envelope_id] = time.monotonic()
        await socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
            }
        )
        return envelope_id

    async def acked(self, envelope_id: str, timeout: float = 5.0) -> float:
        deadline = time.monotonic() + timeout
        while envelope_id not in self.acks:
            assert time.monotonic() < deadline, "the bot did not acknowledge the envelope"
            await asyncio.sleep(0.005)
        return self.acks[envelope_id]


def slash_command(
    text: str,
    *,
    user: str = "U1",
    channel: str = "C1",
    response_url: str = "http://127.0.0.1:9/unused",
) -> dict[str, str]:
    """The form Slack sends for `/ua TEXT`."""
    return {
        "token": "legacy",
        "team_id": "T1",
        "team_domain": "example",
        "channel_id": channel,
        "channel_name": "urgent-actions",
        "user_id": user,
        "user_name": "fictional.responder",
        "command": "/ua",
        "text": text,
        "api_app_id": "A1",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def signed_headers(body: str, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a request Slack signs with the app's signing secret."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    base = f"v0:{stamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def form_body(fields: dict[str, str]) -> str:
    return urlencode(fields)


async def _arguments(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query)
    raw = await request.text()
    if request.content_type == "application/json":
        data: dict[str, Any] = json.loads(raw or "{}")
    else:
        data = dict(parse_qsl(raw))
    data = {**request.query, **data}  # slack_sdk sends some methods' arguments in the URL
    for key in ("blocks", "attachments", "view", "metadata"):
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    return data


def _check_limits(args: dict[str, Any]) -> list[str]:
    problems = []
    blocks = args.get("blocks") or []
    view = args.get("view") or {}
    if len(blocks) > LIMITS["blocks"]:
        problems.append(f"{len(blocks)} blocks (at most {LIMITS['blocks']})")
    if len((view.get("title") or {}).get("text", "")) > LIMITS["modal_title"]:
        problems.append("modal title over 24 characters")
    for block in [*blocks, *(view.get("blocks") or [])]:
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and len(text) > LIMITS["section"]:
            problems.append(f"section of {len(text)} characters")
        if block.get("type") == "header" and len(text) > LIMITS["header"]:
            problems.append(f"header of {len(text)} characters")
        elements = [
            *(block.get("elements") or []),
            *([block["element"]] if "element" in block else []),
        ]
        for element in elements:
            problems.extend(_check_element(element))
    return problems


def _check_element(element: dict[str, Any]) -> list[str]:
    """Buttons, options of selects, overflows and checkboxes: at most 75 characters of text."""
    problems = []
    label = element.get("text")
    if (
        isinstance(label, dict)
        and element.get("type") == "button"
        and len(label.get("text", "")) > LIMITS["button"]
    ):
        problems.append(f"button text of {len(label['text'])} characters")
    options = element.get("options") or []
    if element.get("type") == "overflow" and not 2 <= len(options) <= 5:
        problems.append(f"overflow with {len(options)} options (2 to 5)")
    for option in options:
        if len(option["text"]["text"]) > LIMITS["button"]:
            problems.append(f"option text of {len(option['text']['text'])} characters")
    return problems
