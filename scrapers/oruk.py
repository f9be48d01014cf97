"""Open Referral UK feeds: physiotherapy services from a council's or NHS service directory.

Written against the Open Referral UK API (HSDS 3.0 UK profile; its ``openapi.json``)
and proven on feeds as councils publish them (``../shared/real-data/oruk``):

* listing pages come in several envelopes, read with keys in any case:
  ORUK 3.0 (``contents``, ``total_pages``, ``page_number``), Spring-style
  (``content``, ``totalPages`` / ``totalpages``, ``number``, ``last``; Hull,
  Buckinghamshire, the CQC) and ORUK v1 list pages (a bare JSON list);
* services come in three shapes: HSDS 3 (``organization``,
  ``service_at_locations[].location.addresses[]``, ``attributes[].taxonomy_term``,
  ``contacts[].phones``), ORUK v1 (``physical_addresses``, ``service_taxonomys``,
  ``eligibilitys``, ``regular_schedules``) and the Outpost layout
  (Buckinghamshire: ``organisation``, the address directly on each location,
  ``geometry`` coordinates, top-level ``taxonomies``, ``contacts[].phone``);
* a listing entry that already carries its locations is used as it is; any
  other is fetched from ``/services/{id}``. A service without
  ``service_at_locations`` gets them from ``/service_at_locations?service_id=``
  or ``/locations/{id}`` when the feed offers them, else from its
  ``service_areas`` (placed by the gazetteer); a service with no place at all
  is a reject with that reason;
* a record that cannot be fetched (404, 5xx after retries, bad JSON) is a
  reject with its address and reason; the rest load, and a run with rejects
  never withdraws listings (finder.ingest).

Physiotherapy is recognised by taxonomy terms first (the operator's
``--taxonomy`` terms, else :data:`DEFAULT_TAXONOMY_TERMS` and any term whose
name says physiotherapy), then by the service's own name, then by a
description that is *about* physiotherapy (it says so in its first sentence,
or again and again); a passing mention ("loved by physiotherapists", one item
in a list of a leisure centre's tenants) never counts. Every accepted service
carries the reason it counted into the run's report.

HTML in text fields becomes plain text (:mod:`scrapers.html_text`). Ages of -1,
or 0 to 0, mean "not said". The UK profile's nulls are absent data.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pydantic import ValidationError
from sqlalchemy import func, select

from finder.errors import (
    FinderError,
    InvalidPostcode,
    RobotsDisallowed,
    SourceError,
    SourceFormatError,
)
from finder.geo.postcode import normalise_postcode
from finder.hours import OpeningHours, from_schedules
from finder.ingest import IngestReport, PostcodeLookup, SourceItem, ingest
from finder.models import IngestRun, SourceRecord, utcnow
from finder.oruk_taxonomy import LISTING_FACTS, term_of
from finder.records import MAX_TEXT, Record, record_problems
from finder.sites import normalise_ods_code
from finder.vocab import CONDITIONS, LANGUAGES, SPECIALISMS
from scrapers.html_text import html_to_text

if TYPE_CHECKING:
    from finder.db import Store
    from scrapers.http import PoliteSession

log = logging.getLogger(__name__)

DEFAULT_PER_PAGE = 50
#: A feed with more pages than this is not being paged the way we ask.
MAX_PAGES = 10_000

#: A place name -> (lat, lon), for service areas (raises a FinderError when unknown or ambiguous).
PlaceLookup = Callable[[str], tuple[float, float]]

#: Taxonomy terms (ids, codes or names, compared without case) that mark
#: physiotherapy when the operator names none. Besides these, any term whose
#: name says physiotherapy counts. 91251008 is SNOMED CT's "Physical therapy
#: procedure", which NHS service directories use for physiotherapy services.
DEFAULT_TAXONOMY_TERMS: frozenset[str] = frozenset(
    {"physiotherapy", "physiotherapist", "physiotherapists", "physical therapy", "91251008"}
)

PHYSIO_WORDS = re.compile(r"\bphysio(therap(y|ies|ist|ists))?\b|\bphysical\s+therap(y|ies|ist|ists)\b", re.I)

#: Explicit phrases -> specialism. Only what a service says about itself.
SPECIALISM_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bneuro(logical|logy)?\b|\bstroke\b|\bmultiple sclerosis\b|\bparkinson", re.I), "neurological"),
    (re.compile(r"\bmusculo-?skeletal\b|\bMSK\b"), "musculoskeletal"),
    (re.compile(r"\bsports?\s+injur", re.I), "sports"),
    (re.compile(r"\bpaediatric|\bchildren'?s\s+physio", re.I), "paediatrics"),
    (re.compile(r"\brespiratory\b|\bpulmonary\s+rehab", re.I), "respiratory"),
    (re.compile(r"\bpelvic\s+health\b|\bwomen'?s\s+health\b|\bcontinence\b", re.I), "pelvic_health"),
    (re.compile(r"\bfalls\s+(prevention|service|clinic)\b|\bolder\s+(people|adults)\b", re.I), "older_people"),
    (re.compile(r"\bvestibular\b", re.I), "vestibular"),
    (re.compile(r"\bamputee|\bamputation", re.I), "amputee"),
    (re.compile(r"\bcardiac\s+rehab", re.I), "cardiac"),
    (re.compile(r"\b(persistent|chronic)\s+pain\b|\bpain\s+management\b", re.I), "pain_management"),
)
CONDITION_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bmultiple sclerosis\b", re.I), "multiple_sclerosis"),
    (re.compile(r"\bstroke\b", re.I), "stroke"),
    (re.compile(r"\bparkinson", re.I), "parkinsons"),
    (re.compile(r"\bback\s+pain\b", re.I), "back_pain"),
    (re.compile(r"\bneck\s+pain\b", re.I), "neck_pain"),
    (re.compile(r"\bfalls\b", re.I), "falls"),
    (re.compile(r"\bbalance\s+(problems|difficulties|issues|training)\b", re.I), "balance_problems"),
)
ROUTE_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"self[- ]?refer|refer\s+(yourself|themselves)|no\s+referral\s+(is\s+)?(needed|required)", re.I), "self_referral"),
    (re.compile(r"\bGP\b[^.]{0,40}\brefer|\brefer[^.]{0,40}\bGP\b|\bGPs?\s+referral"), "gp"),
    (re.compile(r"\bMS\s+nurse", re.I), "ms_nurse"),
    (re.compile(r"\bneurologist", re.I), "neurologist"),
    (re.compile(r"\bconsultant\b[^.]{0,30}\brefer|\brefer[^.]{0,30}\bconsultant\b", re.I), "consultant"),
    (re.compile(r"\b(other\s+)?health(care)?\s+professional", re.I), "other_professional"),
)
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}
_WEEKDAY_WORDS = {name.lower(): code for code, name in zip(_DAYS, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), strict=True)}
_CHARITY_SCHEMES = {"GB-CHC", "GB-SC", "GB-NIC", "GB-COH-CIO"}


_NOT_PHYSIO_CONTEXT = re.compile(
    r"\b(loved|recommended|approved|endorsed|used|liked|praised|favoured|run|led|taught|designed|developed)\s+by\s*$", re.I
)


# ---------------------------------------------------------------------------
# Shapes: keys in any case, nulls as absent


#: How deep keys are lower-cased: deeper than anything we read (service -> link -> location -> address).
_KEY_DEPTH = 8


def lower_keys(value: Any, _depth: int = 0, _seen: dict[int, Any] | None = None) -> Any:
    """The same JSON with object keys in lower case (feeds spell ``totalPages`` and ``totalpages``).

    Only as deep as we read, and each shared object once, so a hostile document
    can neither recurse us into the ground nor blow up exponentially.
    """
    if _depth > _KEY_DEPTH or not isinstance(value, dict | list):
        return value
    seen = {} if _seen is None else _seen
    if id(value) in seen:
        return seen[id(value)]
    if isinstance(value, dict):
        result: Any = {str(k).lower(): lower_keys(v, _depth + 1, seen) for k, v in value.items()}
    else:
        result = [lower_keys(v, _depth + 1, seen) for v in value]
    seen[id(value)] = result
    return result


def _text(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


# ---------------------------------------------------------------------------
# Pages


@dataclass(frozen=True)
class ServicePage:
    """One page of ``/services``: its entries (keys lower-cased) and what it says about paging."""

    total_items: int | None
    total_pages: int | None
    page_number: int
    last: bool | None
    entries: list[dict[str, Any]]
    #: Entries without an id (position on the page, 1-based): rejects, since they cannot be fetched.
    without_id: list[int] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [entry_id(e) for e in self.entries]


def entry_id(entry: dict[str, Any]) -> str:
    return _text(entry.get("id"))


def parse_service_page(document: Any, *, url: str = "the feed") -> ServicePage:
    """Read a ``/services`` page in any envelope seen in the wild; anything else is a SourceFormatError."""
    if isinstance(document, list):
        # ORUK v1 list pages: the services themselves, no envelope.
        contents: Any = document
        envelope: dict[str, Any] = {}
    elif isinstance(document, dict):
        envelope = lower_keys({k: v for k, v in document.items() if not isinstance(v, list)})
        lists = {str(k).lower(): v for k, v in document.items() if isinstance(v, list)}
        contents = lists.get("contents", lists.get("content"))
        if contents is None:
            keys = ", ".join(sorted(str(k) for k in document)[:8]) or "nothing"
            raise SourceFormatError(
                f"{url} is not an Open Referral UK services page: expected 'contents' (ORUK 3.0) or 'content' "
                f"(Spring-style paging) holding a list of services, found {keys}. Is this the API's base address?"
            )
    else:
        raise SourceFormatError(
            f"{url} did not return a page of services (an object with 'contents', or a list), got a JSON {type(document).__name__}"
        )
    entries: list[dict[str, Any]] = []
    without_id: list[int] = []
    for position, raw in enumerate(contents, start=1):
        entry = lower_keys(raw) if isinstance(raw, dict) else None
        if entry is None or not entry_id(entry):
            without_id.append(position)
            continue
        entries.append(entry)
    last = _first(envelope, "last_page", "last")
    return ServicePage(
        total_items=_as_int(_first(envelope, "total_items", "totalelements", "total")),
        total_pages=_as_int(_first(envelope, "total_pages", "totalpages")) if envelope else 1,
        page_number=_as_int(_first(envelope, "page_number", "number")) or 1,
        last=last if isinstance(last, bool) else (True if not envelope else None),
        entries=entries,
        without_id=without_id,
    )


# ---------------------------------------------------------------------------
# Recognising physiotherapy


def taxonomy_terms(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Taxonomy terms in any shape: HSDS 3 attributes, ORUK v1 service_taxonomys, Outpost taxonomies."""
    service = lower_keys(service)
    terms = [a["taxonomy_term"] for a in _list(service.get("attributes")) if isinstance(a.get("taxonomy_term"), dict)]
    terms += [t["taxonomy"] for t in _list(service.get("service_taxonomys")) if isinstance(t.get("taxonomy"), dict)]
    terms += [t["taxonomy_term"] for t in _list(service.get("service_taxonomys")) if isinstance(t.get("taxonomy_term"), dict)]
    terms += _list(service.get("taxonomy_terms"))
    terms += _list(service.get("taxonomies"))
    return terms


