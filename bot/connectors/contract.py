"""The connector contract: what a connector offers Tocsin, and what it is given.

A connector turns its platform's events into `Command`s for the command sink, and renders the
neutral `Message`s it is sent back into its platform's own form. It imports `bot.domain` and
this contract; never the store, the outbox or the handlers, which reach it only through what
it is given (`ConnectorKit`): a ledger to record and look up its posts and to claim the rows
of the answers it posts itself, and the sink its commands go to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.access import Role
from bot.domain.case import Disclosure
from bot.domain.commands.request import Command
from bot.domain.countries import CountryIndex
from bot.domain.messages import Message
from bot.domain.partners import Accepted, PartnerAccess
from bot.domain.places import Place


class DeliveryFailed(Exception):
    """A connector could not post: for good (`permanent`: the channel archived, the bot
    removed), or for now, to be tried again (after `retry_after` seconds when the service
    said so)."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


# What a connector offers --------------------------------------------------------------------


class Sender(Protocol):
    """A connector that posts to the places of its platform."""

    async def send(
        self, place: Place, message: Message, key: str | None = None, *, maybe_sent: bool = False
    ) -> None:
        """Post the neutral message to the place in the platform's own form, or raise
        DeliveryFailed, `permanent` or to be retried. A message with a case card edits the
        card posted before under the same key (`message.replaces`) and notes the change in
        its thread; a reminder goes in its case's thread; charts go up as image files after
        the text. With a delivery `key`, a second send of the same key changes nothing
        already posted; `maybe_sent`: an earlier attempt may have posted it without
        recording so (a crash), so look before posting."""


class Connector(Sender, Protocol):
    """A connector that runs between `start` and `stop`, taking commands and posting."""

    async def start(self) -> None:
        """Connect; StartupError says what to fix."""

    async def stop(self) -> None:
        """Finish what is in hand, then disconnect."""

    @property
    def connected(self) -> bool:
        """Whether the platform answered lately (what `/readyz` reports)."""


# What a connector is given ------------------------------------------------------------------


class Ledger(Protocol):
    """What the connector posted under which key, and the claim on the answers it posts
    itself: `bot.outbox.ledger.Ledger`."""

    async def find(self, place: Place, key: str) -> str | None:
        """The platform's ID of the message posted under `key` at `place`, if any."""

    def find_blocking(self, place: Place, key: str) -> str | None:
        """`find`, for a caller already off the event loop."""

    async def find_all(self, place: Place, keys: Iterable[str | None]) -> dict[str, str]:
        """`find` for several keys (None ones skipped): the IDs found, by key."""

    async def remember(self, place: Place, key: str, message_id: str) -> None:
        """Record the message that now stands for `key` at `place`."""

    async def remember_all(self, place: Place, message_ids: Mapping[str, str]) -> None:
        """`remember` several keys in one transaction."""

    async def key_of(self, place: Place, message_id: str) -> str | None:
        """The key a message was posted under (what a reaction to it is about)."""

    async def post_now(
        self,
        key: str | None,
        place: Place,
        keys: Iterable[str | None],
        post: Callable[[dict[str, str]], Awaitable[None]],
        *,
        refusals: tuple[type[BaseException], ...],
    ) -> bool:
        """Post a command's answer at once, unless the dispatcher has its row or older rows
        wait for the place (then the dispatcher sends it, in order); whether it was posted
        here. `post` gets what was posted under `keys`; one of `refusals` (nothing went out)
        gives the row back."""

    async def delivered(self, key: str | None) -> None:
        """The row behind this delivery key was posted (by other means than `post_now`)."""


class CommandSink(Protocol):
    """Where a connector's commands go: `handlers.sink.Handlers`. Every call blocks on the
    database; a connector makes it from a worker thread."""

    @property
    def countries(self) -> CountryIndex:
        """The countries, for forms and guided questions that ask for one."""

    def handle(self, command: Command) -> Message:
        """The answer to one command; bad input gets a short message, never a traceback."""

    def new_alert(self, alert: dict[str, Any], command: Command) -> Message:
        """Open a case from fields a form or a guided conversation gathered."""

    def may_start(self, command: Command, needed: Role) -> Message | None:
        """Why something needing `needed` may not even begin here; None when it may."""

    def is_bound(self, place: Place) -> bool:
        """Whether Tocsin acts at this place."""

    def disclosure(self, place: Place) -> Disclosure:
        """How much of a case this place may see now."""

    def audit(self, actor: str, place: Place, command_text: str) -> None:
        """Record a change the connector made itself at this place (a device trusted)."""

    def partner(self, name: str) -> PartnerAccess | None:
        """The partner organisation called `name`, revoked or not; None for no such partner.
        `bot.errors.Unavailable` when the database is briefly away."""

    def partner_alert(self, data: Any, partner: PartnerAccess, key: str | None) -> Accepted:
        """Open a partner's alert once per key: `AlertProblems`, `NoRoom` or `Unavailable`
        (all but the last from `bot.domain.partners`) when it cannot be taken now."""


class Sealer(Protocol):
    """Encryption at rest under TOCSIN_DATA_KEY, for secrets a connector keeps in files (the
    Matrix store's pickle key and the bot's cross-signing keys)."""

    def seal(self, text: str) -> str:
        """The text, encrypted."""

    def open(self, stored: str) -> str:
        """The text of a sealed value."""


@dataclass(frozen=True, slots=True)
class ConnectorKit:
    """What every connector is given."""

    commands: CommandSink
    ledger: Ledger
    sealer: Sealer
