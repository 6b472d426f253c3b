"""Finding the case a command names, and refusing changes to closed ones."""

from __future__ import annotations

from bot.domain import lifecycle
from bot.domain.lifecycle import TransitionError
from bot.store.changes import case_state
from bot.store.models import Case


def found(case: Case | None, code: str) -> Case:
    """The case, or a TransitionError saying there is none."""
    if case is None:
        raise TransitionError(f"No case {code}. See the open cases with: ua list")
    return case


def open_case_for_change(case: Case | None, code: str) -> Case:
    checked = found(case, code)
    lifecycle.ensure_open(case_state(checked))
    return checked
