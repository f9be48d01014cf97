"""Our listings as Open Referral UK 3.0 objects: pure functions, one per ORUK object.

A stored listing in, ORUK dicts out; nothing here touches the request, the
store or the index (the /oruk blueprint does that). The README's mapping table
documents each field. Rules:

* a listing is a ``service``; its practice (or the practitioner, when there is
  no practice name) an ``organization``; each place a ``location`` with a
  ``service_at_location``; home-visit coverage a ``service_area``;
* ids are stable UUIDs from the listing's first source and source id
  (finder.oruk_taxonomy.stable_id), so they survive rebuilds and new databases;
* a withdrawn listing is ``status: inactive``, never silently gone;
* so is a listing whose HCPC registration does not allow practice (hazard H1,
  ``finder.safety``), with the site's warning as its ``alert``: a directory that
  reads only ORUK's own fields must not offer it as bookable;
* the HCPC registration status always travels, as an attribute in our own
  published ``registration_status`` taxonomy;
* ORUK types have no null: a value we do not have is left out, not sent as null.

Where the UK profile has no field for something the listing says (phones,
contact emails, language names, attribute values, currency, wait time), the
field HSDS 3.0 defines for it is used: the UK schemas accept extra fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from finder import safety
from finder.hours import to_schedules
from finder.models import StoredPractitioner
from finder.oruk_taxonomy import (
    LANGUAGE_CODES,
    LISTING_FACTS,
    stable_id,
    taxonomy_json,
    term_id,
    term_json,
    vocabulary,
)
from finder.records import Location, Record
from finder.vocab import VOCABULARIES

#: api_details: what /oruk/ answers besides its own openapi_url.
HSDS_VERSION = "HSDS-UK-3.0"
PROFILE_URL = "https://github.com/OpenReferralUK/uk-profile/blob/main/docs/index.md"


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Leave out what we do not have: ORUK fields are never null."""
    return {k: v for k, v in values.items() if v is not None and v != [] and v != ""}


def listing_key(stored: StoredPractitioner) -> tuple[str, str]:
    """(source, source id) that names the listing for ever: its first source."""
    first = stored.sources[0] if stored.sources else stored.record.provenance
    return first.source, first.source_id


def service_id(stored: StoredPractitioner) -> str:
    return stable_id("service", *listing_key(stored))


def organization_id(stored: StoredPractitioner) -> str:
    return stable_id("organization", *listing_key(stored))


def location_id(stored: StoredPractitioner, position: int) -> str:
    return stable_id("location", *listing_key(stored), str(position))


def service_at_location_id(stored: StoredPractitioner, position: int) -> str:
    return stable_id("service_at_location", *listing_key(stored), str(position))


def _child_id(kind: str, stored: StoredPractitioner, *parts: str) -> str:
    return stable_id(kind, *listing_key(stored), *parts)


# ---------------------------------------------------------------------------
# taxonomies


def taxonomy(name: str, *, with_terms: bool = False) -> dict[str, Any]:
    """``taxonomy``: one of our vocabularies (finder.oruk_taxonomy.PUBLISHED)."""
    body = taxonomy_json(name)
    if with_terms:
        body["taxonomy_terms"] = [taxonomy_term(name, code) for code in vocabulary(name)]
    return body


def taxonomy_term(name: str, code: str) -> dict[str, Any]:
    """``taxonomy_term``: one code of a vocabulary."""
    return term_json(name, code)


def attribute(
    stored: StoredPractitioner, link_id: str, link_type: str, name: str, code: str, value: str | None = None
) -> dict[str, Any]:
    """``attribute``: a link from a service or location to one of our taxonomy terms."""
    return _clean(
        {
            "id": _child_id("attribute", stored, link_id, name, code),
            "link_id": link_id,
            "link_type": link_type,
            "taxonomy_term_id": term_id(name, code),
            "taxonomy_term": taxonomy_term(name, code),
            "value": value,
        }
    )


def registration_value(record: Record) -> str | None:
    """``PH123456, checked 2026-09-08``: the number and when the register was checked."""
    reg = record.registration
    parts = [reg.number or "", f"checked {reg.checked_on.isoformat()}" if reg.checked_on else ""]
    return ", ".join(p for p in parts if p) or None


