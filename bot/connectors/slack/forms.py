"""Slack's modals: a new alert, a reason to skip a step, a person to assign it to; and what a
submitted alert form says, as the intake JSON."""

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


ALERT_CALLBACK = "new_alert"
IDENTITY_NOTE = "The defender's identity is recorded only in an end-to-end-encrypted room."
MAX_SUMMARY = 3000  # Slack's limit for a text input; longer accounts go through the CLI or JSON.


def _options(values: list[str]) -> list[dict[str, Any]]:
    return [{"text": _text(v.replace("_", " ")), "value": v} for v in values]


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    element = {**element, "action_id": block_id}
    return {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
        "optional": optional,
    }


def new_alert_modal(
    channel: str,
    profiles: list[str],
    threats: list[str],
    summary: str = "",
    message_ts: str = "",
) -> dict[str, Any]:
    """The form that raises an alert; it asks for no name: identities belong in encrypted rooms.
    From a message shortcut, `message_ts` names the message, so raising it twice is one case."""
    summary_input: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": True,
        "max_length": MAX_SUMMARY,
    }
    if summary:
        summary_input["initial_value"] = summary[:MAX_SUMMARY]
    return {
        "type": "modal",
        "callback_id": ALERT_CALLBACK,
        "private_metadata": f"{channel} {message_ts}".strip(),
        "title": _text("Raise urgent alert"),
        "submit": _text("Open case"),
        "close": _text("Cancel"),
        "blocks": [
            _input("country", "Country", {"type": "external_select", "min_query_length": 1}),
            _input(
                "threats", "Threats", {"type": "multi_static_select", "options": _options(threats)}
            ),
            _input(
                "profiles",
                "Defender's work",
                {"type": "multi_static_select", "options": _options(profiles)},
                optional=True,
            ),
            _input("summary", "What happened (no names here)", summary_input),
            _input("occurred_on", "Date of the incident", {"type": "datepicker"}, optional=True),
            _input(
                "severity",
                "Severity (derived from the threats if left empty)",
                {"type": "static_select", "options": _options(["critical", "high", "medium"])},
                optional=True,
            ),
            _input(
                "company",
                "Company or project involved",
                {"type": "plain_text_input", "max_length": 500},
                optional=True,
            ),
            _input(
                "home_country",
                "Company's home country",
                {"type": "external_select", "min_query_length": 1},
                optional=True,
            ),
            _input(
                "financiers",
                "Financiers (comma-separated: IFC, World Bank …)",
                {"type": "plain_text_input", "max_length": 500},
                optional=True,
            ),
            _input(
                "consent",
                "The defender agreed to",
                {
                    "type": "checkboxes",
                    "options": [
                        {
                            "text": _text("their name going to the government and embassies"),
                            "value": "government",
                        },
                        {"text": _text("their name in public UN reports"), "value": "un_public"},
                        {"text": _text("public statements and media"), "value": "media"},
                    ],
                },
                optional=True,
            ),
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": IDENTITY_NOTE,
                    }
                ],
            },
        ],
    }


def alert_from_submission(values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The intake JSON from the modal's state (validated afterwards like any alert)."""

    def field(block: str) -> dict[str, Any]:
        found: dict[str, Any] = values.get(block, {}).get(block, {})
        return found

    def selected(block: str) -> list[str]:
        return [o["value"] for o in field(block).get("selected_options") or []]

    def one(block: str) -> str | None:
        option = field(block).get("selected_option")
        return option["value"] if option else None

    alert: dict[str, Any] = {
        "country": one("country") or "",
        "threats": selected("threats"),
        "profiles": selected("profiles"),
        "summary": (field("summary").get("value") or "").strip(),
        "consent": {use: True for use in selected("consent")},
    }
    if field("occurred_on").get("selected_date"):
        alert["occurred_on"] = field("occurred_on")["selected_date"]
    if one("severity"):
        alert["severity"] = one("severity")
    business = {
        "company": (field("company").get("value") or "").strip() or None,
        "home_country": one("home_country"),
        "financiers": [
            f.strip() for f in (field("financiers").get("value") or "").split(",") if f.strip()
        ],
    }
    if any(business.values()):
        alert["business"] = {k: v for k, v in business.items() if v}
    return alert
