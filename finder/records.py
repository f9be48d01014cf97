"""The Record: the one validated shape every source produces.

Modelled on HSDS / Open Referral UK where it fits (organisation, service,
location, service area, contact, cost), specialised for physiotherapy. The
closed vocabularies live in :mod:`finder.vocab` and are re-exported here.

Text fields are stored exactly as given (after trimming); they are untrusted and
every page must escape them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from finder.errors import InvalidPostcode, InvalidRecord, InvalidValue, Problem
from finder.geo.postcode import normalise_postcode
from finder.hours import OpeningHours, coerce_hours
from finder.vocab import (
    CONDITIONS,
    FUNDING,
    GENDERS,
    LANGUAGES,
    MEMBERSHIPS,
    PRACTISING_STATUSES,
    REFERRAL_ROUTES,
    REGISTRATION_STATUSES,
    SETTINGS,
    SPECIALISMS,
    TREATMENTS,
    VOCABULARIES,
    Vocabulary,
)

__all__ = [
    "CONDITIONS",
    "FUNDING",
    "GENDERS",
    "LANGUAGES",
    "MEMBERSHIPS",
    "PRACTISING_STATUSES",
    "REFERRAL_ROUTES",
    "REGISTRATION_STATUSES",
    "SETTINGS",
    "SPECIALISMS",
    "TREATMENTS",
    "VOCABULARIES",
    "HomeVisits",
    "Location",
    "Provenance",
    "Record",
    "ReferralRoute",
    "Registration",
    "record_problems",
    "trusted",
    "validate_record",
]

#: Longest free text we keep in one field. Anything longer is an input error,
#: not something to truncate silently.
MAX_TEXT = 4000
MAX_SHORT_TEXT = 300

HCPC_NUMBER = re.compile(r"^PH\d{1,7}$")


def _vocab(vocabulary: Vocabulary) -> Any:
    def check(value: Any) -> str:
        try:
            return vocabulary.check(value)
        except InvalidValue as exc:
            raise ValueError(exc.detail) from None

    return BeforeValidator(check)


def _unique(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def _postcode(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a postcode as text, e.g. 'LS6 2AB'")
    try:
        return normalise_postcode(value)
    except InvalidPostcode as exc:
        raise ValueError(exc.detail) from None


def _hcpc_number(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text such as 'PH12345'")
    squashed = re.sub(r"\s+", "", value).upper()
    if not HCPC_NUMBER.match(squashed):
        raise ValueError(
            f"'{value.strip()[:40]}' is not an HCPC physiotherapist number: "
            "expected 'PH' followed by up to 7 digits, e.g. 'PH123456'"
        )
    return squashed


def _clean_text(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _https_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#].[^\s]*$", value, re.IGNORECASE):
        raise ValueError(f"'{value[:60]}' is not a web address starting with http:// or https://")
    return value


def _required_name(value: str | None) -> str:
    if not value:
        raise ValueError("is required: the practitioner's name")
    return value


def _ods_code(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9]{3,10}$", value):
        raise ValueError(f"'{value[:20]}' is not an NHS ODS code (3 to 10 letters and digits, e.g. 'B86001')")
    return value.upper()


def _email(value: str) -> str:
    if not re.match(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$", value):
        raise ValueError(f"'{value[:60]}' is not an email address")
    return value


def _text(limit: int) -> Any:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError("expected text")
        value = value.strip()
        if len(value) > limit:
            raise ValueError(f"is {len(value):,} characters long; the most we keep is {limit:,}")
        return value or None

    return BeforeValidator(check)


Text = Annotated[str | None, _text(MAX_TEXT)]
ShortText = Annotated[str | None, _text(MAX_SHORT_TEXT)]
Postcode = Annotated[str, BeforeValidator(_postcode)]
Url = Annotated[
    str | None, BeforeValidator(_clean_text), AfterValidator(lambda v: v and _https_url(v))
]
Email = Annotated[str | None, BeforeValidator(_clean_text), AfterValidator(lambda v: v and _email(v))]

Specialism = Annotated[str, _vocab(SPECIALISMS)]
Condition = Annotated[str, _vocab(CONDITIONS)]
Treatment = Annotated[str, _vocab(TREATMENTS)]
Setting = Annotated[str, _vocab(SETTINGS)]
Funding = Annotated[str, _vocab(FUNDING)]
RouteCode = Annotated[str, _vocab(REFERRAL_ROUTES)]
Membership = Annotated[str, _vocab(MEMBERSHIPS)]
Gender = Annotated[str, _vocab(GENDERS)]
Language = Annotated[str, _vocab(LANGUAGES)]
RegistrationStatus = Annotated[str, _vocab(REGISTRATION_STATUSES)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


_M = TypeVar("_M", bound=BaseModel)
_FIELDS: dict[type[BaseModel], frozenset[str]] = {}


def trusted(cls: type[_M], **values: Any) -> _M:
    """A model from values validated on the way in (a stored row): no validation, every field given.

    What ``model_construct`` does without its per-field loop over aliases and defaults, which cost
    a third of reading 20 listings (about 8 models each). Every field must be given, so a field
    added to a model and forgotten by a reader fails here, loudly, instead of going missing.
    """
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = frozenset(cls.__pydantic_fields__)
    if values.keys() != fields:
        missing, extra = sorted(fields - values.keys()), sorted(values.keys() - fields)
        raise TypeError(f"{cls.__name__}: every field is required here; missing {missing}, unknown {extra}")
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


class Registration(_Model):
    """HCPC registration as last checked."""

    number: Annotated[str | None, BeforeValidator(_clean_text), AfterValidator(lambda v: v and _hcpc_number(v))] = None
    status: RegistrationStatus = "unchecked"
    checked_on: date | None = None
    period_to: date | None = None
    register_name: ShortText = None
    needs_review: ShortText = None

    @model_validator(mode="after")
    def _status_needs_evidence(self) -> Registration:
        if self.status not in ("unchecked",) and self.checked_on is None:
            raise ValueError(
                f"registration status '{self.status}' needs the date it was checked "
                "(registration_checked_on); leave the status as 'unchecked' if it has not been checked"
            )
        if self.status not in ("unchecked", "not_found") and self.number is None:
            raise ValueError(f"registration status '{self.status}' needs an HCPC number")
        return self

    @property
    def is_practising(self) -> bool:
        return self.status in PRACTISING_STATUSES


class Location(_Model):
    """One place a practitioner sees patients (HSDS location + service_at_location)."""

    name: ShortText = None
    setting: Setting
    address: ShortText = None
    town: ShortText = None
    postcode: Postcode | None = None
    lat: float | None = Field(default=None, ge=49.0, le=61.5)
    lon: float | None = Field(default=None, ge=-9.0, le=2.5)
    ods_code: Annotated[str | None, BeforeValidator(_clean_text), AfterValidator(lambda v: v and _ods_code(v))] = None
    wheelchair_access: bool | None = None
    parking: bool | None = None
    #: Weekly intervals plus a note; text such as 'Mon-Fri 9:00-17:00' is read by finder.hours.
    opening_hours: Annotated[OpeningHours | None, BeforeValidator(coerce_hours)] = None
    phone: ShortText = None

    @model_validator(mode="after")
    def _placed(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        if self.setting != "online" and self.postcode is None and self.lat is None:
            raise ValueError(
                f"a '{self.setting}' location needs a postcode (or lat and lon); "
                "only 'online' locations may have neither"
            )
        return self


class HomeVisits(_Model):
    """Home visits within a radius of a base postcode (an HSDS service area)."""

    base_postcode: Postcode
    coverage_radius_km: float = Field(gt=0, le=200)
    lat: float | None = Field(default=None, ge=49.0, le=61.5)
    lon: float | None = Field(default=None, ge=-9.0, le=2.5)


class ReferralRoute(_Model):
    """Who may refer, optionally only for some condition groups (specialisms)
    and not for some conditions.

    NHS services often take self-referrals for musculoskeletal problems only,
    and need a GP or specialist referral for neurological conditions; some take
    self-referrals for anything but, say, multiple sclerosis (``not_for``).
    Which route applies to whom is decided in :mod:`finder.safety`.
    """

    route: RouteCode
    only_for: list[Specialism] = Field(default_factory=list)
    not_for: list[Condition] = Field(default_factory=list)

    @field_validator("only_for", "not_for")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return _unique(value)

    @property
    def is_limited(self) -> bool:
        return bool(self.only_for or self.not_for)

    def applies_to(self, specialism: str | None) -> bool:
        return not self.only_for or specialism is None or specialism in self.only_for


class Provenance(_Model):
    """Where this record came from."""

    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]
    source_id: Annotated[str, Field(min_length=1, max_length=200)]
    source_url: Url = None
    fetched_at: datetime | None = None
    last_verified_on: date | None = None


_Unique = AfterValidator(_unique)
Languages = Annotated[list[Language], _Unique]
Memberships = Annotated[list[Membership], _Unique]
Specialisms = Annotated[list[Specialism], _Unique]
Conditions = Annotated[list[Condition], _Unique]
Treatments = Annotated[list[Treatment], _Unique]
Fundings = Annotated[list[Funding], _Unique]


class Record(_Model):
    """One practitioner listing, as every source must produce it."""

    # identity
    name: Annotated[str | None, _text(MAX_SHORT_TEXT), AfterValidator(_required_name)]
    practice_name: ShortText = None
    gender: Gender | None = None
    languages: Languages = Field(default_factory=list)
    memberships: Memberships = Field(default_factory=list)
    bio: Text = None
    # registration
    registration: Registration = Field(default_factory=Registration)
    # clinical
    specialisms: Specialisms = Field(default_factory=list)
    conditions: Conditions = Field(default_factory=list)
    treatments: Treatments = Field(default_factory=list)
    # where and how
    locations: list[Location] = Field(default_factory=list, max_length=50)
    home_visits: HomeVisits | None = None
    # access
    funding: Fundings = Field(default_factory=list)
    referral_routes: list[ReferralRoute] = Field(default_factory=list, max_length=20)
    referral_notes: Text = None
    referral_email: Email = None
    referral_phone: ShortText = None
    nhs_waiting_weeks: int | None = Field(default=None, ge=0, le=520)
    session_limit: int | None = Field(default=None, ge=1, le=200)
    fee_initial_gbp: Decimal | None = Field(default=None, ge=0, le=10000, decimal_places=2)
    fee_follow_up_gbp: Decimal | None = Field(default=None, ge=0, le=10000, decimal_places=2)
    fees_note: ShortText = None
    accepting_new_patients: bool | None = None
    # contact
    phone: ShortText = None
    email: Email = None
    website: Url = None
    booking_url: Url = None
    # provenance
    provenance: Provenance
    is_sample: bool = False

    @model_validator(mode="after")
    def _somewhere(self) -> Record:
        if not self.locations and self.home_visits is None:
            raise ValueError("a practitioner needs at least one location or home visits")
        return self

    # ---- derived facts used by the index, pages and API (one place for each rule) ----

    @property
    def settings(self) -> list[str]:
        found = [loc.setting for loc in self.locations]
        return _unique(found)

    @property
    def visits_home(self) -> bool:
        return self.home_visits is not None

    @property
    def route_codes(self) -> list[str]:
        return _unique([r.route for r in self.referral_routes])

    def routes_for(self, specialism: str | None) -> list[str]:
        """Referral routes that apply to a condition group (e.g. 'neurological')."""
        return _unique([r.route for r in self.referral_routes if r.applies_to(specialism)])

    @property
    def self_referral_for_all(self) -> bool:
        return any(r.route == "self_referral" and not r.is_limited for r in self.referral_routes)

    @property
    def wheelchair_access(self) -> bool:
        return any(loc.wheelchair_access for loc in self.locations)

    def content_hash(self) -> str:
        """Stable hash of everything but fetch timestamps: unchanged input, unchanged hash."""
        data = self.model_dump(mode="json", exclude={"provenance": {"fetched_at"}})
        for route in data["referral_routes"]:
            # Routes without condition limits hash as before not_for existed: no spurious "changed".
            if not route.get("not_for"):
                route.pop("not_for", None)
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def record_problems(error: ValidationError, column_of: Any = None) -> list[Problem]:
    """Turn a pydantic error into problems naming a column and what is allowed.

    ``column_of`` maps a pydantic location tuple to a column name (the CSV reader
    passes its own mapping); by default the dotted field path is used.
    """
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item.get("loc", ()))
        column = column_of(loc) if column_of else ".".join(str(p) for p in loc) or None
        message = item.get("msg", "invalid value")
        message = re.sub(r"^(Value error|Assertion failed), ", "", message)
        if item.get("type") == "extra_forbidden":
            message = "is not a field we know"
        problems.append(Problem(row=None, column=column, message=message))
    return problems


def validate_record(data: dict[str, Any]) -> Record:
    """Validate a mapping into a Record, raising InvalidRecord listing every problem."""
    try:
        return Record.model_validate(data)
    except ValidationError as exc:
        raise InvalidRecord(record_problems(exc)) from None