def _term_labels(term: dict[str, Any]) -> list[str]:
    return [_text(term.get(k)) for k in ("name", "term", "code", "id", "slug") if _text(term.get(k))]


def _term_name(term: dict[str, Any]) -> str:
    labels = _term_labels(term)
    return _text(term.get("name")) or _text(term.get("term")) or (labels[0] if labels else "?")


def _subject_mentions(text: str) -> list[re.Match[str]]:
    """Mentions of physiotherapy that are about the thing itself, not a passing credit."""
    # Words in brackets are an aside: "Nordic Walking (loved by physiotherapists)".
    without_asides = re.sub(r"\([^()]*\)", lambda m: " " * len(m.group(0)), text)
    return [m for m in PHYSIO_WORDS.finditer(without_asides) if not _NOT_PHYSIO_CONTEXT.search(without_asides[max(0, m.start() - 40) : m.start()])]


def _first_sentence(text: str) -> str:
    """The description's opening sentence, after any short heading lines ("About Us", the service's name)."""
    lines = [line for line in text.strip().split("\n") if line.strip()]
    skipped = 0
    while lines and skipped < 3 and len(lines[0]) <= 40 and not re.search(r"[.!?]$", lines[0]):
        lines.pop(0)
        skipped += 1
    first = lines[0] if lines else ""
    match = re.search(r"[.!?](\s|$)", first)
    return first[: match.start() + 1] if match else first


@dataclass(frozen=True)
class Recognition:
    """Why a service counts as physiotherapy."""

    by: str  # "taxonomy" | "name" | "description" | "operator"
    detail: str

    def __str__(self) -> str:
        return self.detail


