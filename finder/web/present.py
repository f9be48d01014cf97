"""How a stored practitioner is shown: one place for the wording pages and API share.

The registration badge, distances, referral routes and "how to get seen" lines
are computed here so the HTML pages, the plain-text referral summary and the
JSON API never disagree. Nothing here marks text as safe: templates escape it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from finder import safety
from finder.hours import OpeningHours, status_at
from finder.models import StoredPractitioner
from finder.records import Location as PlaceOfWork
from finder.records import Record
from finder.search.query import Hit
from finder.vocab import VOCABULARIES

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
    link: str = ""  # where to check it on the HCPC register
    shown_as_registered: bool = False  # "Registered" may be said (practising, checked recently)
    is_stale: bool = True
    listed_by_default: bool = True


def registration_view(record: Record, today: date | None = None) -> RegistrationView:
    """The badge, worded by finder.safety.registration_display (the one rule for "Registered")."""
    shown = safety.registration_display(record.registration, today)
    return RegistrationView(
        status=shown.status,
        label=shown.status_label,
        is_practising=shown.is_practising,
        number=shown.number,
        checked_on=shown.checked_on,
        badge=shown.label,
        tone=shown.tone,
        help=shown.help,
        link=shown.link,
        shown_as_registered=shown.shown_as_registered,
        is_stale=shown.is_stale,
        listed_by_default=shown.listed_by_default,
    )


# ---- referral routes ----------------------------------------------------------


@dataclass(frozen=True)
class RouteView:
    route: str
    label: str
    only_for: tuple[str, ...]
    only_for_labels: tuple[str, ...]

    not_for: tuple[str, ...] = ()
    text: str = ""  # "You can refer yourself: only for ...; not for ..." (finder.safety.route_text)


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
            not_for=tuple(r.not_for),
            text=safety.route_text(r),
        )
        for r in record.referral_routes
    ]


Context = safety.ReferralContext | str | None


def _context(context: Context) -> safety.ReferralContext:
    """A condition group name (the older calling style) or a ReferralContext."""
    if isinstance(context, str):
        return safety.ReferralContext(specialisms=(context,))
    return context or safety.ReferralContext()


def self_referral_scope(record: Record, context: Context = None) -> str:
    """"all" (self-referral applies to what was searched, or to everything), "some" (only for
    other groups or conditions) or "none"."""
    if "self_referral" in safety.routes_for(record, _context(context)):
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


#: The "how to be seen" of a listing whose registration does not allow practice (hazard H1).
NOT_PRACTISING_STEP = (
    "Do not book or refer: the HCPC register does not show them as registered to practise. "
    "Choose another physiotherapist."
)


def next_step(record: Record, context: Context = None) -> str:
    """One sentence telling a patient how to get seen, honouring the route limits (finder.safety)."""
    if not safety.may_offer_referral(record):
        return NOT_PRACTISING_STEP
    ctx = _context(context)
    scope = self_referral_scope(record, ctx)
    contact = contact_phrase(record)
    others = [r for r in safety.routes_for(record, ctx) if r != "self_referral"]
    self_entries = [r for r in record.referral_routes if r.route == "self_referral"]
    if scope == "all":
        # Name what self-referral is not for, unless the person already said what they need.
        excluded = [] if ctx.conditions else [c for r in self_entries if safety.route_applies(r, ctx) for c in r.not_for]
        unless = f" (not for {join_words(labels('condition', list(dict.fromkeys(excluded))), 'or')})" if excluded else ""
        return f"You can refer yourself{unless}{': ' + contact if contact else ''}."
    if scope == "some" and (ctx.is_empty or ctx.conditions):
        tail = f"; otherwise you need a referral from {_from_whom(others)}" if others else ""
        excluded = [c for c in ctx.conditions if any(c in r.not_for for r in self_entries)]
        if excluded:
            what = join_words(labels("condition", excluded), "or")
            need = f"you need a referral from {_from_whom(others)}" if others else "contact them to ask how to be seen"
            return f"Self-referral here is not for {what}: {need}."
        if not ctx.is_empty:
            if others:
                return f"Needs a referral from {_from_whom(others)}."
            return f"Contact them to ask how to be seen: {contact}." if contact else "Contact details not listed yet."
        groups = join_words(
            [label("specialism", s).split(" (")[0].lower() for r in self_entries for s in r.only_for]
        )
        return f"You can refer yourself for {groups} problems only{': ' + contact if contact else ''}{tail}."
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
        "shown_as_registered": view.shown_as_registered,
        "check_is_stale": view.is_stale,
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
        "text": _hours_text(hours),
    }


@functools.lru_cache(maxsize=4096)
def _hours_text(hours: OpeningHours) -> str:
    """The hours as words ("Mon-Fri 09:00-17:00"); OpeningHours is frozen, so its text can be kept."""
    return str(hours)


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
    return [
        {"route": r.route, "only_for": list(r.only_for), **({"not_for": list(r.not_for)} if r.not_for else {})}
        for r in record.referral_routes
    ]


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
    number: int,
    hit: Hit,
    stored: StoredPractitioner,
    urls: dict[str, str],
    check_url: str,
    context: safety.ReferralContext | None = None,
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
        "next_step": next_step(record, context),
        "is_sample": record.is_sample,
        "url": urls["self"],
        "html_url": urls["html"],
    }


# ---- comparing listings (cards, shortlist, comparison, CSV) --------------------


def miles_text(km: float) -> str:
    """``2 km (1 mile)``, ``25 km (16 miles)``: whole miles, singular when it rounds to one."""
    miles = round(km / KM_PER_MILE)
    return f"{km:g} km ({miles} {'mile' if miles == 1 else 'miles'})"


def phone_href(number: str | None) -> str:
    """A ``tel:`` link for a UK phone number as written (``0113 496 0000`` -> ``tel:+441134960000``)."""
    if not number:
        return ""
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    if digits.startswith("+440"):
        digits = "+44" + digits[4:]  # "+44 (0)20 ...": the (0) is not dialled from abroad
    if digits.startswith("+"):
        return "tel:" + digits
    if digits.startswith("0") and len(digits) >= 10:
        return "tel:+44" + digits[1:]
    return "tel:" + digits if digits else ""


def wait_text(record: Record) -> str:
    """The NHS wait for a card: "about 8 weeks", "no wait at the moment", or "Not stated" when NHS-funded."""
    if record.nhs_waiting_weeks is not None:
        return waiting_text(record)[0].upper() + waiting_text(record)[1:]
    return "Not stated" if "nhs" in record.funding else ""


def fee_text(record: Record) -> str:
    """The private fee for a card, on one line: "£60 first, £45 follow-up"."""
    parts = []
    if record.fee_initial_gbp is not None:
        parts.append(f"{money(record.fee_initial_gbp)} first appointment")
    if record.fee_follow_up_gbp is not None:
        parts.append(f"{money(record.fee_follow_up_gbp)} follow-up")
    if parts:
        return ", ".join(parts)
    if "private" in record.funding:
        return "Not stated: ask them"
    if record.funding and set(record.funding) <= {"nhs", "charity"}:
        return "Free to you" if "charity" not in record.funding else "Free or low cost"
    return ""


def matched_conditions(record: Record, chosen: tuple[str, ...], text: str, limit: int = 5) -> tuple[list[str], list[str], int]:
    """Conditions treated, those the search asked for first: (matched labels, other labels, how many more)."""
    words = {w for w in text.lower().replace(",", " ").split() if len(w) > 2}
    matched: list[str] = []
    others: list[str] = []
    for code in record.conditions:
        name = label("condition", code)
        hit = code in chosen or (words and any(w in name.lower() or w in code for w in words))
        (matched if hit else others).append(name)
    room = max(0, limit - len(matched))
    return matched, others[:room], max(0, len(others) - room)


def setting_funding_text(record: Record) -> str:
    settings = labels("setting", record.settings)
    funding = labels("funding", record.funding)
    return " · ".join(part for part in (", ".join(settings), ", ".join(funding)) if part)
