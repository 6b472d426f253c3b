"""Every setting of Tocsin in one validated object, read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.exc import ArgumentError

from bot.store.db import normalise_database_url
from bot.store.sealing import DataKeyError, Keyring


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another; the message names the variable."""


class Settings(BaseSettings):
    """Tocsin's settings. Each field is the environment variable of the same name, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = "sqlite:///./tocsin.db"

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    matrix_homeserver: str | None = None
    matrix_user_id: str | None = None
    matrix_password: SecretStr | None = None
    matrix_access_token: SecretStr | None = None
    matrix_device_id: str | None = None
    matrix_store_path: Path = Path("./matrix-store")
    matrix_allowed_inviters: Annotated[list[str], NoDecode] = Field(default_factory=list)
    matrix_require_verification: bool = False
    # The bot account's secret storage key, as `tocsin matrix bootstrap` showed it: lets a new
    # store (a new server, a lost disk) sign Tocsin's device again.
    matrix_recovery_key: SecretStr | None = None

    tocsin_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    tocsin_retention_days: int = Field(default=180, ge=1, le=36500)

    tocsin_http_host: str = "127.0.0.1"
    tocsin_http_port: int = Field(default=3000, ge=1, le=65535)
    tocsin_data_key: SecretStr | None = None
    tocsin_env: Literal["development", "production"] = "development"
    tocsin_playbook: Path | None = None
    tocsin_directory: Path | None = None
    tocsin_timezone: str = "UTC"
    # Draft appeals: the team's language (embassies, regional bodies, funds), the language of
    # drafts for UN mandates (which take en, es or fr only), and an own copy of the templates.
    tocsin_draft_language: Literal["en", "es", "fr", "pt"] = "en"
    tocsin_un_language: Literal["en", "es", "fr"] = "en"
    tocsin_templates: Path | None = None
    tocsin_supportive_governments: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["US", "EU", "CA", "NO", "CH", "GB", "NL", "FI"]
    )

    @field_validator(
        "matrix_allowed_inviters", "tocsin_supportive_governments", "tocsin_admins", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _parseable_url(cls, value: str) -> str:
        try:
            url = normalise_database_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL; use sqlite:///./tocsin.db or "
                "postgresql+psycopg://user@host:5432/dbname"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(
                "names an unsupported database; use sqlite:/// or postgresql+psycopg://"
            )
        return value

    @field_validator("tocsin_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"'{value}' is not an IANA time zone; use a name such as UTC or America/Tegucigalpa"
            ) from None
        return value

    @field_validator("slack_api_url", "matrix_homeserver")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"'{value}' must start with https:// (or http:// for a local test server)"
            )
        return value

    @field_validator("tocsin_playbook", "tocsin_directory")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"'{value}' is not a readable file")
        return value

    @field_validator("tocsin_admins")
    @classmethod
    def _admin_principals(cls, value: list[str]) -> list[str]:
        for entry in value:
            platform, _, who = entry.partition(":")
            slack_ok = platform == "slack" and who[:1] in ("U", "W") and who.isalnum()
            matrix_ok = platform == "matrix" and who.startswith("@") and ":" in who
            if not (slack_ok or matrix_ok):
                raise ValueError(
                    f"'{entry}' is not an admin: write slack:U0123ABC (the member ID from the "
                    "person's Slack profile) or matrix:@alice:example.org"
                )
        return value

    @field_validator("tocsin_data_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            Keyring(value.get_secret_value().split(","))
        except DataKeyError as error:
            raise ValueError(str(error)) from None
        return value

    @property
    def data_keys(self) -> list[str]:
        """TOCSIN_DATA_KEY as a list: the first seals, all open."""
        if self.tocsin_data_key is None:
            return []
        return [k.strip() for k in self.tocsin_data_key.get_secret_value().split(",") if k.strip()]

    @model_validator(mode="after")
    def _complete_connectors(self) -> Self:
        self._check_slack()
        self._check_matrix()
        if (self.slack_enabled or self.matrix_enabled) and not self.tocsin_admins:
            raise ValueError(
                "TOCSIN_ADMINS is empty: name who may bind channels and rooms "
                "(ua bind), e.g. TOCSIN_ADMINS=slack:U0123ABC,matrix:@alice:example.org"
            )
        return self

    def _check_slack(self) -> None:
        if self.slack_bot_token is None:
            stray = [n for n in ("slack_app_token", "slack_signing_secret") if getattr(self, n)]
            if stray:
                raise ValueError(
                    f"{stray[0].upper()} is set but SLACK_BOT_TOKEN is not: set the bot token "
                    "(xoxb-…) too, or unset it"
                )
            return
        if not self.slack_bot_token.get_secret_value().startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode, xapp-…) "
                "nor SLACK_SIGNING_SECRET (HTTP events) is: set one"
            )
        app_token = self.slack_app_token
        if app_token is not None and not app_token.get_secret_value().startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")

    def _check_matrix(self) -> None:
        matrix_names = (
            "matrix_user_id",
            "matrix_password",
            "matrix_access_token",
            "matrix_device_id",
        )
        if self.matrix_homeserver is None:
            stray = [n for n in matrix_names if getattr(self, n)]
            if stray:
                raise ValueError(
                    f"{stray[0].upper()} is set but MATRIX_HOMESERVER is not: set the homeserver "
                    "URL (https://matrix.example.org) too, or unset it"
                )
            return
        if not self.matrix_user_id:
            raise ValueError(
                "MATRIX_HOMESERVER is set but MATRIX_USER_ID (@tocsin:example.org) is not"
            )
        if not self.matrix_user_id.startswith("@") or ":" not in self.matrix_user_id:
            raise ValueError("MATRIX_USER_ID must look like @tocsin:example.org")
        if self.matrix_password is None and self.matrix_access_token is None:
            raise ValueError(
                "MATRIX_HOMESERVER is set but neither MATRIX_PASSWORD nor MATRIX_ACCESS_TOKEN is"
            )
        if self.matrix_access_token is not None and not self.matrix_device_id:
            raise ValueError(
                "MATRIX_ACCESS_TOKEN needs MATRIX_DEVICE_ID: encryption keys belong to one device"
            )
        if not self.matrix_allowed_inviters:
            raise ValueError(
                "MATRIX_ALLOWED_INVITERS is empty: list who may invite Tocsin to a room, as user "
                "IDs (@lead:example.org) or whole servers (:example.org), comma-separated"
            )
        for entry in self.matrix_allowed_inviters:
            if not (entry.startswith(":") or (entry.startswith("@") and ":" in entry)):
                raise ValueError(
                    f"MATRIX_ALLOWED_INVITERS: '{entry}' is neither a user ID "
                    "(@lead:example.org) nor a server (:example.org)"
                )

    @property
    def slack_enabled(self) -> bool:
        """Whether the Slack connector is configured."""
        return self.slack_bot_token is not None

    @property
    def matrix_enabled(self) -> bool:
        """Whether the Matrix connector is configured."""
        return self.matrix_homeserver is not None

    @property
    def timezone(self) -> ZoneInfo:
        """The organisation's time zone, for case years, due times and digests."""
        return ZoneInfo(self.tocsin_timezone)


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, or raise SettingsError with one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_one_line(error)) from None


def _one_line(error: ValidationError) -> str:
    problem = error.errors(include_url=False)[0]
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["loc"]:
        return f"{str(problem['loc'][0]).upper()}: {message}"
    return message
