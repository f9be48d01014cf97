"""How a stored practitioner is shown: one place for the wording pages and API share.

The registration badge, distances, referral routes and "how to get seen" lines
are computed here so the HTML pages, the plain-text referral summary and the
JSON API never disagree. Nothing here marks text as safe: templates escape it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from finder.hours import OpeningHours, status_at
from finder.models import StoredPractitioner
from finder.records import Location as PlaceOfWork
from finder.records import Record
from finder.search.query import Hit
from finder.vocab import PRACTISING_STATUSES, VOCABULARIES

KM_PER_MILE = 1.609344


def label(vocabulary: str, code: str) -> str:
    return VOCABULARIES[vocabulary].label_of(code)


def labels(vocabulary: str, codes: list[str] | tuple[str, ...]) -> list[str]:
    return [label(vocabulary, code) for code in codes]


def uk_date(value: date | datetime | None) -> str:
    """``3 March 2025``: the date style UK readers expect (no ambiguous 03/04)."""
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


def distance_text(km: float | None) -> str:
    """``3.2 km (2.0 miles)``; under 1 km stays in km with one decimal."""
    if km is None:
        return ""
    miles = km / KM_PER_MILE
    return f"{km:.1f} km ({miles:.1f} {'mile' if round(miles, 1) == 1 else 'miles'})"


def external_url(value: str | None) -> str:
    """Only http(s) addresses become links; anything else (javascript:, data:) is neutralised."""
    if value and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return "#"


def money(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    amount = Decimal(str(value))
    return f"£{amount:,.0f}" if amount == amount.to_integral_value() else f"£{amount:,.2f}"


# ---- registration -----------------------------------------------------------


@dataclass(frozen=True)
class RegistrationView:
    status: str
    label: str
    is_practising: bool
    number: str | None
    checked_on: date | None
    badge: str  # the short line shown on every result
    tone: str  # "ok", "caution", "warning", "unknown": picks the badge style
    help: str


def registration_view(record: Record) -> RegistrationView:
    """The badge: "Registered with the HCPC (checked 3 March 2025)" only for practising statuses."""
    reg = record.registration
    status = reg.status or "unchecked"
    vocab = VOCABULARIES["registration_status"]
    checked = f" (checked {uk_date(reg.checked_on)})" if reg.checked_on else ""
    practising = status in PRACTISING_STATUSES
    if status == "registered":
        badge, tone = f"Registered with the HCPC{checked}", "ok"
    elif status == "conditions_of_practice":
        badge, tone = f"Registered with the HCPC, with conditions of practice{checked}", "caution"
    elif status == "unchecked":
        badge, tone = "HCPC registration not yet checked: check it yourself", "unknown"
    else:
        badge, tone = f"{vocab.label_of(status)}{checked}: not registered to practise", "warning"
    return RegistrationView(
        status=status,
        label=vocab.label_of(status),
        is_practising=practising,
        number=reg.number,
        checked_on=reg.checked_on,
        badge=badge,
        tone=tone,
        help=vocab.help.get(status, ""),
    )


# ---- referral routes ----------------------------------------------------------


@dataclass(frozen=True)
class RouteView:
    route: str
    label: str
    only_for: tuple[str, ...]
    only_for_labels: tuple[str, ...]

    @property
    def text(self) -> str:
        if not self.only_for:
            return f"{self.label}: for all conditions"
        return f"{self.label}: only for {join_words(list(self.only_for_labels))}"


def join_words(words: list[str], conjunction: str = "and") -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def route_views(record: Record) -> list[RouteView]:
    return [
        RouteView(
            route=r.route,
            label=label("referral_route", r.route),
            only_for=tuple(r.only_for),
            only_for_labels=tuple(label("specialism", s) for s in r.only_for),
        )
        for r in record.referral_routes
    ]


def self_referral_scope(record: Record, specialism: str | None = None) -> str:
    """"all" (for this condition group, or for everything), "some" (only some groups) or "none"."""
    if specialism:
        return "all" if "self_referral" in record.routes_for(specialism) else "none"
    if record.self_referral_for_all:
        return "all"
    if "self_referral" in record.route_codes:
        return "some"
    return "none"


#: Who refers, as it reads in "a referral from ..." (closed list: finder.vocab.REFERRAL_ROUTES).
REFERRERS = {
    "gp": "your GP",
    "ms_nurse": "an MS nurse",
    "neurologist": "a neurologist",
    "consultant": "a consultant",
    "other_professional": "another health professional",
}


def _from_whom(routes: list[str]) -> str:
    return join_words([REFERRERS.get(r, label("referral_route", r)) for r in routes], "or")


def next_step(record: Record, specialism: str | None = None) -> str:
    """One sentence telling a patient how to get seen."""
    scope = self_referral_scope(record, specialism)
    contact = contact_phrase(record)
    if scope == "all":
        return f"You can refer yourself{': ' + contact if contact else ''}."
    others = [r for r in record.routes_for(specialism) if r != "self_referral"]
    if scope == "some":
        groups = join_words(
            [
                label("specialism", s).split(" (")[0].lower()
                for r in record.referral_routes
                if r.route == "self_referral"
                for s in r.only_for
            ]
        )
        tail = f"; otherwise you need a referral from {_from_whom(others)}" if others else ""
        return f"You can refer yourself for {groups} problems{': ' + contact if contact else ''}{tail}."
    if others:
        return f"Needs a referral from {_from_whom(others)}."
    if contact:
        return f"Contact them to ask how to be seen: {contact}."
    return "Contact details not listed yet."


def contact_phrase(record: Record) -> str:
    if record.booking_url:
        return "book online or " + (f"phone {record.phone}" if record.phone else "use the contact details")
    if record.phone:
        return f"phone {record.phone}"
    if record.email:
        return f"email {record.email}"
    if record.website:
        return "see their website"
    return ""


# ---- locations and home visits ------------------------------------------------


def address_lines(location: PlaceOfWork) -> list[str]:
    lines = [location.name, location.address, location.town, location.postcode]
    return [line for line in lines if line]


def one_line_address(location: PlaceOfWork) -> str:
    return ", ".join(address_lines(location))


def nearest_location(record: Record, hit: Hit | None) -> PlaceOfWork | None:
    if hit is not None and hit.location_index is not None and 0 <= hit.location_index < len(record.locations):
        return record.locations[hit.location_index]
    return record.locations[0] if record.locations else None


def home_visit_text(record: Record, visits_you: bool | None = None) -> str:
    home = record.home_visits
    if home is None:
        return ""
    area = f"within {home.coverage_radius_km:g} km of {home.base_postcode}"
    if visits_you:
        return f"Visits your area: home visits {area}"
    return f"Home visits {area}"


def waiting_text(record: Record) -> str:
    if record.nhs_waiting_weeks is None:
        return ""
    weeks = record.nhs_waiting_weeks
    if weeks == 0:
        return "no wait at the moment"
    return f"about {weeks} week{'s' if weeks != 1 else ''}"


def fees_text(record: Record) -> list[str]:
    lines = []
    if record.fee_initial_gbp is not None:
        lines.append(f"First appointment {money(record.fee_initial_gbp)}")
    if record.fee_follow_up_gbp is not None:
        lines.append(f"Follow-up {money(record.fee_follow_up_gbp)}")
    if record.fees_note:
        lines.append(record.fees_note)
    return lines


def accepting_text(record: Record) -> str:
    if record.accepting_new_patients is True:
        return "Accepting new patients"
    if record.accepting_new_patients is False:
        return "Not accepting new patients at the moment"
    return ""


# ---- JSON ---------------------------------------------------------------------


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def registration_json(record: Record, check_url: str) -> dict[str, Any]:
    view = registration_view(record)
    reg = record.registration
    return {
        "number": reg.number,
        "status": view.status,
        "label": view.label,
        "is_practising": view.is_practising,
        "checked_on": reg.checked_on.isoformat() if reg.checked_on else None,
        "period_to": reg.period_to.isoformat() if reg.period_to else None,
        "badge": view.badge,
        "check_url": check_url,
    }


def current_time() -> datetime:
    """Now (tests replace this to stand on either side of a clock change)."""
    return datetime.now(UTC)


def open_status(hours: OpeningHours | None) -> str:
    """``Open now, closes 17:00`` / ``Opens Monday 9:00`` in UK local time, or "" without times."""
    return status_at(hours, current_time())


def hours_json(hours: OpeningHours | None) -> dict[str, Any] | None:
    if hours is None:
        return None
    return {
        "intervals": [{"day": i.day, "opens": i.opens, "closes": i.closes} for i in hours.intervals],
        "note": hours.note,
        "text": str(hours),
    }


def location_json(location: PlaceOfWork) -> dict[str, Any]:
    return {
        "name": location.name,
        "setting": location.setting,
        "address": location.address,
        "town": location.town,
        "postcode": location.postcode,
        "lat": location.lat,
        "lon": location.lon,
        "ods_code": location.ods_code,
        "wheelchair_access": location.wheelchair_access,
        "parking": location.parking,
        "opening_hours": hours_json(location.opening_hours),
        "phone": location.phone,
    }


def contact_json(record: Record) -> dict[str, Any]:
    return {
        "phone": record.phone,
        "email": record.email,
        "website": record.website,
        "booking_url": record.booking_url,
    }


def referral_routes_json(record: Record) -> list[dict[str, Any]]:
    return [{"route": r.route, "only_for": list(r.only_for)} for r in record.referral_routes]


def home_visits_json(record: Record) -> dict[str, Any] | None:
    home = record.home_visits
    if home is None:
        return None
    return {
        "base_postcode": home.base_postcode,
        "coverage_radius_km": home.coverage_radius_km,
        "lat": home.lat,
        "lon": home.lon,
    }


def practitioner_json(stored: StoredPractitioner, urls: dict[str, str], check_url: str) -> dict[str, Any]:
    """The full public record of one practitioner (field names are part of the API contract)."""
    record = stored.record
    return {
        "id": stored.id,
        "name": record.name,
        "practice_name": record.practice_name,
        "gender": record.gender,
        "languages": list(record.languages),
        "memberships": list(record.memberships),
        "bio": record.bio,
        "registration": registration_json(record, check_url),
        "specialisms": list(record.specialisms),
        "conditions": list(record.conditions),
        "treatments": list(record.treatments),
        "locations": [location_json(loc) for loc in record.locations],
        "home_visits": home_visits_json(record),
        "funding": list(record.funding),
        "referral_routes": referral_routes_json(record),
        "referral_notes": record.referral_notes,
        "referral_email": record.referral_email,
        "referral_phone": record.referral_phone,
        "nhs_waiting_weeks": record.nhs_waiting_weeks,
        "session_limit": record.session_limit,
        "fee_initial_gbp": _number(record.fee_initial_gbp),
        "fee_follow_up_gbp": _number(record.fee_follow_up_gbp),
        "fees_note": record.fees_note,
        "accepting_new_patients": record.accepting_new_patients,
        "wheelchair_access": record.wheelchair_access,
        "contact": contact_json(record),
        "provenance": [
            {
                "source": p.source,
                "source_id": p.source_id,
                "source_url": p.source_url,
                "fetched_at": p.fetched_at.isoformat() if p.fetched_at else None,
                "last_verified_on": p.last_verified_on.isoformat() if p.last_verified_on else None,
            }
            for p in stored.sources
        ],
        "created_at": stored.created_at.isoformat(),
        "last_updated": stored.last_updated.isoformat(),
        "is_sample": record.is_sample,
        "links": urls,
    }


def result_json(
    number: int, hit: Hit, stored: StoredPractitioner, urls: dict[str, str], check_url: str
) -> dict[str, Any]:
    """One search result: enough to list, map and contact, with a link to the full record."""
    record = stored.record
    nearest = nearest_location(record, hit)
    distance = None if hit.distance_km is None else round(hit.distance_km, 2)
    return {
        "rank": number,
        "id": stored.id,
        "name": record.name,
        "practice_name": record.practice_name,
        "distance_km": distance,
        "distance_miles": None if distance is None else round(hit.distance_km / KM_PER_MILE, 2),  # type: ignore[operator]
        "visits_you": bool(hit.visits_you),
        "nearest_location": location_json(nearest) if nearest is not None else None,
        "locations": [location_json(loc) for loc in record.locations],
        "registration": registration_json(record, check_url),
        "tags": {
            "specialism": list(record.specialisms),
            "setting": list(record.settings),
            "funding": list(record.funding),
        },
        "referral_routes": referral_routes_json(record),
        "home_visits": home_visits_json(record),
        "accepting_new_patients": record.accepting_new_patients,
        "wheelchair_access": record.wheelchair_access,
        "nhs_waiting_weeks": record.nhs_waiting_weeks,
        "contact": contact_json(record),
        "next_step": next_step(record),
        "is_sample": record.is_sample,
        "url": urls["self"],
        "html_url": urls["html"],
    }