def recognise(service: dict[str, Any], wanted: Iterable[str] = (), *, all_services: bool = False) -> Recognition | None:
    """Why a service counts as physiotherapy (taxonomy first, then its own words), or None."""
    service = lower_keys(service)
    wanted_keys = {w.strip().lower() for w in wanted if w and w.strip()}
    keys = wanted_keys or DEFAULT_TAXONOMY_TERMS
    terms = taxonomy_terms(service)
    ours = next((t for t in terms if term_of(t) is not None), None)
    if ours is not None:
        return Recognition("taxonomy", f"Physio Finder taxonomy term '{_term_name(ours)}'")
    for term in terms:
        labels = {label.lower() for label in _term_labels(term)}
        if keys & labels:
            chosen = sorted(keys & labels)[0]
            how = "named by --taxonomy" if wanted_keys else "a default physiotherapy term"
            return Recognition("taxonomy", f"taxonomy term '{_term_name(term)}' ({how}: '{chosen}')")
    if not wanted_keys:
        for term in terms:
            if PHYSIO_WORDS.search(_term_name(term)):
                return Recognition("taxonomy", f"taxonomy term '{_term_name(term)}' names physiotherapy")
    if all_services:
        return Recognition("operator", "every service in this feed is physiotherapy (--all-services)")
    name = _text(service.get("name"))
    mentions = _subject_mentions(name)
    if mentions:
        return Recognition("name", f"the service name says '{mentions[0].group(0)}'")
    description = html_to_text(_text(service.get("description")))
    if _subject_mentions(_first_sentence(description)):
        return Recognition("description", "the description is about physiotherapy (its first sentence says so)")
    count = len(_subject_mentions(description))
    if count >= 3:
        return Recognition("description", f"the description is about physiotherapy (it says so {count} times)")
    return None


def physiotherapy_reason(service: dict[str, Any], wanted: Iterable[str] = ()) -> str | None:
    """Why a service counts as physiotherapy, as text, or None when it does not."""
    found = recognise(service, wanted)
    return str(found) if found else None


def not_recognised_reason(service: dict[str, Any]) -> str:
    """Why a service that mentions physiotherapy was still not counted (for reports and tests)."""
    service = lower_keys(service)
    text = " ".join([_text(service.get("name")), html_to_text(_text(service.get("description")))])
    everything = list(PHYSIO_WORDS.finditer(text))
    if not everything:
        return "no taxonomy term, name or description says physiotherapy"
    subject = _subject_mentions(text)
    if not subject:
        return f"only a passing credit ('{everything[0].group(0)}' in an aside or after 'by')"
    return f"only a passing mention of '{subject[0].group(0)}' in the description ({len(subject)} in all, not in its first sentence)"


# ---------------------------------------------------------------------------
# One service -> Record


def _numbers(holder: dict[str, Any]) -> list[str]:
    """Phone numbers of a service, contact, organisation or location (``phones[]`` or a bare ``phone``)."""
    found = [_text(p.get("number")).strip("\"' ") for p in _list(holder.get("phones"))]
    single = holder.get("phone")
    if isinstance(single, dict):
        found.append(_text(single.get("number")))
    else:
        found.append(_text(single))
    return [n[:300] for n in found if n]


def _is_referral_contact(contact: dict[str, Any]) -> bool:
    return re.search(r"\breferrals?\b", f"{_text(contact.get('name'))} {_text(contact.get('title'))}", re.I) is not None


def _referral_contact(service: dict[str, Any]) -> dict[str, Any]:
    """The contact for referrals (named or titled 'Referrals'), if the feed has one."""
    return next((c for c in _list(service.get("contacts")) if _is_referral_contact(c)), {})


def _service_phone(service: dict[str, Any], organization: dict[str, Any]) -> str | None:
    contacts = [c for c in _list(service.get("contacts")) if not _is_referral_contact(c)]
    for holder in (service, *contacts, organization):
        numbers = _numbers(holder)
        if numbers:
            return numbers[0]
    return None


def _address(location: dict[str, Any]) -> dict[str, Any]:
    addresses = _list(location.get("addresses"))
    physical = [a for a in addresses if _text(a.get("address_type")).lower() == "physical"]
    for candidate in (physical, addresses, _list(location.get("physical_addresses")), _list(location.get("postal_addresses"))):
        if candidate:
            return candidate[0]
    if any(_text(location.get(k)) for k in ("address_1", "postal_code", "city")):
        return location  # Outpost: the address is written on the location itself
    return {}


def schedules_hours(schedules: list[dict[str, Any]]) -> OpeningHours | None:
    """Opening hours from RFC 5545 (``byday``) or ORUK v1 (``weekday``) schedules.

    The one place the importer turns schedules into hours: finder.hours reads them
    (valid_from / valid_to, weekly byday, opens_at / closes_at; the rest as the note).
    """
    normalised = []
    for schedule in schedules:
        schedule = dict(schedule)
        weekday = _WEEKDAY_WORDS.get(_text(schedule.get("weekday")).lower())
        if weekday and not _text(schedule.get("byday")):
            schedule["byday"] = weekday
        for key in ("description", "notes"):
            if _text(schedule.get(key)):
                schedule[key] = html_to_text(_text(schedule.get(key)))
        normalised.append(schedule)
    return from_schedules(normalised, today=date.today())


def _accessibility_texts(location: dict[str, Any]) -> str:
    texts = [f"{_text(a.get('description'))} {_text(a.get('details'))} {_text(a.get('accessibility'))}" for a in _list(location.get("accessibility"))]
    texts += [_text(a.get("accessibility")) for a in _list(location.get("accessibility_for_disabilities"))]
    texts += [_text(a.get("name")) for a in _list(location.get("accessibilities"))]  # Outpost
    return " . ".join(texts)


def _wheelchair(location: dict[str, Any]) -> bool | None:
    joined = _accessibility_texts(location)
    if not re.search(r"\bwheelchair", joined, re.I):
        return None
    negated = re.search(r"\b(no|not|without)\b[^.]{0,30}\bwheelchair|\bwheelchair[^.]{0,30}\b(not|no)\b", joined, re.I)
    return negated is None


def _parking(location: dict[str, Any]) -> bool | None:
    joined = _accessibility_texts(location)
    if not re.search(r"\b(car\s+)?parking\b", joined, re.I):
        return None
    return re.search(r"\bno\b[^.]{0,20}\bparking\b", joined, re.I) is None


def _setting(location: dict[str, Any], charity: bool) -> str:
    for attribute in _list(location.get("attributes")):
        term = term_of(attribute.get("taxonomy_term") or _text(attribute.get("taxonomy_term_id")))
        if term is not None and term.taxonomy == "setting":
            return term.code  # our own published setting taxonomy says it
    if _text(location.get("location_type")).lower() == "virtual":
        return "online"
    words = f"{_text(location.get('name'))} {_text(location.get('description'))}"
    if re.search(r"\bhospital\b", words, re.I):
        return "hospital"
    if re.search(r"\bsurgery\b|\bmedical\s+(practice|centre|center)\b", words, re.I):
        return "gp_surgery"
    return "charity_centre" if charity else "community_clinic"