def service_attributes(stored: StoredPractitioner) -> list[dict[str, Any]]:
    record = stored.record
    sid = service_id(stored)
    found: list[dict[str, Any]] = []

    def add(name: str, codes: Iterable[str]) -> None:
        found.extend(attribute(stored, sid, "service", name, code) for code in codes)

    add("specialism", record.specialisms)
    add("condition", record.conditions)
    add("treatment", record.treatments)
    add("setting", record.settings)
    add("funding", record.funding)
    for route in record.referral_routes:
        # value: the condition groups (specialisms) a route is limited to, e.g. "musculoskeletal+sports".
        found.append(attribute(stored, sid, "service", "referral_route", route.route, "+".join(route.only_for) or None))
    add("membership", record.memberships)
    # The HCPC status always travels, "unchecked" included: never dropped.
    found.append(
        attribute(stored, sid, "service", "registration_status", record.registration.status or "unchecked", registration_value(record))
    )
    facts = []
    if record.accepting_new_patients is True:
        facts.append("accepting_new_patients")
    elif record.accepting_new_patients is False:
        facts.append("not_accepting_new_patients")
    if record.home_visits is not None:
        facts.append("home_visits")
    if record.is_sample:
        facts.append("fictional_sample")
    add(LISTING_FACTS.name, facts)
    return found


# ---------------------------------------------------------------------------
# organization


def organization(stored: StoredPractitioner) -> dict[str, Any]:
    """``organization`` (list form): the practice, or the practitioner when no practice is named."""
    record = stored.record
    name = record.practice_name or record.name
    specialisms = [VOCABULARIES["specialism"].label_of(s) for s in record.specialisms]
    description = "Physiotherapy" + (f": {', '.join(specialisms)}" if specialisms else "")
    if record.is_sample:
        description += ". Fictional sample listing: this practice does not exist."
    return _clean(
        {
            "id": organization_id(stored),
            "name": name,
            "description": description,
            "email": record.email,
            "website": record.website,
        }
    )


def organization_full(stored: StoredPractitioner) -> dict[str, Any]:
    """``organization`` with its services."""
    body = organization(stored)
    body["services"] = [service(stored, with_organization=False)]
    return body


# ---------------------------------------------------------------------------
# locations


def address(stored: StoredPractitioner, position: int, place: Location) -> dict[str, Any] | None:
    """``address``: the place's postal address (UK profile: address_1, city, state_province,
    postal_code, country and address_type are required; we send "" for what we do not know)."""
    if not place.postcode:
        return None
    return {
        "id": _child_id("address", stored, str(position)),
        "location_id": location_id(stored, position),
        "address_1": place.address or "",
        "city": place.town or "",
        "state_province": "",
        "postal_code": place.postcode,
        "country": "GB",
        "address_type": "physical",
    }


def accessibility(stored: StoredPractitioner, position: int, place: Location) -> list[dict[str, Any]]:
    """``accessibility``: wheelchair access and parking, when known."""
    found = []
    lid = location_id(stored, position)
    if place.wheelchair_access is not None:
        found.append(
            {
                "id": _child_id("accessibility", stored, str(position), "wheelchair"),
                "location_id": lid,
                "description": "Wheelchair accessible" if place.wheelchair_access else "Not wheelchair accessible",
            }
        )
    if place.parking is not None:
        found.append(
            {
                "id": _child_id("accessibility", stored, str(position), "parking"),
                "location_id": lid,
                "description": "Parking available" if place.parking else "No parking",
            }
        )
    return found


def location(stored: StoredPractitioner, position: int) -> dict[str, Any]:
    """``location``: one place (``virtual`` for online appointments)."""
    place = stored.record.locations[position]
    lid = location_id(stored, position)
    setting_label = VOCABULARIES["setting"].label_of(place.setting)
    found_address = address(stored, position, place)
    return _clean(
        {
            "id": lid,
            "location_type": "virtual" if place.setting == "online" else "physical",
            "name": place.name,
            "description": setting_label,
            "latitude": place.lat,
            "longitude": place.lon,
            "external_identifier": place.ods_code,
            "external_identifier_type": "ODS" if place.ods_code else None,
            "addresses": [found_address] if found_address else [],
            "accessibility": accessibility(stored, position, place),
            "attributes": [attribute(stored, lid, "location", "setting", place.setting)],
        }
    )


def schedules(stored: StoredPractitioner, position: int) -> list[dict[str, Any]]:
    """``schedule``s of one place: one weekly schedule per set of days with the same hours."""
    place = stored.record.locations[position]
    sid, salid = service_id(stored), service_at_location_id(stored, position)
    return [
        {"id": _child_id("schedule", stored, str(position), str(n)), "service_id": sid, "service_at_location_id": salid, **values}
        for n, values in enumerate(to_schedules(place.opening_hours))
    ]


