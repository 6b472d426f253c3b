"""One grammar for every surface: `ua …` words into commands, with helpful errors."""

from __future__ import annotations

import re

import pytest

from bot.domain.commands.forms import CaseChange, CommandError, Help, ListCases, NewCase, ShowCase
from bot.domain.commands.table import parse_command
from bot.domain.commands.words import normalise_case_code, strip_prefix


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ua list", "list"),
        ("/ua list", "list"),
        ("!ua  show UA-2026-0001", "show UA-2026-0001"),
        ("ua", ""),
        ("uap list", None),
        ("hello", None),
    ],
)
def test_prefixes_of_every_surface_are_recognised(line: str, words: str | None) -> None:
    assert strip_prefix(line) == words


def test_new_case_words_become_the_intake_json() -> None:
    parsed = parse_command(
        "new country=HN threats=arbitrary_detention,torture profiles=journalist "
        'summary="held at a police station" defender="Ana Example" organisation=Radio '
        'company="Example Mining" home_country=CA financiers=IFC,"World Bank" consent=government,media'
    )
    assert parsed == NewCase(
        alert={
            "country": "HN",
            "threats": ["arbitrary_detention", "torture"],
            "profiles": ["journalist"],
            "summary": "held at a police station",
            "defender": {"name": "Ana Example", "organisation": "Radio"},
            "business": {
                "company": "Example Mining",
                "home_country": "CA",
                "financiers": ["IFC", "World Bank"],
            },
            "consent": {"government": True, "media": True},
        }
    )


def test_smart_quotes_from_phones_are_treated_as_quotes() -> None:
    parsed = parse_command("new country=HN threats=raid summary=“office searched at night”")
    assert isinstance(parsed, NewCase)
    assert parsed.alert["summary"] == "office searched at night"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("list", ListCases()),
        ("list all", ListCases(include_closed=True)),
        ("show ua-2026-42", ShowCase(code="UA-2026-0042")),
        ("SHOW UA20260042", ShowCase(code="UA-2026-0042")),
        ("help", Help()),
        ("help new", Help(topic="new")),
        ("", Help()),
    ],
)
def test_commands_parse(words: str, expected: object) -> None:
    assert parse_command(words) == expected


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("frobnicate", "Unknown command 'frobnicate'"),
        ("lst", "Did you mean 'ua list'?"),
        ("new contry=HN", "did you mean 'country'?"),
        ("new HN", "is not key=value"),
        ("new country=HN country=GT", "given twice"),
        ('new summary="never closed', "quote is not closed"),
        ("new consent=press", "accepted: government, un_public, media"),
        ("show 42", "case codes look like UA-2026-0042"),
        ("show", "Usage: ua show"),
        ("list everything", "Usage: ua list"),
    ],
)
def test_unknown_words_get_a_short_usage_line(words: str, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(words)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_case_codes_are_canonical() -> None:
    assert normalise_case_code(" ua-2026-7 ") == "UA-2026-0007"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("claim UA-2026-0001 ²", "'²' is not a step number"),
        ("reply UA-2026-0001 ² thanks", "'²' is not a target number"),
        ('reply UA-2026-0001 T1 ""', "Say what the target answered"),
        ("snooze UA-2026-0001 1 99999999999w", "is not a duration"),
        ("snooze UA-2026-0001 1 3000000d", "longer than a year"),
    ],
)
def test_odd_numbers_and_durations_get_a_clear_message(words: str, message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        parse_command(words)


@pytest.mark.parametrize(
    ("words", "text"),
    [
        (
            'note UA-2026-0001 "Ana" said she\'d call "tomorrow"',
            '"Ana" said she\'d call "tomorrow"',
        ),
        ('note UA-2026-0001 "the whole note quoted"', "the whole note quoted"),
        ("note UA-2026-0001 \u201cher lawyer\u201d called", "\u201cher lawyer\u201d called"),
        ("note UA-2026-0001 \u201cwrapped\u201d", "wrapped"),
    ],
)
def test_free_text_keeps_what_was_typed(words: str, text: str) -> None:
    parsed = parse_command(words)
    assert isinstance(parsed, CaseChange) and parsed.text == text
