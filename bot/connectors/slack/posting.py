"""Posting to Slack: a command's answer (in the channel, or only to the asker), and what the
outbox sends; a case card edited in place with the change said in its thread, reminders in the
card's thread, charts uploaded as PNG files, and a post a crash left unrecorded found again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.connectors.contract import DeliveryFailed, Ledger
from bot.connectors.slack.blocks import fallback_text, render, to_blocks
from bot.domain.messages import Message, charts_of
from bot.domain.places import Place
from bot.domain.report_chart import render_png

log = logging.getLogger(__name__)

# After a crash, how many recent messages of a channel (or thread) are searched for a post
# that went out unrecorded. A backlog deeper than this could be posted twice.
LOOK_BACK = 200
DELIVERY_EVENT = "tocsin_delivery"
MAX_ALT_TEXT = 1000  # Slack's limit on an image's alt text
# An app installed before charts has no files:write scope: the text goes out, and this says why
# its chart does not.
CANNOT_UPLOAD = frozenset({"missing_scope", "not_allowed_token_type", "file_uploads_disabled"})
CHART_NOT_SHARED = (
    ":warning: The chart could not be attached ({problem}): Tocsin's Slack app needs the "
    "files:write scope. Reinstall it from config/slack-manifest.yaml, or draw the chart with "
    "tocsin report --chart report.png"
)


class SlackPoster:
    """Posts to one workspace through `poster`, a client that fails at once on a rate limit
    (the outbox retries, honouring Retry-After, without holding a row past its lease);
    private answers go through `client`, which waits and retries itself."""

    def __init__(self, client: AsyncWebClient, poster: AsyncWebClient, ledger: Ledger) -> None:
        self._client = client
        self._poster = poster
        self._ledger = ledger

    async def reply(
        self, place: Place, message: Message, *, user: str, respond: Any = None
    ) -> None:
        """Answer a command: in the channel when it concerns the team, else only to the asker.
        Where Tocsin cannot post (a private conversation it is not in), the command's own
        response URL still reaches the asker; when Slack is down, the asker hears that what
        was saved will follow."""
        try:
            await self._answer(place, message, user=user)
        except SlackApiError as error:
            problem = _error_code(error) or f"HTTP {error.response.status_code}"
            log.warning("could not answer in %s: %s", place, problem)
            hint = _cannot_post_hint(problem, delivery_failure(error).permanent, message)
            if respond is not None:
                with contextlib.suppress(SlackApiError, aiohttp.ClientError):
                    await respond(
                        text=f"{hint}\n{fallback_text(message)}", response_type="ephemeral"
                    )
                return
            with contextlib.suppress(SlackApiError):
                await self._client.chat_postEphemeral(channel=place.address, user=user, text=hint)

    async def _answer(self, place: Place, message: Message, *, user: str) -> None:
        if message.public:
            await self._post_now(place, message)
            return
        await self._client.chat_postEphemeral(
            channel=place.address, user=user, text=fallback_text(message), blocks=to_blocks(message)
        )

    async def _post_now(self, place: Place, message: Message) -> None:
        """Post a command's public answer at once; when it waits in the outbox, hold its row
        first so the dispatcher cannot post it too, and give it back if Slack refuses."""
        key = message.outbox_key

        async def post(known: dict[str, str]) -> None:
            await self._post(place, message, key, known)

        # A SlackApiError is Slack's refusal: nothing went out, and the dispatcher may try.
        await self._ledger.post_now(
            key, place, _looked_up(message, key), post, refusals=(SlackApiError,)
        )

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Post from the outbox, or DeliveryFailed saying whether to try again (Slack's own
        rate-limit waits happen first). With a delivery `key`, what was already posted for it
        is not posted again; `maybe_sent` looks in the channel for a post an earlier attempt
        made but never recorded (the process was killed in between)."""
        try:
            if key is not None and maybe_sent:
                await self._adopt_earlier_post(place, message, key)
            # A post found (or recorded) under the key is not posted again; its charts are,
            # unless they were uploaded too.
            await self.post(place, message, key)
        except SlackApiError as error:
            raise delivery_failure(error) from None

    async def post(self, place: Place, message: Message, key: str | None = None) -> None:
        """Post to a channel. A message with a case card edits the card in place and says what
        changed in its thread; a reminder goes in the thread of its case's card. A keyed post
        carries its key in the message's metadata, where `_adopt_earlier_post` finds it."""
        await self._post(
            place, message, key, await self._ledger.find_all(place, _looked_up(message, key))
        )

    async def _post(
        self, place: Place, message: Message, key: str | None, known: dict[str, str]
    ) -> None:
        """`post`, given what was posted already under the keys it needs (`_looked_up`)."""
        text = fallback_text(message)
        card = message.replaces if message.card else None
        if key is not None and key in known:
            # Delivered before a restart or a lost answer; its charts may not have been.
            await self._share_charts(place, message, key, known)
            return
        if card:
            await self._refresh_card(place, message, text, key, known.get(card))
            return
        response = await self._poster.chat_postMessage(
            channel=place.address,
            text=text,
            blocks=to_blocks(message),
            thread_ts=known.get(message.thread) if message.thread else None,
            metadata=_delivery_metadata(key),
        )
        await self._remember(place, response, key)
        await self._share_charts(place, message, key, known)

    async def _share_charts(
        self, place: Place, message: Message, key: str | None, known: dict[str, str]
    ) -> None:
        """Upload the message's charts as PNG images into the channel, after its text; with a
        delivery key, once (a retry after the text went out uploads only what is missing)."""
        charts = charts_of(message)
        shared = _charts_key(key)
        if not charts or (shared is not None and shared in known):
            return
        images = await asyncio.to_thread(lambda: [render_png(chart) for chart in charts])
        try:
            response = await self._poster.files_upload_v2(
                channel=place.address,
                file_uploads=[
                    {
                        "content": image,
                        "filename": f"{chart.name}.png",
                        "title": chart.title,
                        "alt_txt": chart.alt[:MAX_ALT_TEXT],
                    }
                    for chart, image in zip(charts, images, strict=True)
                ],
            )
            file_id = str((response.get("files") or [{}])[0].get("id", "shared"))
        except SlackApiError as error:
            if _error_code(error) not in CANNOT_UPLOAD:
                raise
            # The text went out; say why its chart did not, rather than fail the message.
            note = CHART_NOT_SHARED.format(problem=_error_code(error))
            file_id = str(
                (await self._poster.chat_postMessage(channel=place.address, text=note))["ts"]
            )
        if shared is not None:
            await self._ledger.remember(place, shared, file_id)

    async def _adopt_earlier_post(self, place: Place, message: Message, key: str) -> bool:
        """Whether a message carrying `key` is already in the channel (or the thread it
        belongs in); if so it now stands for the key, and for the card it posted."""
        if await self._ledger.find(place, key):
            return True
        thread = None
        if message.card and message.replaces:
            thread = await self._ledger.find(place, message.replaces)
        elif message.thread:
            thread = await self._ledger.find(place, message.thread)
        if thread is not None:
            found = await self._poster.conversations_replies(
                channel=place.address, ts=thread, include_all_metadata=True, limit=LOOK_BACK
            )
        else:
            found = await self._poster.conversations_history(
                channel=place.address, include_all_metadata=True, limit=LOOK_BACK
            )
        for earlier in found.get("messages") or []:
            payload = (earlier.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                await self._ledger.remember(place, key, str(earlier["ts"]))
                if message.card and message.replaces and thread is None:
                    await self._ledger.remember(place, message.replaces, str(earlier["ts"]))
                log.info("%s was posted before a restart: not posted again", key)
                return True
        return False

    async def _remember(self, place: Place, response: Any, *keys: str | None) -> None:
        """Record the posted message as standing for each of `keys` (None ones skipped)."""
        ts = str(response["ts"])
        await self._ledger.remember_all(place, {key: ts for key in keys if key is not None})

    async def _refresh_card(
        self, place: Place, message: Message, text: str, key: str | None, ts: str | None
    ) -> None:
        """Post the card, or edit it where it was posted (`ts`) and say what changed in its
        thread."""
        assert message.replaces is not None
        card = render(message.card)
        if ts is not None:
            try:
                await self._poster.chat_update(channel=place.address, ts=ts, text=text, blocks=card)
            except SlackApiError as error:
                if _error_code(error) != "message_not_found":
                    raise
                ts = None  # someone deleted the card: post a fresh one, kept up to date from now
            else:
                response = await self._poster.chat_postMessage(
                    channel=place.address, thread_ts=ts, text=text, metadata=_delivery_metadata(key)
                )
                await self._remember(place, response, key)
                return
        response = await self._poster.chat_postMessage(
            channel=place.address, text=text, blocks=card, metadata=_delivery_metadata(key)
        )
        await self._remember(place, response, message.replaces, key)


def _looked_up(message: Message, key: str | None) -> tuple[str | None, ...]:
    """The keys whose posts posting `message` depends on: its own, its card's, its thread's,
    and its charts'."""
    charts = _charts_key(key) if charts_of(message) else None
    return (key, message.replaces if message.card else None, message.thread, charts)


def _charts_key(key: str | None) -> str | None:
    """The key the charts of a keyed message are remembered under once uploaded."""
    return f"{key}:charts" if key is not None else None


def _delivery_metadata(key: str | None) -> dict[str, Any] | None:
    """Message metadata naming the delivery key (an opaque row number, nothing about a case)."""
    if key is None:
        return None
    return {"event_type": DELIVERY_EVENT, "event_payload": {"key": key}}


def _cannot_post_hint(problem: str, permanent: bool, message: Message) -> str:
    """What the asker is told when Tocsin could not post its answer in the channel."""
    if permanent:
        return (
            f":warning: Tocsin cannot post in this conversation ({problem}): invite it with "
            "/invite @Tocsin, or use a channel it is in."
        )
    if message.outbox_key is not None:
        return (
            f":hourglass: Slack is not taking messages right now ({problem}). Your request "
            "was saved; Tocsin posts the answer here as soon as Slack answers again."
        )
    return f":hourglass: Slack is not taking messages right now ({problem}). Try again shortly."


# Errors that waiting will not fix: the channel is gone or Tocsin was removed or revoked.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "account_inactive",
        "token_revoked",
        "invalid_auth",
        "missing_scope",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
    }
)


def delivery_failure(error: SlackApiError) -> DeliveryFailed:
    """What a failed Web API call means for the outbox: give up, wait as told, or retry."""
    code = _error_code(error)
    status = error.response.status_code
    if code in PERMANENT_ERRORS:
        return DeliveryFailed(f"Slack: {code}", permanent=True)
    retry_after = error.response.headers.get("Retry-After") if status == 429 else None
    wait = float(retry_after) if retry_after and str(retry_after).isdigit() else None
    return DeliveryFailed(f"Slack: {code or status}", retry_after=wait)


def _error_code(error: SlackApiError) -> str:
    """Slack's error code; empty when the answer was not Slack's JSON (an HTTP 500 page)."""
    data = error.response.data
    return str(data.get("error") or "") if isinstance(data, dict) else ""