def phones(stored: StoredPractitioner, kind: str, number: str | None) -> list[dict[str, Any]]:
    if not number:
        return []
    return [{"id": _child_id("phone", stored, kind), "number": number}]


def service_at_location(
    stored: StoredPractitioner, position: int, *, with_service: bool = False, with_schedules: bool = True
) -> dict[str, Any]:
    """``service_at_location``: the service at one place, with the place, its hours and phone.

    Inside a ``service`` the hours are in the service's own ``schedules`` (with
    ``service_at_location_id``), as the UK profile has them; on their own, here too."""
    place = stored.record.locations[position]
    body: dict[str, Any] = {
        "id": service_at_location_id(stored, position),
        "service_id": service_id(stored),
        "location_id": location_id(stored, position),
        "location": location(stored, position),
    }
    found = schedules(stored, position) if with_schedules else []
    if found:
        body["schedules"] = found
    if place.phone:
        body["phones"] = phones(stored, f"location-{position}", place.phone)
    if with_service:
        body["service"] = service(stored, with_locations=False)
    return body


# ---------------------------------------------------------------------------
# service


def _circle(lat: float, lon: float, radius_km: float, points: int = 24) -> list[list[float]]:
    """A GeoJSON ring approximating a circle (lon, lat order)."""
    ring = []
    for k in range(points + 1):
        angle = 2 * math.pi * (k % points) / points
        dlat = radius_km / 111.32 * math.cos(angle)
        dlon = radius_km / (111.32 * math.cos(math.radians(lat))) * math.sin(angle)
        ring.append([round(lon + dlon, 5), round(lat + dlat, 5)])
    return ring


def home_visit_area_text(record: Record) -> str | None:
    home = record.home_visits
    if home is None:
        return None
    return f"Home visits within {home.coverage_radius_km:g} km of {home.base_postcode}"


def service_areas(stored: StoredPractitioner) -> list[dict[str, Any]]:
    """``service_area``: home-visit coverage, a circle around the base postcode."""
    home = stored.record.home_visits
    text = home_visit_area_text(stored.record)
    if home is None or text is None:
        return []
    area: dict[str, Any] = {
        "id": _child_id("service_area", stored, "home_visits"),
        "service_id": service_id(stored),
        "name": text,
        "service_area": text,
    }
    if home.lat is not None and home.lon is not None:
        import json

        polygon = {"type": "Polygon", "coordinates": [_circle(home.lat, home.lon, home.coverage_radius_km)]}
        area["extent"] = json.dumps(polygon, separators=(",", ":"))
        area["extent_type"] = "geojson"
    return [area]


def languages(stored: StoredPractitioner) -> list[dict[str, Any]]:
    """``language``: HSDS 3.0 name and ISO 639 code (the UK profile keeps only the id)."""
    sid = service_id(stored)
    return [
        {
            "id": _child_id("language", stored, code),
            "service_id": sid,
            "name": VOCABULARIES["language"].label_of(code),
            "code": LANGUAGE_CODES.get(code, code),
        }
        for code in stored.record.languages
    ]


def funding(stored: StoredPractitioner) -> list[dict[str, Any]]:
    sid = service_id(stored)
    return [
        {"id": _child_id("funding", stored, code), "service_id": sid, "source": VOCABULARIES["funding"].label_of(code)}
        for code in stored.record.funding
    ]


def cost_options(stored: StoredPractitioner) -> list[dict[str, Any]]:
    """``cost_option``: the private fees (first appointment, follow-up), in pounds."""
    record = stored.record
    sid = service_id(stored)
    found = []
    for kind, option, amount in (
        ("initial", "First appointment", record.fee_initial_gbp),
        ("follow_up", "Follow-up appointment", record.fee_follow_up_gbp),
    ):
        if amount is None:
            continue
        found.append(
            {
                "id": _child_id("cost_option", stored, kind),
                "service_id": sid,
                "option": option,
                "amount": float(amount),
                "currency": "GBP",
                "amount_description": f"{option}: £{amount:.2f}",
            }
        )
    return found


