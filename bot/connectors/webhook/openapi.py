"""The partner API's OpenAPI 3.1 document, generated from the same pydantic models that
validate requests and shape responses. `python -m bot.connectors.webhook.openapi` prints it;
the copy kept in the repository (`bot/connectors/webhook/openapi.json`) is checked against it
by the tests."""

from __future__ import annotations

import json
import sys
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from bot.domain.alert import Alert
from bot.domain.partners import MAX_BODY_BYTES, WINDOW_S

CASE_CODE_PATTERN = r"^UA-\d{4}-\d{4,}$"


class AlertAccepted(BaseModel):
    """The case an alert maps to."""

    code: str = Field(pattern=CASE_CODE_PATTERN, description="The case code, e.g. UA-2026-0042")
    status: Literal["opened", "existing", "duplicate"] = Field(
        description="opened: this request opened it (201); existing: the same Idempotency-Key or "
        "source.external_id opened it before (200); duplicate: an open case of the same defender, "
        "country and threats from the last 24 hours, to which the alert was added (200)"
    )
    destinations: list[str] = Field(
        description="Where the new case was posted (slack:CHANNEL, matrix:!room:server); empty "
        "when no case was opened"
    )


class Problem(BaseModel):
    """One thing wrong with the alert."""

    field: str = Field(description="The field, as a path: country, defender.name, threats[1]")
    message: str


class Problems(BaseModel):
    """Every problem found; nothing was stored."""

    problems: list[Problem]


class ErrorBody(BaseModel):
    """Why the request was refused; nothing was stored."""

    error: str


# The three headers of a signed request: sent together, as one security requirement.
SIGNING_HEADERS = {
    "X-Tocsin-Partner": "Your partner name, as given to you with your secret.",
    "X-Tocsin-Timestamp": f"Unix seconds when you signed; refused when more than "
    f"{WINDOW_S // 60} minutes off.",
    "X-Tocsin-Signature": "v1= and the hex HMAC-SHA256, under your secret, of "
    "'v1:{timestamp}:{raw body}' (Slack's request-signing scheme).",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Your id for this alert: the same key returns the same case (200) instead "
    "of a second one; without it, source.external_id does the same.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of `POST /v1/alerts`."""
    _, schemas = models_json_schema(
        [
            (Alert, "validation"),
            (AlertAccepted, "serialization"),
            (Problems, "serialization"),
            (ErrorBody, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    refused = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    accepted = {"application/json": {"schema": {"$ref": "#/components/schemas/AlertAccepted"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tocsin partner intake",
            "version": "1",
            "description": "Send an urgent-action alert from a partner's web form or case "
            "system. Every request is signed with the partner's own secret.",
        },
        "paths": {
            "/v1/alerts": {
                "post": {
                    "operationId": "createAlert",
                    "summary": "Raise an urgent-action alert: opens a case once per key",
                    "security": [{name: [] for name in SIGNING_HEADERS}],
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "description": f"The alert, as JSON of at most {MAX_BODY_BYTES:,} bytes.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Alert"}}
                        },
                    },
                    "responses": {
                        "201": {"description": "A case was opened", "content": accepted},
                        "200": {"description": "The alert maps to a case", "content": accepted},
                        "401": {
                            "description": "Unknown or revoked partner, bad signature, or a "
                            "timestamp outside the window",
                            "content": refused,
                        },
                        "413": {"description": "The body is over 64 KB", "content": refused},
                        "415": {"description": "The body is not JSON", "content": refused},
                        "422": {
                            "description": "The alert is not valid",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Problems"}
                                }
                            },
                        },
                        "429": {
                            "description": "Over the partner's rate limit; wait Retry-After "
                            "seconds",
                            "headers": {
                                "Retry-After": {"schema": {"type": "integer", "minimum": 1}}
                            },
                            "content": refused,
                        },
                        "503": {
                            "description": "Tocsin's database is not answering; send the same "
                            "request (same Idempotency-Key) again later",
                            "content": refused,
                        },
                    },
                }
            }
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                name: {"type": "apiKey", "in": "header", "name": name, "description": text}
                for name, text in SIGNING_HEADERS.items()
            },
        },
    }


def main() -> int:
    json.dump(openapi_document(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