def _coordinate(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is no coordinate


def _coordinates(location: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
    """(lat, lon) from latitude/longitude or a GeoJSON point, and why they were not used."""
    lat, lon = _coordinate(location.get("latitude")), _coordinate(location.get("longitude"))
    geometry = _dict(location.get("geometry"))
    points = geometry.get("coordinates")
    if (lat is None or lon is None) and _text(geometry.get("type")).lower() == "point" and isinstance(points, list) and len(points) >= 2:
        lon, lat = _coordinate(points[0]), _coordinate(points[1])  # GeoJSON order: longitude first
    if lat is None or lon is None or (lat == 0 and lon == 0):  # 0, 0 is a common "unknown"
        return None, None, None
    if not (49.0 <= lat <= 61.5 and -9.0 <= lon <= 2.5):
        return None, None, f"coordinates {lat:g}, {lon:g} are not in the UK"
    return lat, lon, None


def _postcode(text: str) -> tuple[str | None, str | None]:
    """A full postcode as we store it, or None and why not."""
    if not text:
        return None, None
    try:
        return normalise_postcode(text), None
    except InvalidPostcode as exc:
        if re.fullmatch(r"[A-Za-z]{1,2}\d[A-Za-z\d]?", text.strip()):
            return None, f"postcode '{text.strip()}' is only a district (the feed withholds the exact address)"
        return None, exc.detail


@dataclass
class Places:
    """The record locations of one service, and why any were left out."""

    locations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    how: str | None = None  # "service_at_locations" | "the feed's /service_at_locations" | ... | "service areas"


def _location_links(service: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(service_at_location, location) pairs, each location once (Outpost repeats them under ``locations``)."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen: set[str] = set()
    links = [(link, _dict(link.get("location"))) for link in _list(service.get("service_at_locations"))]
    links += [({}, location) for location in _list(service.get("locations"))]
    for link, location in links:
        if not location:
            continue
        key = _text(location.get("id")) or repr(sorted(location.items()))[:400]
        if key in seen:
            continue
        seen.add(key)
        pairs.append((link, location))
    return pairs


def place_locations(service: dict[str, Any], *, charity: bool) -> Places:
    """Record locations from a service's own service_at_locations / locations."""
    places = Places()
    pairs = _location_links(service)
    service_schedules = _list(service.get("schedules")) or _list(service.get("regular_schedules"))
    for link, location in pairs:
        address = _address(location)
        lat, lon, coordinate_note = _coordinates(location)
        postcode, postcode_note = _postcode(_text(address.get("postal_code")))
        setting = _setting(location, charity)
        label = _text(location.get("name")) or _text(address.get("address_1")) or _text(location.get("id")) or "a location"
        if postcode is None and lat is None and setting != "online":
            why = "; ".join(filter(None, [postcode_note, coordinate_note])) or "no postcode or coordinates"
            places.notes.append(f"location '{label}': {why}")
            continue
        if postcode_note:
            places.notes.append(f"location '{label}': {postcode_note}")
        schedules = _list(link.get("schedules")) or _list(location.get("schedules")) or _list(link.get("regular_schedules"))
        schedules = schedules or _list(link.get("regular_schedule"))
        if not schedules and _text(link.get("id")):
            # The UK profile keeps schedules on the service, naming their service_at_location.
            schedules = [s for s in service_schedules if _text(s.get("service_at_location_id")) == _text(link.get("id"))]
        if not schedules and len(pairs) == 1:
            schedules = service_schedules  # one place: the service's hours are that place's hours
        identifier_type = _text(location.get("external_identifier_type")).lower()
        street = ", ".join(filter(None, [_text(address.get("address_1")), _text(address.get("address_2"))]))
        places.locations.append(
            {
                "name": (_text(location.get("name")) or None) and _text(location.get("name"))[:300],
                "setting": setting,
                "address": street[:300] or None,
                "town": _text(address.get("city"))[:300] or None,
                "postcode": postcode,
                "lat": lat,
                "lon": lon,
                "ods_code": normalise_ods_code(_text(location.get("external_identifier")))
                if identifier_type in ("ods", "ods code", "ods_code")
                else None,
                "wheelchair_access": _wheelchair(location),
                "parking": _parking(location),
                "opening_hours": schedules_hours(schedules) if schedules else None,
                "phone": (_numbers(link) or _numbers(location) or [None])[0],
            }
        )
    return places


def area_locations(service: dict[str, Any], *, charity: bool, place_lookup: PlaceLookup | None) -> Places:
    """Record locations from ``service_areas`` names the gazetteer knows (the last resort)."""
    places = Places()
    for area in _list(service.get("service_areas")):
        name = _text(area.get("name")) or _text(area.get("service_area"))
        if not name:
            continue
        if place_lookup is None:
            places.notes.append(f"service area '{name[:60]}' not placed (no gazetteer)")
            continue
        if len(name) > 80:
            places.notes.append(f"service area '{name[:60]}...' is a description, not a place name")
            continue
        try:
            lat, lon = place_lookup(name)
        except FinderError as exc:  # unknown, ambiguous or not a place at all: never guessed
            places.notes.append(f"service area '{name[:60]}' not placed: {exc.detail.split(':')[0][:100]}")
            continue
        places.locations.append(
            {
                "name": f"Area served: {name}"[:300],
                "setting": "charity_centre" if charity else "community_clinic",
                "town": name[:300],
                "lat": lat,
                "lon": lon,
            }
        )
    return places


def ages_text(service: dict[str, Any]) -> str | None:
    """'Ages 12 to 100', or None when the feed does not say (-1, or 0 to 0, or nothing)."""
    minimum = _as_int(_first(service, "minimum_age", "min_age"))
    maximum = _as_int(_first(service, "maximum_age", "max_age"))
    for eligibility in _list(service.get("eligibilitys")):
        minimum = minimum if minimum is not None else _as_int(eligibility.get("minimum_age"))
        maximum = maximum if maximum is not None else _as_int(eligibility.get("maximum_age"))
    minimum = None if minimum is None or minimum < 0 else minimum
    maximum = None if maximum is None or maximum <= 0 else maximum
    if minimum == 0 and maximum is None:
        minimum = None  # "0 and over" says nothing
    if minimum is None and maximum is None:
        return None
    if maximum is None:
        return f"Ages {minimum} and over"
    return f"Ages {minimum or 0} to {maximum}"


def _matches(text: str, phrases: tuple[tuple[re.Pattern[str], str], ...]) -> list[str]:
    return [code for pattern, code in phrases if pattern.search(text)]


def _vocab_codes(terms: list[dict[str, Any]], vocabulary: Any) -> list[str]:
    codes = []
    for term in terms:
        for label in _term_labels(term)[:2]:
            try:
                codes.append(vocabulary.check(label))
                break
            except FinderError:
                continue
    return codes


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _shorten(text: str, limit: int, url: str | None) -> str:
    """Cut an over-long feed text at a sentence, saying so (never silently)."""
    if len(text) <= limit:
        return text
    note = f" … (shortened; full text at {url})" if url else " … (shortened)"
    cut = text[: limit - len(note)]
    sentence_end = cut.rfind(". ")
    if sentence_end > limit // 2:
        cut = cut[: sentence_end + 1]
    return cut.rstrip() + note


def _web_address(value: Any) -> str | None:
    """A feed's web address, with the https:// many feeds leave off ("www.example.org")."""
    text = _text(value)
    if not text:
        return None
    if re.match(r"^https?://", text, re.I):
        return text
    if re.match(r"^(www\.)?[a-z0-9-]+(\.[a-z0-9-]+)+(/\S*)?$", text, re.I):
        return f"https://{text}"
    log.info("oruk: ignoring '%s', which is not a web address", text[:80])
    return None


def _date_or_none(value: Any) -> date | None:
    try:
        return date.fromisoformat(_text(value)[:10])
    except ValueError:
        return None


def _organization(service: dict[str, Any]) -> dict[str, Any]:
    return _dict(service.get("organization")) or _dict(service.get("organisation"))


def is_charity(service: dict[str, Any]) -> bool:
    identifiers = _list(_organization(lower_keys(service)).get("organization_identifiers"))
    return any(_text(i.get("identifier_scheme")).upper() in _CHARITY_SCHEMES for i in identifiers)


def service_record(
    service: dict[str, Any],
    *,
    source: str,
    source_url: str | None = None,
    fetched_at: datetime | None = None,
    places: Places | None = None,
) -> dict[str, Any]:
    """Map one ORUK service (any shape) to Record data (validated by the caller)."""
    service = lower_keys(service)
    organization = _organization(service)
    charity = is_charity(service)
    name = _text(service.get("name")) or _text(organization.get("name"))
    description = html_to_text(_text(service.get("description")))
    terms = taxonomy_terms(service)
    term_text = " ".join(" ".join(_term_labels(t)[:2]) for t in terms)
    eligibility = [html_to_text(_text(service.get("eligibility_description")))]
    eligibility += [html_to_text(_text(e.get("eligibility"))) for e in _list(service.get("eligibilitys"))]
    eligibility += [html_to_text(_text(e.get("description"))) for e in _list(service.get("eligibility"))]
    application = html_to_text(_text(service.get("application_process")))
    words = " ".join([name, description, term_text, application, *eligibility])

    if places is None:
        places = place_locations(service, charity=charity)
    cost_options = _list(service.get("cost_options"))
    paid = [
        (amount, option)
        for option in cost_options
        if (amount := _money(option.get("amount"))) is not None
        and amount > 0
        and _text(option.get("currency")).lower() in ("", "gbp", "£")
    ]
    funding = []
    if re.search(r"\bNHS\b", f"{_text(organization.get('name'))} {name} {description}"):
        funding.append("nhs")
    if charity:
        funding.append("charity")
    if paid:
        funding.append("private")
    fees_note = "; ".join(
        filter(
            None,
            (
                ", ".join(filter(None, [_text(o.get("option")), _text(o.get("amount_description")) or _text(o.get("cost_type"))]))
                for o in cost_options
            ),
        )
    ) or html_to_text(_text(service.get("fees_description")) or _text(service.get("fees")))

    wait_time = html_to_text(_text(service.get("wait_time")))
    areas = [_text(a.get("name")) or _text(a.get("service_area")) or _text(a.get("description")) for a in _list(service.get("service_areas"))]
    notes = [
        f"How to access: {application}" if application else "",
        *[f"Who can use it: {e}" for e in eligibility if e],
        ages_text(service) or "",
        f"Waiting time: {wait_time}" if wait_time else "",
        f"Area served: {'; '.join(a for a in areas if a)}" if any(areas) else "",
    ]
    referral_notes = "\n".join(n for n in notes if n)
    weeks = re.search(r"(\d{1,3})\s*weeks?", wait_time, re.I)
    status = _text(service.get("status")).lower()
    languages = []
    for language in _list(service.get("languages")):
        for label in (_text(language.get("name")), _text(language.get("language"))):
            if label:
                with contextlib.suppress(FinderError):  # a language outside our list is left out
                    languages.append(LANGUAGES.check(label))
                break
    email = _text(service.get("email")) or next(
        (_text(c.get("email")) for c in _list(service.get("contacts")) if _text(c.get("email")) and not _is_referral_contact(c)), ""
    )
    referral = _referral_contact(service)
    initial = [a for a, o in paid if re.search(r"\b(first|initial|new patient|assessment)\b", _text(o.get("option")), re.I)]
    follow_up = [a for a, o in paid if re.search(r"\bfollow", _text(o.get("option")), re.I)]
    others = [a for a, o in paid if not re.search(r"\bfollow", _text(o.get("option")), re.I)]

    data = {
        "name": name[:300],
        "practice_name": (_text(organization.get("name"))[:300] or None) if _text(organization.get("name")) != name else None,
        "bio": _shorten(description, MAX_TEXT, source_url) or None,
        "languages": languages,
        "specialisms": _matches(words, SPECIALISM_PHRASES) + _vocab_codes(terms, SPECIALISMS),
        "conditions": _matches(words, CONDITION_PHRASES) + _vocab_codes(terms, CONDITIONS),
        "locations": places.locations,
        "funding": funding,
        "referral_routes": [{"route": code} for code in dict.fromkeys(_matches(words, ROUTE_PHRASES))],
        "referral_notes": _shorten(referral_notes, MAX_TEXT, source_url) or None,
        "nhs_waiting_weeks": int(weeks.group(1)) if weeks and "nhs" in funding else None,
        "fee_initial_gbp": min(initial or others or [a for a, _ in paid]).quantize(Decimal("0.01")) if paid else None,
        "fee_follow_up_gbp": min(follow_up).quantize(Decimal("0.01")) if follow_up else None,
        "referral_email": _text(referral.get("email")) or None,
        "referral_phone": (_numbers(referral) or [None])[0],
        "fees_note": fees_note[:300] or None,
        "accepting_new_patients": False if status == "temporarily closed" else None,
        "phone": _service_phone(service, organization),
        "email": email or None,
        "website": _web_address(service.get("url")) or _web_address(organization.get("website")) or _web_address(organization.get("url")),
        "provenance": {
            "source": source,
            "source_id": _text(service.get("id")),
            "source_url": source_url,
            "fetched_at": fetched_at,
            "last_verified_on": _date_or_none(service.get("assured_date")),
        },
        "home_visits": home_visit_area(service),
    }
    ours = published_terms(service)
    if ours:
        data.update(_from_published_terms(ours))
        data["nhs_waiting_weeks"] = int(weeks.group(1)) if weeks and "nhs" in data["funding"] else None
    return data


# ---------------------------------------------------------------------------
# Feeds that speak our own published taxonomy (finder.oruk_taxonomy), e.g. another Physio Finder


def published_terms(service: dict[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    """Our taxonomy terms on a service's attributes: vocabulary -> [(code, attribute value)]."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for attribute in _list(service.get("attributes")):
        term = term_of(attribute.get("taxonomy_term") or _text(attribute.get("taxonomy_term_id")))
        if term is not None:
            found.setdefault(term.taxonomy, []).append((term.code, _text(attribute.get("value")) or None))
    return found


def _from_published_terms(ours: dict[str, list[tuple[str, str | None]]]) -> dict[str, Any]:
    """Record fields a feed states in our own taxonomy: explicit codes, never guessed from words."""

    def codes(name: str) -> list[str]:
        return list(dict.fromkeys(code for code, _ in ours.get(name, [])))

    data: dict[str, Any] = {
        name if name.endswith("s") or name == "funding" else f"{name}s": codes(name)
        for name in ("specialism", "condition", "treatment", "funding", "membership")
    }
    data["referral_routes"] = [
        {"route": code, "only_for": [g for g in (value or "").split("+") if g]} for code, value in ours.get("referral_route", [])
    ]
    if ours.get("registration_status"):
        status, value = ours["registration_status"][0]
        number = re.search(r"\bPH\d{1,7}\b", value or "")
        checked = re.search(r"\b\d{4}-\d{2}-\d{2}\b", value or "")
        # A status is only taken with the date it was checked; otherwise it is "unchecked".
        data["registration"] = {
            "number": number.group(0) if number else None,
            "status": status if checked or status == "unchecked" else "unchecked",
            "checked_on": checked.group(0) if checked else None,
        }
    facts = codes(LISTING_FACTS.name)
    if "accepting_new_patients" in facts:
        data["accepting_new_patients"] = True
    elif "not_accepting_new_patients" in facts:
        data["accepting_new_patients"] = False
    data["is_sample"] = "fictional_sample" in facts
    return data


_HOME_VISITS_AREA = re.compile(r"^\s*Home visits within (\d{1,3}(?:\.\d+)?) km of (.+?)\s*$", re.I)


def home_visit_area(service: dict[str, Any]) -> dict[str, Any] | None:
    """Home-visit coverage from a service area named 'Home visits within 15 km of LS6 2AB'
    (centre from its GeoJSON extent when given, else looked up from the postcode)."""
    for area in _list(service.get("service_areas")):
        match = _HOME_VISITS_AREA.match(_text(area.get("name")) or _text(area.get("service_area")))
        postcode = _postcode(match.group(2))[0] if match else None
        if match is None or postcode is None:
            continue
        lat = lon = None
        if _text(area.get("extent_type")).lower() == "geojson":
            with contextlib.suppress(ValueError, TypeError, KeyError, IndexError):
                import json

                ring = json.loads(_text(area.get("extent")))["coordinates"][0][:-1]
                lon = sum(float(p[0]) for p in ring) / len(ring)
                lat = sum(float(p[1]) for p in ring) / len(ring)
        return {"base_postcode": postcode, "coverage_radius_km": float(match.group(1)), "lat": lat, "lon": lon}
    return None


# ---------------------------------------------------------------------------
# One service -> a SourceItem, a skip reason, or a reject


@dataclass(frozen=True)
class Rules:
    """What counts as physiotherapy in this feed."""

    taxonomy: tuple[str, ...] = ()
    all_services: bool = False


def _reject(item: SourceItem, reason: str, message: str, stats: FeedStats | None) -> SourceItem:
    item.reject(None, message)
    if stats is not None:
        stats.rejected[reason] += 1
    return item


def parse_service(
    service: Any,
    *,
    row: int,
    source: str,
    wanted_terms: Iterable[str] = (),
    source_url: str | None = None,
    fetched_at: datetime | None = None,
    rules: Rules | None = None,
    find_places: Callable[[dict[str, Any], bool], Places] | None = None,
    stats: FeedStats | None = None,
) -> SourceItem | str:
    """One service -> a SourceItem (a record, or the reasons it was rejected), or why it was skipped."""
    rules = rules or Rules(taxonomy=tuple(wanted_terms))
    item = SourceItem(row=row, unit="service")
    if not isinstance(service, dict) or not _text(lower_keys(service).get("id")):
        item.raw = {"url": source_url}
        return _reject(item, "not a service object", f"{source_url or 'the feed'}: expected a service object with an id, got {type(service).__name__}", stats)
    service = lower_keys(service)
    sid = _text(service.get("id"))
    item.raw = {"id": sid, "name": _text(service.get("name")), "url": source_url}
    if not _text(service.get("name")):
        return _reject(item, "no name", f"service {sid} ({source_url or 'listing'}) has no name: the ORUK profile requires one", stats)
    if _text(service.get("status")).lower() in ("inactive", "defunct"):
        return "not active"
    found = recognise(service, rules.taxonomy, all_services=rules.all_services)
    if found is None:
        return "not physiotherapy"
    if stats is not None:
        stats.recognised[found.by] += 1
        stats.reasons[sid] = str(found)
    charity = is_charity(service)
    places = place_locations(service, charity=charity)
    visits_home = home_visit_area(service) is not None
    if not places.locations and find_places is not None and not visits_home:
        own_notes = places.notes
        places = find_places(service, charity)
        places.notes = own_notes + places.notes
    if not places.locations and not visits_home:
        why = "; ".join(places.notes[:4]) or "no service_at_locations, locations or service areas"
        return _reject(item, "no place", f"service {sid}: no place to list it at ({why})", stats)
    data = service_record(service, source=source, source_url=source_url, fetched_at=fetched_at, places=places)
    try:
        item.record = Record.model_validate(data)
    except ValidationError as exc:
        for problem in record_problems(exc):
            item.reject(problem.column, f"service {sid}: {problem.message}")
        if stats is not None:
            stats.rejected["invalid record"] += 1
        return item
    if stats is not None:
        stats.placed_by[places.how or "service_at_locations"] += 1
        stats.place_notes += len(places.notes)
    return item


# ---------------------------------------------------------------------------
# Fetching a feed


def base_address(url: str) -> str:
    """The API base (no trailing slash, no trailing /services)."""
    base = url.strip().rstrip("/")
    if base.lower().endswith("/services"):
        base = base[: -len("/services")]
    if not re.match(r"^https?://[^/\s]+", base, re.I):
        raise FinderError(f"'{url[:80]}' is not a web address: give the feed's base, e.g. https://api.example.gov.uk/")
    return base


def default_source(base: str) -> str:
    """Per-feed provenance: 'oruk:' and the host, so two feeds never overwrite each other."""
    host = urlsplit(base).netloc.lower()
    return ("oruk:" + re.sub(r"[^a-z0-9_.:-]", "-", host))[:64]


def service_url(base: str, service_id: str) -> str:
    return f"{base}/services/{quote(service_id, safe='')}"


@dataclass
class FeedStats:
    """What the feed held and what became of it: the run's report beyond the change counts."""

    listed: int = 0
    pages: int = 0
    total_items: int | None = None
    #: Services recognised as physiotherapy, by what recognised them (taxonomy, name, description, operator).
    recognised: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    #: Services rejected before loading, by reason (could not fetch, no name, no place, invalid record, ...).
    rejected: Counter[str] = field(default_factory=Counter)
    fetch_failed: int = 0
    placed_by: Counter[str] = field(default_factory=Counter)
    place_notes: int = 0
    #: Why each recognised service counted, by service id.
    reasons: dict[str, str] = field(default_factory=dict)
    #: Listing entries without a name (the UK profile requires one; the validator's Fail mock has them).
    unnamed_in_listing: int = 0
    #: Whether the feed answers /service_at_locations?service_id= (None: not asked yet).
    offers_service_at_locations: bool | None = None

    @property
    def physiotherapy(self) -> int:
        return sum(self.recognised.values())


def _needs_detail(entry: dict[str, Any]) -> bool:
    """A listing entry that already carries its locations (Outpost) is the whole service."""
    return not _location_links(entry)


def list_services(
    session: PoliteSession, base: str, *, per_page: int = DEFAULT_PER_PAGE, max_pages: int | None = None, stats: FeedStats
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every service entry the feed lists, page by page (an id listed twice is read once), and entries without ids."""
    entries: dict[str, dict[str, Any]] = {}
    without_id: list[str] = []
    page_number = 1
    previous: list[str] | None = None
    while True:
        url = f"{base}/services"
        document = session.get(url, params={"page": page_number, "per_page": per_page}, expect="json").json()
        page = parse_service_page(document, url=f"{url}?page={page_number}")
        stats.pages += 1
        if stats.total_items is None:
            stats.total_items = page.total_items
        ids = page.ids
        if ids and ids == previous and len(set(ids)) > 1:
            raise SourceFormatError(
                f"{url} returned the same services for page {page_number} as for the page before: "
                "does this feed support ?page=?"
            )
        if ids and ids == previous:
            break  # a one-service page repeated: the feed ignores ?page=, and we have it
        previous = ids
        without_id += [f"{url}?page={page_number}, entry {position}" for position in page.without_id]
        for entry in page.entries:
            stats.unnamed_in_listing += not _text(entry.get("name"))
            entries.setdefault(entry_id(entry), entry)
        if not page.entries and not page.without_id:
            break
        if page.last is True or (page.total_pages is not None and page_number >= page.total_pages):
            break
        if page.total_pages is None and page.last is None and len(page.entries) + len(page.without_id) < per_page:
            break  # no paging information: a short page is the last one
        if max_pages is not None and stats.pages >= max_pages:
            break
        if page_number >= MAX_PAGES:
            raise SourceFormatError(f"{url} claims more than {MAX_PAGES} pages: stopping")
        page_number += 1
    stats.listed = len(entries)
    return list(entries.values()), without_id


def list_service_ids(
    session: PoliteSession, base: str, *, per_page: int = DEFAULT_PER_PAGE, max_pages: int | None = None, stats: FeedStats
) -> list[str]:
    """Every service id the feed lists (duplicates dropped)."""
    entries, _ = list_services(session, base, per_page=per_page, max_pages=max_pages, stats=stats)
    return [entry_id(e) for e in entries]


def _feed_places(
    session: PoliteSession, base: str, stats: FeedStats, place_lookup: PlaceLookup | None
) -> Callable[[dict[str, Any], bool], Places]:
    """Where a service without its own locations is: ask the feed, else its service areas."""

    def find(service: dict[str, Any], charity: bool) -> Places:
        sid = _text(service.get("id"))
        notes: list[str] = []
        if stats.offers_service_at_locations is not False:
            url = f"{base}/service_at_locations"
            try:
                document = session.get(url, params={"service_id": sid}, expect="json").json()
                page = parse_service_page(document, url=url)
            except RobotsDisallowed:
                raise
            except SourceError as exc:
                # A feed without this endpoint answers 404 (or an error page): stop asking it.
                stats.offers_service_at_locations = False
                notes.append(f"the feed does not offer /service_at_locations ({_fetch_reason(exc.detail)})")
            else:
                stats.offers_service_at_locations = True
                # Only links that name this service: a feed that ignores ?service_id= lists everyone's.
                mine = [
                    link
                    for link in page.entries
                    if _text(link.get("service_id") or _dict(link.get("service")).get("id")) in ("", sid)
                ]
                found = place_locations({"service_at_locations": mine}, charity=charity)
                if found.locations:
                    found.how = "the feed's /service_at_locations"
                    return found
                notes += found.notes
        location_ids = [_text(link.get("location_id")) for link in _list(service.get("service_at_locations")) if _text(link.get("location_id"))]
        location_ids += [_text(v) for v in service.get("location_ids") or [] if _text(v)]
        links = []
        for location_id in dict.fromkeys(location_ids):
            url = f"{base}/locations/{quote(location_id, safe='')}"
            try:
                location = session.get(url, expect="json").json()
            except RobotsDisallowed:
                raise
            except SourceError as exc:
                notes.append(f"location {location_id}: {_fetch_reason(exc.detail)}")
                continue
            if isinstance(location, dict):
                links.append({"location": lower_keys(location)})
        if links:
            found = place_locations({"service_at_locations": links}, charity=charity)
            if found.locations:
                found.how = "the feed's /locations/{id}"
                return found
            notes += found.notes
        areas = area_locations(service, charity=charity, place_lookup=place_lookup)
        areas.notes = notes + areas.notes
        if areas.locations:
            areas.how = "service areas"
        return areas

    return find


def feed_items(
    session: PoliteSession,
    base: str,
    entries: list[dict[str, Any]] | list[str],
    *,
    source: str,
    wanted_terms: Iterable[str] = (),
    rules: Rules | None = None,
    stats: FeedStats,
    place_lookup: PlaceLookup | None = None,
    now: datetime | None = None,
) -> Iterator[SourceItem]:
    """Each listed service, fetched in full when the listing does not hold it, as SourceItems (physiotherapy and rejects)."""
    rules = rules or Rules(taxonomy=tuple(wanted_terms))
    find_places = _feed_places(session, base, stats, place_lookup)
    for row, entry in enumerate(entries, start=1):
        if isinstance(entry, str):
            entry = {"id": entry}
        sid = entry_id(entry)
        url = service_url(base, sid)
        document: Any = entry
        if _needs_detail(entry):
            try:
                document = session.get(url, expect="json").json()
            except RobotsDisallowed:
                raise
            except SourceError as exc:
                stats.fetch_failed += 1
                item = SourceItem(row=row, unit="service", raw={"id": sid, "name": _text(entry.get("name")), "url": url})
                reason = "could not fetch: " + _fetch_reason(exc.detail)
                yield _reject(item, reason, f"service {sid}: {exc.detail}", stats)
                continue
        else:
            url = f"{base}/services (listing entry {sid})"
        outcome = parse_service(
            document,
            row=row,
            source=source,
            rules=rules,
            source_url=url if url.startswith("http") and " " not in url else None,
            fetched_at=now or utcnow(),
            find_places=find_places,
            stats=stats,
        )
        if isinstance(outcome, str):
            stats.skipped[outcome] += 1
            continue
        yield outcome


def _fetch_reason(detail: str) -> str:
    status = re.search(r"HTTP (\d{3})", detail)
    if status:
        return f"HTTP {status.group(1)}"
    if "valid JSON" in detail:
        return "bad JSON"
    if "no answer within" in detail:
        return "timed out"
    return detail[:60]


@dataclass
class OrukReport:
    """The change report of one feed, plus what the feed held and what became of it."""

    base_url: str
    source: str
    stats: FeedStats
    ingest: IngestReport
    complete: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.ingest.added + self.ingest.updated + self.ingest.unchanged

    @property
    def rejected_by_reason(self) -> Counter[str]:
        reasons = Counter(self.stats.rejected)
        # Rejected while loading (a postcode the gazetteer does not know, a duplicate id).
        extra = self.ingest.rejected - sum(reasons.values())
        if extra > 0:
            reasons["refused while loading (unknown postcode, duplicate)"] += extra
        return reasons

    @property
    def refused(self) -> bool:
        """Nothing usable: services were rejected and none loaded (or nothing was written)."""
        return not self.ingest.written or (self.ingest.rejected > 0 and self.loaded == 0)

    def summary(self) -> str:
        s = self.stats
        recognised = ", ".join(f"{n} by {by}" for by, n in sorted(s.recognised.items()))
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(s.skipped.items())) or "none"
        rejected = ", ".join(f"{n} {why}" for why, n in sorted(self.rejected_by_reason.items())) or "none"
        lines = [
            f"feed listed {s.listed} services on {s.pages} page(s); physiotherapy {s.physiotherapy}"
            + (f" ({recognised})" if recognised else "")
            + f"; skipped: {skipped}",
            f"loaded {self.loaded}; rejected {self.ingest.rejected}: {rejected}",
        ]
        if s.placed_by and set(s.placed_by) != {"service_at_locations"}:
            lines[-1] += "; placed by " + ", ".join(f"{how} {n}" for how, n in sorted(s.placed_by.items()))
        return "\n".join(lines) + "\n" + self.ingest.summary()

    def as_dict(self) -> dict[str, Any]:
        """What the run's IngestRun row keeps (finder sources report reads it)."""
        s = self.stats
        return {
            "kind": "oruk",
            "seen": s.listed,
            "pages": s.pages,
            "recognised": dict(s.recognised),
            "skipped": dict(s.skipped),
            "loaded": self.loaded,
            "rejected": dict(self.rejected_by_reason),
            "placed_by": dict(s.placed_by),
            "place_notes": s.place_notes,
            "reasons": dict(list(s.reasons.items())[:500]),
            "warnings": self.warnings,
        }


def _live_listings(store: Store, source: str) -> int:
    with store.reader() as session:
        stmt = select(func.count(SourceRecord.id)).where(SourceRecord.source == source, SourceRecord.withdrawn_at.is_(None))
        return int(session.scalar(stmt) or 0)


def save_run_details(store: Store, run_id: int | None, details: dict[str, Any]) -> None:
    """Keep a run's report beside its change counts (the data-quality report reads it)."""
    if run_id is None:
        return
    with store.session() as session:
        run = session.get(IngestRun, run_id)
        if run is not None:
            run.details = details


def ingest_oruk_feed(
    store: Store,
    session: PoliteSession,
    base_url: str,
    *,
    taxonomy: Iterable[str] = (),
    all_services: bool = False,
    source: str | None = None,
    strict: bool = False,
    partial: bool | None = None,
    geocode: PostcodeLookup | None = None,
    place_lookup: PlaceLookup | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    max_pages: int | None = None,
    allow_empty: bool = False,
    progress: bool = False,
    now: datetime | None = None,
) -> OrukReport:
    """Read a whole ORUK feed and load its physiotherapy services (updates, never duplicates).

    A rejected service never stops the others (``strict`` makes the run
    all-or-nothing); a run with rejects never withdraws listings.
    """
    if partial is not None:
        strict = not partial  # the older switch: partial=False meant all-or-nothing
    base = base_address(base_url)
    source = source or default_source(base)
    if per_page < 1 or per_page > 1000:
        raise FinderError("--per-page must be between 1 and 1000")
    stats = FeedStats()
    # Every listing page is read before anything is written: a feed that fails
    # half-way never withdraws the services we did not get to see.
    entries, without_id = list_services(session, base, per_page=per_page, max_pages=max_pages, stats=stats)
    warnings: list[str] = []
    complete = max_pages is None
    if not complete:
        warnings.append(f"read only {stats.pages} page(s) (--max-pages): listings missing from them are not withdrawn")
    if not entries and not without_id and complete and not allow_empty:
        live = _live_listings(store, source)
        if live:
            complete = False
            warnings.append(
                f"the feed lists no services; the {live} listing(s) already loaded from it are kept "
                "(rerun with --allow-empty if the feed really is empty now)"
            )
    if stats.unnamed_in_listing:
        warnings.append(
            f"{stats.unnamed_in_listing} listing entr{'y has' if stats.unnamed_in_listing == 1 else 'ies have'} no name "
            "(the ORUK profile requires one): the feed does not conform; each service is judged on its full record"
        )
    rules = Rules(taxonomy=tuple(t for t in taxonomy if t.strip()), all_services=all_services)

    def items() -> Iterator[SourceItem]:
        for position, where in enumerate(without_id, start=1):
            item = SourceItem(row=position, unit="listing entry", raw={"url": where})
            yield _reject(item, "no id", f"{where} has no id, so it cannot be fetched", stats)
        yield from feed_items(
            session, base, entries, source=source, rules=rules, stats=stats, place_lookup=place_lookup, now=now or utcnow()
        )

    report = ingest(
        store, items(), source=source, input_name=base, partial=not strict, complete=complete, geocode=geocode, progress=progress, now=now
    )
    oruk = OrukReport(base_url=base, source=source, stats=stats, ingest=report, complete=complete, warnings=warnings)
    for warning in warnings:
        log.warning("oruk %s: %s", base, warning)
    save_run_details(store, report.run_id, oruk.as_dict())
    return oruk
