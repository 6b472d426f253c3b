"""Settings fail fast at start, in one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer .env or exported variable leaks into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in [
        "DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "MATRIX_HOMESERVER",
        "MATRIX_USER_ID",
        "MATRIX_PASSWORD",
        "MATRIX_ACCESS_TOKEN",
        "MATRIX_DEVICE_ID",
        "MATRIX_STORE_PATH",
        "MATRIX_ALLOWED_INVITERS",
        "TOCSIN_HTTP_HOST",
        "TOCSIN_HTTP_PORT",
        "TOCSIN_DATA_KEY",
        "TOCSIN_PLAYBOOK",
        "TOCSIN_DIRECTORY",
        "TOCSIN_TIMEZONE",
    ]:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_safe_and_need_nothing() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./tocsin.db"
    assert settings.tocsin_http_host == "127.0.0.1"
    assert settings.tocsin_http_port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.tocsin_timezone == "UTC"
    assert not settings.slack_enabled and not settings.matrix_enabled


def test_settings_come_from_the_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("TOCSIN_TIMEZONE=America/Tegucigalpa\nTOCSIN_HTTP_PORT=8080\n")
    monkeypatch.setenv("MATRIX_ALLOWED_INVITERS", "@lead:example.org, @responder:example.org")
    settings = load_settings()
    assert settings.tocsin_timezone == "America/Tegucigalpa"
    assert settings.tocsin_http_port == 8080
    assert settings.matrix_allowed_inviters == ["@lead:example.org", "@responder:example.org"]


@pytest.mark.parametrize(
    ("environment", "variable", "hint"),
    [
        ({"TOCSIN_TIMEZONE": "Mars/Olympus"}, "TOCSIN_TIMEZONE", "IANA time zone"),
        ({"TOCSIN_HTTP_PORT": "99999"}, "TOCSIN_HTTP_PORT", "65535"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL", "unsupported database"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL", "sqlite:///"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xapp-1", "SLACK_APP_TOKEN": "xapp-2"}, "SLACK_BOT_TOKEN", "xoxb-"),
        ({"MATRIX_HOMESERVER": "https://m.example.org"}, "MATRIX_USER_ID", "@tocsin:example.org"),
        (
            {"MATRIX_HOMESERVER": "https://m.example.org", "MATRIX_USER_ID": "@t:example.org"},
            "MATRIX_PASSWORD",
            "MATRIX_ACCESS_TOKEN",
        ),
        (
            {
                "MATRIX_HOMESERVER": "https://m.example.org",
                "MATRIX_USER_ID": "@t:example.org",
                "MATRIX_ACCESS_TOKEN": "syt_x",
            },
            "MATRIX_DEVICE_ID",
            "device",
        ),
        (
            {
                "MATRIX_HOMESERVER": "https://m.example.org",
                "MATRIX_USER_ID": "@t:example.org",
                "MATRIX_PASSWORD": "fictional",
            },
            "MATRIX_ALLOWED_INVITERS",
            ":example.org",
        ),
        (
            {
                "MATRIX_HOMESERVER": "https://m.example.org",
                "MATRIX_USER_ID": "@t:example.org",
                "MATRIX_PASSWORD": "fictional",
                "MATRIX_ALLOWED_INVITERS": "lead@example.org",
            },
            "MATRIX_ALLOWED_INVITERS",
            "'lead@example.org' is neither",
        ),
        ({"MATRIX_PASSWORD": "secret"}, "MATRIX_PASSWORD", "MATRIX_HOMESERVER"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
            "TOCSIN_ADMINS",
            "slack:U0123ABC",
        ),
        ({"TOCSIN_ADMINS": "slack:@alice"}, "TOCSIN_ADMINS", "member ID"),
        ({"TOCSIN_ADMINS": "matrix:alice"}, "TOCSIN_ADMINS", "matrix:@alice:example.org"),
        ({"MATRIX_HOMESERVER": "matrix.example.org"}, "MATRIX_HOMESERVER", "https://"),
        (
            {"TOCSIN_PLAYBOOK": "/nonexistent/playbook.yaml"},
            "TOCSIN_PLAYBOOK",
            "not a readable file",
        ),
    ],
)
def test_invalid_settings_fail_in_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], variable: str, hint: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert variable in message
    assert hint in message
    assert "\n" not in message


def test_secrets_are_not_shown_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sign-secret")
    monkeypatch.setenv("TOCSIN_ADMINS", "slack:U0ADMIN1")
    assert "very-secret" not in repr(load_settings())


def test_bare_postgres_urls_get_the_psycopg_driver() -> None:
    from bot.store.db import normalise_database_url

    assert normalise_database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_database_url("sqlite:///./x.db").drivername == "sqlite"
