"""Slack modals: a reason to skip a step, a person to assign it to (and, later, a new alert)."""

from __future__ import annotations

from typing import Any

MAX_TITLE = 24


def _text(value: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": value, "emoji": True}


def reason_modal(code: str, n: int, channel: str) -> dict[str, Any]:
    """Ask why a step is skipped (a reason is required, for the record)."""
    return {
        "type": "modal",
        "callback_id": "skip_reason",
        "private_metadata": f"{code} {n} {channel}",
        "title": _text(f"Skip step {n}"[:MAX_TITLE]),
        "submit": _text("Skip"),
        "close": _text("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": _text(f"Why is step {n} of {code} skipped?"),
                "element": {"type": "plain_text_input", "action_id": "reason", "max_length": 500},
            }
        ],
    }


def assign_modal(code: str, n: int, channel: str) -> dict[str, Any]:
    """Choose who takes a step."""
    return {
        "type": "modal",
        "callback_id": "assign_step",
        "private_metadata": f"{code} {n} {channel}",
        "title": _text(f"Assign step {n}"[:MAX_TITLE]),
        "submit": _text("Assign"),
        "close": _text("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "person",
                "label": _text(f"Who takes step {n} of {code}?"),
                "element": {"type": "users_select", "action_id": "person"},
            }
        ],
    }
