"""The handlers as a connector's command sink (`bot.connectors.contract.CommandSink`): what a
connector may ask of Tocsin, every call blocking on the database (made from a worker thread)."""

from __future__ import annotations

from typing import Any

from bot.domain.access import Role
from bot.domain.case import Disclosure
from bot.domain.commands.request import Command
from bot.domain.countries import CountryIndex
from bot.domain.messages import Message
from bot.domain.partners import Accepted, PartnerAccess
from bot.domain.places import Place
from handlers import partner_intake
from handlers.access import is_bound
from handlers.admin import audit_place_change
from handlers.commands import handle, handle_new_alert, may_start
from handlers.context import Services


class Handlers:
    """Commands, forms, guided alerts and partners' alerts, answered by the handlers."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def countries(self) -> CountryIndex:
        """The countries, for forms and guided questions that ask for one."""
        return self._services.world.countries

    def handle(self, command: Command) -> Message:
        """The answer to one command."""
        return handle(command, self._services)

    def new_alert(self, alert: dict[str, Any], command: Command) -> Message:
        """Open a case from fields a form or a guided conversation gathered."""
        return handle_new_alert(alert, command, self._services)

    def may_start(self, command: Command, needed: Role) -> Message | None:
        """Why something needing `needed` may not even begin here; None when it may."""
        return may_start(command, self._services, needed)

    def is_bound(self, place: Place) -> bool:
        """Whether Tocsin acts at this place."""
        return is_bound(place, self._services)

    def disclosure(self, place: Place) -> Disclosure:
        """How much of a case this place may see now."""
        return self._services.disclosure_here(place)

    def audit(self, actor: str, place: Place, command_text: str) -> None:
        """Record a change the connector made itself at this place."""
        audit_place_change(self._services, actor, place, command_text)

    def partner(self, name: str) -> PartnerAccess | None:
        """The partner called `name`, revoked or not; None for no such partner."""
        return partner_intake.find_partner_named(name, self._services)

    def partner_alert(self, data: Any, partner: PartnerAccess, key: str | None) -> Accepted:
        """Open a partner's alert once per key, and wake the dispatcher for its cards."""
        accepted = partner_intake.partner_alert(
            data, partner=partner, key=key, services=self._services
        )
        self._services.changes.notify()  # the dispatcher posts the new case's cards now
        return accepted
