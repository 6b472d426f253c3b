"""The alert a responder raises: validated, normalised, ready to route."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain.countries import CountryIndex
from bot.domain.text import clean_all
from bot.domain.vocabulary import Perpetrator, Profile, Severity, Threat, derive_severity

MAX_TEXT = 20_000
MAX_SHORT_TEXT = 500

E = TypeVar("E", bound=StrEnum)


class AlertError(ValueError):
    """Bad alert input, with the field it concerns and a one-line explanation."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def _vocabulary_term(enum: type[E], noun: str) -> Any:
    """A validator that accepts a term of `enum` and names every accepted term otherwise."""

    def check(value: Any) -> Any:
        if isinstance(value, enum):
            return value
        text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        accepted = [member.value for member in enum]
        if text in accepted:
            return enum(text)
        close = difflib.get_close_matches(text, accepted, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"'{value}' is not a known {noun}{hint}; accepted: {', '.join(accepted)}")

    return BeforeValidator(check)


ProfileTerm = Annotated[Profile, _vocabulary_term(Profile, "profile")]
ThreatTerm = Annotated[Threat, _vocabulary_term(Threat, "threat")]
SeverityTerm = Annotated[Severity, _vocabulary_term(Severity, "severity")]
PerpetratorTerm = Annotated[Perpetrator, _vocabulary_term(Perpetrator, "perpetrator")]
ShortText = Annotated[str, Field(min_length=1, max_length=MAX_SHORT_TEXT)]
LongText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Defender(_Strict):
    """Who is at risk: the sensitive part of a case, stored apart from it."""

    name: ShortText | None = None
    organisation: ShortText | None = None
    gender: ShortText | None = None
    work: LongText | None = Field(
        default=None,
        description="The defender's human rights work, which UN submissions ask for",
        examples=["Represents farming communities in a land dispute with a mining company"],
    )


class Business(_Strict):
    """A company or financed project behind the threat."""

    company: ShortText | None = None
    home_country: str | None = None
    financiers: tuple[ShortText, ...] = ()

    @field_validator("home_country")
    @classmethod
    def _known_country(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _resolve_country(value, info)


class Consent(_Strict):
    """What the defender agreed to, per use; unknown means no."""

    government: bool = False
    un_public: bool = False
    media: bool = False


class Source(_Strict):
    """Who reported the alert (confidential) and the partner's own reference."""

    reported_by: ShortText | None = None
    external_id: ShortText | None = None


class Alert(_Strict):
    """An urgent-action alert, as the intake JSON and the `ua new` command describe it."""

    country: str = Field(
        description="ISO 3166 code (HN, HND) or a common name (Honduras, Ivory Coast)",
        examples=["HN", "Colombia"],
    )
    threats: tuple[ThreatTerm, ...] = Field(min_length=1, examples=[["arbitrary_detention"]])
    summary: str = Field(
        min_length=1, max_length=MAX_TEXT, examples=["Held at a police station since dawn"]
    )
    profiles: tuple[ProfileTerm, ...] = ()
    occurred_on: date | None = None
    severity: SeverityTerm | None = None
    defender: Defender = Defender()
    perpetrators: tuple[PerpetratorTerm, ...] = ()
    place: ShortText | None = Field(
        default=None,
        description="Where it happened: town or region",
        examples=["Villa Ejemplo, northern district"],
    )
    domestic_actions: LongText | None = Field(
        default=None,
        description="Actions already taken in the country (a police complaint, habeas corpus …)",
    )
    earlier_incidents: LongText | None = Field(
        default=None, description="Earlier threats or attacks against the defender"
    )
    business: Business | None = None
    consent: Consent = Consent()
    source: Source = Source()
    # Open a case even when one for the same defender, country and threats is a day old or less.
    separate: bool = False

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_country(value, info)

    @field_validator("threats", "profiles", "perpetrators")
    @classmethod
    def _no_repeats(cls, value: tuple[StrEnum, ...]) -> tuple[StrEnum, ...]:
        return tuple(dict.fromkeys(value))

    @property
    def effective_severity(self) -> Severity:
        """The severity given, or the one the threats imply."""
        return self.severity or derive_severity(set(self.threats))


def _resolve_country(value: str, info: ValidationInfo) -> str:
    countries = (info.context or {}).get("countries")
    if not isinstance(countries, CountryIndex):
        raise RuntimeError("parse_alert needs a CountryIndex in the validation context")
    return countries.resolve(value).alpha2


NOT_AN_OBJECT = "an alert must be a JSON object with at least country, threats, summary"


def parse_alert(data: Any, countries: CountryIndex) -> Alert:
    """Validate raw intake data into an Alert, or raise AlertError naming the first bad field."""
    alert, problems = checked_alert(data, countries)
    if alert is None:
        raise problems[0]
    return alert


def checked_alert(
    data: Any, countries: CountryIndex, *, strict: bool = False
) -> tuple[Alert | None, list[AlertError]]:
    """The valid Alert, or None and every problem found (each naming its field). `strict`
    takes JSON types as the API documents them (no 0 for false, no number for a date), for
    machines; people typing `separate=yes` get the lenient reading."""
    if not isinstance(data, dict):
        return None, [AlertError("", NOT_AN_OBJECT)]
    context = {"countries": countries}
    try:
        if strict:
            raw = json.dumps(clean_all(data), ensure_ascii=False)
            return Alert.model_validate_json(raw, strict=True, context=context), []
        return Alert.model_validate(clean_all(data), context=context), []
    except ValidationError as error:
        return None, [_problem(p) for p in error.errors(include_url=False)]


def _problem(problem: Any) -> AlertError:
    field = _field_path(problem["loc"])
    kind = problem["type"]
    if kind == "missing":
        return AlertError(field, "is required")
    if kind == "extra_forbidden":
        return AlertError(
            field, f"is not an alert field; accepted: {_accepted_fields(problem['loc'])}"
        )
    if kind == "string_too_long":
        limit = problem.get("ctx", {}).get("max_length")
        return AlertError(field, f"is too long: at most {limit:,} characters")
    if kind == "too_short" and problem["loc"][-1] == "threats":
        return AlertError(field, "name at least one threat")
    message = str(problem["msg"]).removeprefix("Value error, ")
    return AlertError(field, message)


def _field_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _accepted_fields(loc: Sequence[int | str]) -> str:
    model: type[BaseModel] = Alert
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        model = next((a for a in nested if issubclass(a, BaseModel)), model)
    return ", ".join(model.model_fields)