def contacts(stored: StoredPractitioner) -> list[dict[str, Any]]:
    """``contact``: the main contact and the referral contact, with HSDS 3.0 email and phones."""
    record = stored.record
    sid = service_id(stored)
    found = []
    if record.phone or record.email:
        found.append(
            _clean(
                {
                    "id": _child_id("contact", stored, "main"),
                    "service_id": sid,
                    "name": record.practice_name or record.name,
                    "title": "Main contact",
                    "email": record.email,
                    "phones": phones(stored, "main", record.phone),
                }
            )
        )
    if record.referral_phone or record.referral_email:
        found.append(
            _clean(
                {
                    "id": _child_id("contact", stored, "referrals"),
                    "service_id": sid,
                    "name": "Referrals",
                    "title": "Referrals",
                    "email": record.referral_email,
                    "phones": phones(stored, "referrals", record.referral_phone),
                }
            )
        )
    return found


def accreditations(record: Record) -> str:
    """The HCPC status in words (also carried as an attribute), and professional memberships."""
    reg = record.registration
    status = VOCABULARIES["registration_status"].label_of(reg.status or "unchecked")
    text = f"HCPC registration: {status}"
    if reg.number:
        text += f" ({reg.number}"
        text += f", checked {reg.checked_on.isoformat()})" if reg.checked_on else ")"
    members = [VOCABULARIES["membership"].label_of(m) for m in record.memberships]
    if members:
        text += ". " + "; ".join(members)
    return text


def service_status(stored: StoredPractitioner) -> str:
    """ORUK ``status``: ``inactive`` when withdrawn, or when the HCPC register says the
    physio may not practise (H1: ``safety.may_offer_referral``); otherwise ``active``."""
    if stored.withdrawn_at is not None or not safety.may_offer_referral(stored.record):
        return "inactive"
    return "active"


def service_alerts(stored: StoredPractitioner) -> list[str]:
    """What ORUK's ``alert`` says, most important first: the H1 warning leads."""
    record = stored.record
    alerts = []
    if not safety.may_offer_referral(record):
        alerts.append(safety.not_practising_warning(record, check_url=safety.check_url_for(record.registration.number)))
    if record.is_sample:
        alerts.append("Fictional sample listing: this practitioner and practice do not exist.")
    if record.accepting_new_patients is False:
        alerts.append("Not accepting new patients at the moment.")
    if stored.withdrawn_at is not None:
        alerts.append(f"Withdrawn from the directory on {stored.withdrawn_at.date().isoformat()}.")
    return alerts


def service(stored: StoredPractitioner, *, with_organization: bool = True, with_locations: bool = True) -> dict[str, Any]:
    """``service``: one listing, fully nested."""
    record = stored.record
    provenance = stored.sources[-1] if stored.sources else record.provenance
    body = _clean(
        {
            "id": service_id(stored),
            "organization_id": organization_id(stored),
            "name": record.name,
            "description": record.bio,
            "url": record.website,
            "email": record.email,
            "status": service_status(stored),
            "fees": record.fees_note,
            "accreditations": accreditations(record),
            "assured_date": provenance.last_verified_on.isoformat() if provenance.last_verified_on else None,
            "alert": " ".join(service_alerts(stored)),
            "last_modified": stored.updated_at.isoformat(),
            "application_process": record.referral_notes,
            "wait_time": f"{record.nhs_waiting_weeks} weeks (NHS)" if record.nhs_waiting_weeks is not None else None,
        }
    )
    positions = range(len(record.locations))
    if with_locations:
        body["service_at_locations"] = [service_at_location(stored, n, with_schedules=False) for n in positions]
    body["schedules"] = [s for n in positions for s in schedules(stored, n)]
    body["service_areas"] = service_areas(stored)
    body["languages"] = languages(stored)
    if with_organization:
        body["organization"] = organization(stored)
    body["funding"] = funding(stored)
    body["cost_options"] = cost_options(stored)
    body["contacts"] = contacts(stored)
    body["attributes"] = service_attributes(stored)
    return body


def service_at_location_summary(stored: StoredPractitioner, position: int) -> dict[str, Any]:
    """A ``service_at_location_list`` entry: the link, its place and the service's one-to-one fields."""
    body = service_at_location(stored, position)
    body["service"] = {
        k: v
        for k, v in service(stored, with_locations=False).items()
        if not isinstance(v, list)
    }
    return body


def page(items: list[dict[str, Any]], *, total: int, page_number: int, per_page: int) -> dict[str, Any]:
    """The ORUK page envelope around a list."""
    total_pages = max(1, math.ceil(total / per_page)) if per_page else 1
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page_number,
        "size": len(items),
        "first_page": page_number == 1,
        "last_page": page_number >= total_pages,
        "empty": not items,
        "contents": items,
    }


def api_details(openapi_url: str) -> dict[str, Any]:
    return {"version": HSDS_VERSION, "profile": PROFILE_URL, "openapi_url": openapi_url}
