"""A Matrix test client on Element's own crypto stack, for tests against the real Synapse.

Each `ElementClient` is one Node process running `tests/element/driver.mjs`: matrix-js-sdk with
its Rust crypto (@matrix-org/matrix-sdk-crypto-wasm), one device of one user, spoken to over
stdin/stdout JSON lines. Node 22 and the packages live in `.element/` at the repo root, put there
by `make element` (which `make test` runs) from `tests/element/package.json` and its lock file.

    client = await ElementClient.launch(tmp_path)
    me = await client.login(synapse.url, user_id, password)
    room_id = await client.create_room(encrypted=True, invite=[other_user])
    ...
    await client.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypedDict, TypeVar, cast

REPO_ROOT = Path(__file__).resolve().parent.parent
HARNESS_DIR = REPO_ROOT / ".element"
NODE = HARNESS_DIR / "node_modules" / ".bin" / "node"
SDK_PACKAGE = HARNESS_DIR / "node_modules" / "matrix-js-sdk" / "package.json"
DRIVER = REPO_ROOT / "tests" / "element" / "driver.mjs"

REQUEST_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0
STDERR_TAIL_LINES = 60

Isolation = Literal["only_signed", "all", "all_strict"]
JsonDict = dict[str, Any]
T = TypeVar("T")


class ElementHarnessMissing(RuntimeError):
    """The Node harness is not installed in `.element/`."""


class ElementDriverError(RuntimeError):
    """The driver answered an error, timed out, or died; the message has its stderr tail."""


class LoginResult(TypedDict):
    user_id: str
    device_id: str
    ed25519: str
    curve25519: str
    isolation: Isolation
    bootstrapped_cross_signing: bool
    account_had_cross_signing: bool
    cross_signing_ready: bool
    crypto_version: str


class Shield(TypedDict):
    colour: Literal["NONE", "GREY", "RED"]
    reason: str | None


class TimelineEvent(TypedDict):
    event_id: str
    type: str
    wire_type: str
    sender: str
    sender_device: str | None
    origin_server_ts: int
    state_key: str | None
    content: JsonDict
    body: str | None
    is_encrypted: bool
    being_decrypted: bool
    decryption_failure: str | None
    redacted: bool
    replaced_body: str | None
    thread_root: str | None
    in_reply_to: str | None
    shield: Shield | None


class VerificationRequestInfo(TypedDict):
    id: str
    transaction_id: str | None
    other_user: str
    other_device: str | None
    in_room: bool
    room_id: str | None
    initiated_by_me: bool
    is_self_verification: bool
    phase: str


class VerificationState(VerificationRequestInfo):
    done: bool
    cancelled: bool
    cancellation_code: str | None
    cancelling_user: str | None
    chosen_method: str | None
    methods: list[str]
    verifier_error: str | None


class Sas(TypedDict):
    emoji: list[list[str]] | None
    decimals: list[int] | None


class UserStatus(TypedDict):
    known: bool | None
    isVerified: bool
    isCrossSigningVerified: bool
    wasCrossSigningVerified: bool
    needsUserApproval: bool | None


class DeviceStatus(TypedDict):
    signedByOwner: bool
    crossSigningVerified: bool
    localVerified: bool
    isVerified: bool


class DeviceInfo(TypedDict):
    device_id: str
    display_name: str | None
    ed25519: str | None
    curve25519: str | None
    verified: str | None
    dehydrated: bool


class CrossSigningStatus(TypedDict):
    ready: bool
    public_keys_on_device: bool
    private_keys_cached: dict[str, bool]
    private_keys_in_secret_storage: bool
    master_key_id: str | None


def harness_problem() -> str | None:
    """Why the harness cannot run here, or None when it can."""
    if not NODE.exists() or not SDK_PACKAGE.exists():
        return f"the Element test harness is not installed in {HARNESS_DIR}: run make element"
    if not DRIVER.exists():
        return f"the Element test driver {DRIVER} is missing"
    return None


class ElementClient:
    """One device on matrix-js-sdk + Rust crypto, in its own Node process."""

    _names = itertools.count(1)

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path, name: str) -> None:
        self.name = name
        self.log_path = log_path
        self.user_id: str | None = None
        self.device_id: str | None = None
        # Unsolicited driver events ({"type": "verification_request", ...}, ...), in order.
        self.events: asyncio.Queue[JsonDict] = asyncio.Queue()
        self._process = process
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._skipped: list[JsonDict] = []
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed = False
        self._stdout_task = asyncio.create_task(self._read_stdout())
        self._stderr_task = asyncio.create_task(self._read_stderr())

    # ------------------------------------------------------------ lifecycle

    @classmethod
    async def launch(cls, folder: Path, *, name: str | None = None) -> ElementClient:
        """Start a driver process; its stderr is kept in `folder/<name>.log`."""
        problem = harness_problem()
        if problem:
            raise ElementHarnessMissing(problem)
        name = name or f"element-{next(cls._names)}"
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / f"{name}.log"
        process = await asyncio.create_subprocess_exec(
            str(NODE),
            str(DRIVER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=folder,
            env={**os.environ, "ELEMENT_HARNESS_DIR": str(HARNESS_DIR)},
            limit=16 * 1024 * 1024,
        )
        client = cls(process, log_path, name)
        try:
            await asyncio.wait_for(asyncio.shield(client._ready), START_TIMEOUT_S)
        except (TimeoutError, ElementDriverError) as error:
            await client.close()
            raise ElementDriverError(
                f"{name}: the driver did not start ({error})\n{client.stderr_tail()}"
            ) from None
        return client

    async def close(self) -> None:
        """Stop the client and its process (idempotent)."""
        if self._closed:
            return
        if self._process.returncode is None and self._ready.done():
            with contextlib.suppress(ElementDriverError, ConnectionError, OSError):
                await self.call("stop", timeout=10.0)
        self._closed = True
        if self._process.stdin is not None:
            with contextlib.suppress(ConnectionError, OSError):
                self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 10.0)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
        for task in (self._stdout_task, self._stderr_task):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5.0)

    async def __aenter__(self) -> ElementClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def stderr_tail(self) -> str:
        """The driver's last stderr lines, for an error message."""
        lines = "\n".join(self._stderr)
        return f"--- {self.name} driver stderr (tail; whole log: {self.log_path}) ---\n{lines}"

    # ------------------------------------------------------------ protocol

    async def call(self, op: str, *, timeout: float = REQUEST_TIMEOUT_S, **args: Any) -> Any:
        """Send one request and return its result; raise ElementDriverError on failure."""
        if self._closed or self._process.returncode is not None:
            raise ElementDriverError(
                f"{self.name}: the driver is not running\n{self.stderr_tail()}"
            )
        if "id" in args or "op" in args:
            raise ValueError("'id' and 'op' are the protocol's own keys, not op arguments")
        message_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        line = json.dumps({"id": message_id, "op": op, **args}) + "\n"
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(line.encode())
            await self._process.stdin.drain()
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise ElementDriverError(
                f"{self.name}: {op} got no answer in {timeout:.0f} s\n{self.stderr_tail()}"
            ) from None
        except (ConnectionError, OSError) as error:
            raise ElementDriverError(
                f"{self.name}: {op} could not be sent ({error})\n{self.stderr_tail()}"
            ) from None
        finally:
            self._pending.pop(message_id, None)

    async def _read_stdout(self) -> None:
        assert self._process.stdout is not None
        while True:
            raw = await self._process.stdout.readline()
            if not raw:
                break
            try:
                message = json.loads(raw)
            except json.JSONDecodeError:
                self._stderr.append(f"[non-JSON stdout] {raw.decode(errors='replace').rstrip()}")
                continue
            if "event" in message:
                event = cast(JsonDict, message["event"])
                if event.get("type") == "ready":
                    if not self._ready.done():
                        self._ready.set_result(None)
                else:
                    self.events.put_nowait(event)
                continue
            future = self._pending.get(message.get("id"))
            if future is None or future.done():
                continue
            if message.get("ok"):
                future.set_result(message.get("result"))
            else:
                error = message.get("error")
                future.set_exception(
                    ElementDriverError(f"{self.name}: {error}\n{self.stderr_tail()}")
                )
        await self._stderr_drained()
        code = await self._process.wait()
        failure = ElementDriverError(
            f"{self.name}: the driver exited (code {code})\n{self.stderr_tail()}"
        )
        if not self._ready.done():
            self._ready.set_exception(failure)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(failure)

    async def _stderr_drained(self) -> None:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._stderr_task), 2.0)

    async def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            while True:
                raw = await self._process.stderr.readline()
                if not raw:
                    break
                text = raw.decode(errors="replace").rstrip("\n")
                self._stderr.append(text)
                log.write(text + "\n")
                log.flush()

    # ------------------------------------------------------------ login

    async def login(
        self,
        homeserver: str,
        user_id: str,
        password: str,
        *,
        device_name: str | None = None,
        isolation: Isolation = "only_signed",
    ) -> LoginResult:
        """Log in as a new device, start syncing, and bootstrap cross-signing if the account
        has none yet (a later device of the same user stays unverified until verified)."""
        return await self._login("login", homeserver, user_id, password, device_name, isolation)

    async def login_raw(
        self,
        homeserver: str,
        user_id: str,
        password: str,
        *,
        device_name: str | None = None,
        isolation: Isolation = "only_signed",
    ) -> LoginResult:
        """Log in as a new device with crypto that never cross-signs anything."""
        return await self._login("login_raw", homeserver, user_id, password, device_name, isolation)

    async def _login(
        self,
        op: str,
        homeserver: str,
        user_id: str,
        password: str,
        device_name: str | None,
        isolation: Isolation,
    ) -> LoginResult:
        result = cast(
            LoginResult,
            await self.call(
                op,
                homeserver=homeserver,
                user_id=user_id,
                password=password,
                device_name=device_name,
                isolation=isolation,
            ),
        )
        self.user_id = result["user_id"]
        self.device_id = result["device_id"]
        return result

    async def set_isolation(self, isolation: Isolation) -> None:
        await self.call("set_isolation", isolation=isolation)

    async def reset_cross_signing(self) -> JsonDict:
        """Replace the account's cross-signing keys (an identity change for everyone else)."""
        return cast(JsonDict, await self.call("reset_cross_signing"))

    async def cross_signing_status(self) -> CrossSigningStatus:
        return cast(CrossSigningStatus, await self.call("cross_signing_status"))

    # ------------------------------------------------------------ rooms

    async def create_room(
        self,
        *,
        name: str | None = None,
        encrypted: bool = True,
        invite: Sequence[str] = (),
        is_direct: bool = False,
    ) -> str:
        """Create a private room; waits until it is synced (and known encrypted)."""
        result = await self.call(
            "create_room", name=name, encrypted=encrypted, invite=list(invite), is_direct=is_direct
        )
        return str(result["room_id"])

    async def join(self, room_id: str) -> bool:
        """Join; waits until joined and synced. Returns whether the room is encrypted."""
        result = await self.call("join", room_id=room_id)
        return bool(result["encrypted"])

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.call("invite", room_id=room_id, user_id=user_id)

    async def leave(self, room_id: str) -> None:
        await self.call("leave", room_id=room_id)

    async def send(
        self,
        room_id: str,
        body: str,
        *,
        thread_root: str | None = None,
        reply_to: str | None = None,
        mentions: Sequence[str] | None = None,
    ) -> str:
        """Send m.text (encrypted in an encrypted room); returns the event ID."""
        result = await self.call(
            "send",
            room_id=room_id,
            body=body,
            thread_root=thread_root,
            reply_to=reply_to,
            mentions=list(mentions) if mentions is not None else None,
        )
        return str(result["event_id"])

    async def edit(self, room_id: str, event_id: str, body: str) -> str:
        """Send an m.replace edit of one of our messages."""
        result = await self.call("edit", room_id=room_id, event_id=event_id, body=body)
        return str(result["event_id"])

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """Send m.reaction as the sdk does (never encrypted)."""
        result = await self.call("react", room_id=room_id, event_id=event_id, key=key)
        return str(result["event_id"])

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        result = await self.call("redact", room_id=room_id, event_id=event_id, reason=reason)
        return str(result["event_id"])

    async def timeline(self, room_id: str, *, include_state: bool = False) -> list[TimelineEvent]:
        """The room's live timeline as this device sees it now (decrypted where it can)."""
        result = await self.call("timeline", room_id=room_id, include_state=include_state)
        return cast(list[TimelineEvent], result)

    # ------------------------------------------------------------ waiting

    async def wait_until(
        self,
        check: Callable[[], Awaitable[T | None]],
        *,
        timeout: float = 30.0,
        what: str = "a condition",
        interval: float = 0.2,
    ) -> T:
        """Poll `check` until it returns something other than None (or False)."""
        deadline = time.monotonic() + timeout
        while True:
            value = await check()
            if value is not None and value is not False:
                return value
            if time.monotonic() > deadline:
                raise ElementDriverError(
                    f"{self.name}: timed out after {timeout:.0f} s waiting for {what}\n"
                    f"{self.stderr_tail()}"
                )
            await asyncio.sleep(interval)

    async def wait_for(
        self,
        room_id: str,
        predicate: Callable[[TimelineEvent], bool],
        *,
        timeout: float = 30.0,
        what: str = "a timeline event",
    ) -> TimelineEvent:
        """The first timeline event matching `predicate`, polling until one does."""
        last: list[TimelineEvent] = []

        async def check() -> TimelineEvent | None:
            nonlocal last
            last = await self.timeline(room_id)
            return next((event for event in last if predicate(event)), None)

        try:
            return await self.wait_until(check, timeout=timeout, what=what)
        except ElementDriverError as error:
            seen = "\n".join(_summary(event) for event in last[-15:])
            raise ElementDriverError(f"{error}\n--- timeline seen last ---\n{seen}") from None

    async def wait_for_event_id(
        self,
        room_id: str,
        event_id: str,
        predicate: Callable[[TimelineEvent], bool] = lambda event: True,
        *,
        timeout: float = 30.0,
    ) -> TimelineEvent:
        """The event `event_id` once it is in the timeline and matches `predicate`."""
        return await self.wait_for(
            room_id,
            lambda event: event["event_id"] == event_id and predicate(event),
            timeout=timeout,
            what=f"event {event_id}",
        )

    async def wait_for_body(
        self, room_id: str, body: str, *, timeout: float = 30.0
    ) -> TimelineEvent:
        """The first message whose (decrypted) body is `body`."""
        return await self.wait_for(
            room_id, lambda event: event["body"] == body, timeout=timeout, what=f"body {body!r}"
        )

    async def wait_for_driver_event(
        self, predicate: Callable[[JsonDict], bool], *, timeout: float = 30.0
    ) -> JsonDict:
        """The next unsolicited event matching `predicate`; others stay for later calls."""
        for index, event in enumerate(self._skipped):
            if predicate(event):
                return self._skipped.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ElementDriverError(
                    f"{self.name}: no matching driver event in {timeout:.0f} s "
                    f"(others: {self._skipped[-5:]})\n{self.stderr_tail()}"
                )
            try:
                event = await asyncio.wait_for(self.events.get(), remaining)
            except TimeoutError:
                continue
            if predicate(event):
                return event
            self._skipped.append(event)

    async def wait_for_verification_request(
        self, *, other_user: str | None = None, timeout: float = 30.0
    ) -> VerificationRequestInfo:
        """The next incoming verification request (optionally from `other_user`)."""
        event = await self.wait_for_driver_event(
            lambda e: (
                e.get("type") == "verification_request"
                and (other_user is None or e.get("other_user") == other_user)
            ),
            timeout=timeout,
        )
        return cast(VerificationRequestInfo, event)

    async def wait_for_verification(
        self, request_id: str, *, timeout: float = 30.0
    ) -> VerificationState:
        """The request's state once it is done or cancelled."""

        async def check() -> VerificationState | None:
            state = await self.verification_state(request_id)
            return state if state["done"] or state["cancelled"] else None

        return await self.wait_until(check, timeout=timeout, what=f"verification {request_id}")

    # ------------------------------------------------------------ verification

    async def request_verification(
        self, user_id: str, *, device_id: str | None = None, room_id: str | None = None
    ) -> VerificationRequestInfo:
        """To-device with `device_id`, in-room with `room_id` (a DM), or, for our own user
        without either, to all our other devices."""
        result = await self.call(
            "request_verification", user_id=user_id, device_id=device_id, room_id=room_id
        )
        return cast(VerificationRequestInfo, result)

    async def accept_verification(self, request_id: str) -> VerificationRequestInfo:
        result = await self.call("accept_verification", request_id=request_id)
        return cast(VerificationRequestInfo, result)

    async def start_sas(self, request_id: str) -> VerificationRequestInfo:
        result = await self.call("start_sas", request_id=request_id)
        return cast(VerificationRequestInfo, result)

    async def sas(self, request_id: str, *, timeout: float = 30.0) -> Sas:
        """Wait until the SAS is shown; the 7 emoji as [symbol, name] and the decimals."""
        result = await self.call("sas", request_id=request_id, timeout_ms=int(timeout * 1000))
        return cast(Sas, result)

    async def confirm_sas(self, request_id: str, *, wait_done: bool = False) -> VerificationState:
        result = await self.call("confirm_sas", request_id=request_id, wait_done=wait_done)
        return cast(VerificationState, result)

    async def mismatch_sas(self, request_id: str) -> None:
        await self.call("mismatch_sas", request_id=request_id)

    async def verification_state(self, request_id: str) -> VerificationState:
        return cast(VerificationState, await self.call("verification_state", request_id=request_id))

    async def cancel_verification(self, request_id: str) -> VerificationState:
        return cast(
            VerificationState, await self.call("cancel_verification", request_id=request_id)
        )

    # ------------------------------------------------------------ trust

    async def user_status(self, user_id: str) -> UserStatus:
        return cast(UserStatus, await self.call("user_status", user_id=user_id))

    async def device_status(self, user_id: str, device_id: str) -> DeviceStatus | None:
        """None when the device is unknown (or has no keys)."""
        result = await self.call("device_status", user_id=user_id, device_id=device_id)
        return cast(DeviceStatus | None, result)

    async def wait_for_device_status(
        self,
        user_id: str,
        device_id: str,
        predicate: Callable[[DeviceStatus], bool],
        *,
        timeout: float = 30.0,
    ) -> DeviceStatus:
        """The device's status once it is known and matches `predicate` (a signature uploaded
        by another device reaches this one a sync or two later)."""

        async def check() -> DeviceStatus | None:
            status = await self.device_status(user_id, device_id)
            return status if status is not None and predicate(status) else None

        return await self.wait_until(check, timeout=timeout, what=f"the status of {device_id}")

    async def devices(self, user_id: str) -> list[DeviceInfo]:
        return cast(list[DeviceInfo], await self.call("devices", user_id=user_id))


def _summary(event: TimelineEvent) -> str:
    return (
        f"{event['event_id']} {event['type']} from {event['sender']}/{event['sender_device']}: "
        f"body={event['body']!r} failure={event['decryption_failure']} shield={event['shield']}"
    )


async def close_all(clients: Iterable[ElementClient]) -> None:
    """Close several clients at once."""
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
