"""Open Referral UK feeds: physiotherapy services from a council's or NHS service directory.

Written against the Open Referral UK API (HSDS 3.0 UK profile, openreferraluk.org;
the profile's ``openapi.json``):

* ``GET {base}/services?page=N&per_page=M`` returns a page envelope
  ``{"total_items", "total_pages", "page_number", "size", "first_page",
  "last_page", "empty", "contents": [service, ...]}`` whose services carry
  one-to-one fields only (id, name, description, status, ...);
* ``GET {base}/services/{id}`` returns the fully nested service: its
  ``organization``, ``service_at_locations[].location`` (``latitude``,
  ``longitude``, ``addresses[]`` with ``address_type`` physical/postal,
  ``phones``, ``accessibility``, ``schedules``), ``contacts[].phones``,
  ``schedules`` (RFC 5545 ``byday`` / ``opens_at`` / ``closes_at``),
  ``service_areas``, ``cost_options`` (``option``, ``amount``, ``currency``,
  ``amount_description``), ``eligibility_description``, ``languages`` and
  taxonomy terms as ``attributes[].taxonomy_term``.

Older ORUK (v1) feeds are read too where they differ only in names:
``physical_addresses`` / ``postal_addresses`` on a location, ``regular_schedules``,
``eligibilitys``, ``accessibility_for_disabilities``, ``service_taxonomys[].taxonomy``
and a ``content`` / ``totalPages`` page envelope.

Physiotherapy is recognised by a taxonomy term the operator names (``--taxonomy``)
or by the words physiotherapy / physical therapy in the service's name,
description or taxonomy terms; everything else is skipped and counted.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pydantic import ValidationError
from sqlalchemy import func, select

from finder.errors import FinderError, RobotsDisallowed, SourceError, SourceFormatError
from finder.ingest import IngestReport, PostcodeLookup, SourceItem, ingest
from finder.models import SourceRecord, utcnow
from finder.records import MAX_TEXT, Record, record_problems
from finder.sites import normalise_ods_code
from finder.vocab import CONDITIONS, LANGUAGES, SPECIALISMS

if TYPE_CHECKING:
    from finder.db import Store
    from scrapers.http import PoliteSession

log = logging.getLogger(__name__)

DEFAULT_PER_PAGE = 50
#: A feed with more pages than this is not being paged the way we ask.
MAX_PAGES = 10_000

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


# ---------------------------------------------------------------------------
# Pages


@dataclass(frozen=True)
class ServicePage:
    """One page of ``/services``."""

    total_items: int | None
    total_pages: int
    page_number: int
    ids: list[str]


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_service_page(document: Any, *, url: str = "the feed") -> ServicePage:
    """Read a ``/services`` page envelope; anything else is a SourceFormatError."""
    if not isinstance(document, dict):
        raise SourceFormatError(
            f"{url} did not return a page object (expected {{'total_items', 'total_pages', 'page_number', 'contents'}}), "
            f"got a JSON {type(document).__name__}"
        )
    contents = document.get("contents", document.get("content"))
    total_pages = _as_int(document.get("total_pages", document.get("totalPages")))
    if not isinstance(contents, list) or total_pages is None:
        keys = ", ".join(sorted(document)[:8]) or "nothing"
        raise SourceFormatError(
            f"{url} is not an Open Referral UK services page: expected 'contents' (a list) and 'total_pages', "
            f"found {keys}. Is this the API's base address?"
        )
    ids: list[str] = []
    for position, entry in enumerate(contents, start=1):
        sid = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(sid, str | int) or not str(sid).strip():
            raise SourceFormatError(f"{url}: service {position} on this page has no id")
        ids.append(str(sid).strip())
    page_number = _as_int(document.get("page_number", document.get("number"))) or 1
    total_items = _as_int(document.get("total_items", document.get("totalElements")))
    return ServicePage(total_items=total_items, total_pages=total_pages, page_number=page_number, ids=ids)


# ---------------------------------------------------------------------------
# One service -> Record


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def taxonomy_terms(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Taxonomy terms of a service in either HSDS 3 (attributes) or ORUK v1 (service_taxonomys) form."""
    terms = [a["taxonomy_term"] for a in _list(service.get("attributes")) if isinstance(a.get("taxonomy_term"), dict)]
    terms += [t["taxonomy"] for t in _list(service.get("service_taxonomys")) if isinstance(t.get("taxonomy"), dict)]
    terms += _list(service.get("taxonomy_terms"))
    return terms


def _term_labels(term: dict[str, Any]) -> list[str]:
    return [_text(term.get(k)) for k in ("name", "term", "code", "id", "description") if _text(term.get(k))]


def physiotherapy_reason(service: dict[str, Any], wanted: Iterable[str] = ()) -> str | None:
    """Why a service counts as physiotherapy, or None when it does not."""
    wanted_keys = {w.strip().lower() for w in wanted if w.strip()}
    for term in taxonomy_terms(service):
        labels = _term_labels(term)
        if wanted_keys & {label.lower() for label in labels}:
            return f"taxonomy term '{labels[0]}'"
        if any(PHYSIO_WORDS.search(label) for label in labels):
            return f"taxonomy term '{labels[0]}'"
    for key in ("name", "description"):
        if PHYSIO_WORDS.search(_text(service.get(key))):
            return f"the service {key}"
    return None


def _phone(items: Any) -> str | None:
    for phone in _list(items):
        number = _text(phone.get("number")).strip("\"' ")
        if number:
            return number[:300]
    return None


def _contact_phone(service: dict[str, Any]) -> str | None:
    for contact in _list(service.get("contacts")):
        number = _phone(contact.get("phones"))
        if number:
            return number
    return None


def _address(location: dict[str, Any]) -> dict[str, Any] | None:
    addresses = _list(location.get("addresses"))
    physical = [a for a in addresses if _text(a.get("address_type")).lower() == "physical"]
    for candidate in (physical, addresses, _list(location.get("physical_addresses")), _list(location.get("postal_addresses"))):
        if candidate:
            return candidate[0]
    return None


def _hours(schedules: list[dict[str, Any]]) -> str | None:
    """A short opening-hours line from RFC 5545 or ORUK v1 schedules."""
    by_time: dict[tuple[str, str], list[str]] = {}
    notes: list[str] = []
    for schedule in schedules:
        opens, closes = _text(schedule.get("opens_at"))[:5], _text(schedule.get("closes_at"))[:5]
        days = [d.strip().upper()[-2:] for d in _text(schedule.get("byday")).split(",") if d.strip()]
        weekday = _WEEKDAY_WORDS.get(_text(schedule.get("weekday")).lower())
        if weekday:
            days.append(weekday)
        days = [d for d in days if d in _DAYS]
        if days and opens and closes:
            by_time.setdefault((opens, closes), []).extend(days)
        elif _text(schedule.get("description")):
            notes.append(_text(schedule.get("description")))
    parts = []
    for (opens, closes), days in by_time.items():
        ordered = sorted(set(days), key=_DAYS.index)
        indexes = [_DAYS.index(d) for d in ordered]
        if len(ordered) > 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
            label = f"{_DAY_NAMES[ordered[0]]}–{_DAY_NAMES[ordered[-1]]}"
        else:
            label = ", ".join(_DAY_NAMES[d] for d in ordered)
        parts.append(f"{label} {opens}–{closes}")
    text = "; ".join(parts) or "; ".join(notes)
    return text[:300] or None


def _wheelchair(location: dict[str, Any]) -> bool | None:
    texts = [_text(a.get("description")) + " " + _text(a.get("details")) for a in _list(location.get("accessibility"))]
    texts += [_text(a.get("accessibility")) for a in _list(location.get("accessibility_for_disabilities"))]
    joined = " ".join(texts)
    if not re.search(r"\bwheelchair", joined, re.I):
        return None
    negated = re.search(r"\b(no|not|without)\b[^.]{0,30}\bwheelchair|\bwheelchair[^.]{0,30}\b(not|no)\b", joined, re.I)
    return negated is None


def _setting(location: dict[str, Any], charity: bool) -> str:
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
    return number


def _locations(service: dict[str, Any], charity: bool) -> tuple[list[dict[str, Any]], int]:
    """Record locations from service_at_locations, and how many had no address or coordinates."""
    found: list[dict[str, Any]] = []
    unplaced = 0
    for link in _list(service.get("service_at_locations")):
        location = link.get("location") if isinstance(link.get("location"), dict) else None
        if location is None:
            continue
        address = _address(location) or {}
        lat, lon = _coordinate(location.get("latitude")), _coordinate(location.get("longitude"))
        if lat == 0 and lon == 0:
            lat = lon = None  # a common placeholder for "unknown"
        if lat is None or lon is None:
            lat = lon = None
        postcode = _text(address.get("postal_code")) or None
        setting = _setting(location, charity)
        if postcode is None and lat is None and setting != "online":
            unplaced += 1
            continue
        schedules = _list(link.get("schedules")) or _list(location.get("schedules")) or _list(link.get("regular_schedules"))
        identifier_type = _text(location.get("external_identifier_type")).lower()
        street = ", ".join(filter(None, [_text(address.get("address_1")), _text(address.get("address_2"))]))
        found.append(
            {
                "name": _text(location.get("name")) or None,
                "setting": setting,
                "address": street[:300] or None,
                "town": _text(address.get("city")) or None,
                "postcode": postcode,
                "lat": lat,
                "lon": lon,
                "ods_code": normalise_ods_code(_text(location.get("external_identifier"))) if identifier_type in ("ods", "ods code", "ods_code") else None,
                "wheelchair_access": _wheelchair(location),
                "opening_hours": _hours(schedules) if schedules else None,
                "phone": _phone(link.get("phones")) or _phone(location.get("phones")),
            }
        )
    return found, unplaced


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


def service_record(
    service: dict[str, Any], *, source: str, source_url: str | None = None, fetched_at: datetime | None = None
) -> dict[str, Any]:
    """Map one fully nested ORUK service to Record data (validated by the caller)."""
    organization: dict[str, Any] = service["organization"] if isinstance(service.get("organization"), dict) else {}
    identifiers = _list(organization.get("organization_identifiers"))
    charity = any(_text(i.get("identifier_scheme")).upper() in _CHARITY_SCHEMES for i in identifiers)
    name = _text(service.get("name")) or _text(organization.get("name"))
    description = _text(service.get("description"))
    terms = taxonomy_terms(service)
    term_text = " ".join(" ".join(_term_labels(t)[:2]) for t in terms)
    eligibility = [_text(service.get("eligibility_description"))]
    eligibility += [_text(e.get("eligibility")) for e in _list(service.get("eligibilitys"))]
    eligibility += [_text(e.get("description")) for e in _list(service.get("eligibility"))]
    application = _text(service.get("application_process"))
    words = " ".join([name, description, term_text, application, *eligibility])

    locations, _unplaced = _locations(service, charity)
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
        filter(None, (", ".join(filter(None, [_text(o.get("option")), _text(o.get("amount_description"))])) for o in cost_options))
    ) or _text(service.get("fees_description")) or _text(service.get("fees"))

    ages = []
    minimum, maximum = _as_int(service.get("minimum_age")), _as_int(service.get("maximum_age"))
    for e in _list(service.get("eligibilitys")):
        minimum = minimum if minimum is not None else _as_int(e.get("minimum_age"))
        maximum = maximum if maximum is not None else _as_int(e.get("maximum_age"))
    if minimum is not None or maximum is not None:
        ages.append(f"Ages {minimum if minimum is not None else 0}" + (f" to {maximum}" if maximum is not None else " and over"))
    areas = [_text(a.get("name")) or _text(a.get("service_area")) or _text(a.get("description")) for a in _list(service.get("service_areas"))]
    notes = [
        f"How to access: {application}" if application else "",
        *[f"Who can use it: {e}" for e in eligibility if e],
        *ages,
        f"Waiting time: {_text(service.get('wait_time'))}" if _text(service.get("wait_time")) else "",
        f"Area served: {'; '.join(a for a in areas if a)}" if any(areas) else "",
    ]
    referral_notes = "\n".join(n for n in notes if n)
    weeks = re.search(r"(\d{1,3})\s*weeks?", _text(service.get("wait_time")), re.I)
    status = _text(service.get("status")).lower()
    languages = []
    for language in _list(service.get("languages")):
        for label in (_text(language.get("name")), _text(language.get("language"))):
            if label:
                with contextlib.suppress(FinderError):  # a language outside our list is left out
                    languages.append(LANGUAGES.check(label))
                break

    return {
        "name": name[:300],
        "practice_name": (_text(organization.get("name")) or None) if _text(organization.get("name")) != name else None,
        "bio": _shorten(description, MAX_TEXT, source_url) or None,
        "languages": languages,
        "specialisms": _matches(words, SPECIALISM_PHRASES) + _vocab_codes(terms, SPECIALISMS),
        "conditions": _matches(words, CONDITION_PHRASES) + _vocab_codes(terms, CONDITIONS),
        "locations": locations,
        "funding": funding,
        "referral_routes": [{"route": code} for code in dict.fromkeys(_matches(words, ROUTE_PHRASES))],
        "referral_notes": _shorten(referral_notes, MAX_TEXT, source_url) or None,
        "nhs_waiting_weeks": int(weeks.group(1)) if weeks and "nhs" in funding else None,
        "fee_initial_gbp": min(amount for amount, _ in paid).quantize(Decimal("0.01")) if paid else None,
        "fees_note": fees_note[:300] or None,
        "accepting_new_patients": False if status == "temporarily closed" else None,
        "phone": _phone(service.get("phones")) or _contact_phone(service) or _phone(organization.get("phones")),
        "email": _text(service.get("email")) or None,
        "website": _web_address(service.get("url")) or _web_address(organization.get("website")),
        "provenance": {
            "source": source,
            "source_id": str(service.get("id")),
            "source_url": source_url,
            "fetched_at": fetched_at,
            "last_verified_on": _date_or_none(service.get("assured_date")),
        },
    }


@dataclass
class FeedStats:
    """What the feed held, beyond the ingest report."""

    listed: int = 0
    pages: int = 0
    physiotherapy: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    fetch_failed: int = 0
    total_items: int | None = None


def parse_service(
    service: Any,
    *,
    row: int,
    source: str,
    wanted_terms: Iterable[str] = (),
    source_url: str | None = None,
    fetched_at: datetime | None = None,
) -> SourceItem | str:
    """One fully nested service -> a SourceItem, or the reason it was skipped."""
    item = SourceItem(row=row, unit="service")
    if not isinstance(service, dict) or not str(service.get("id") or "").strip():
        item.reject(None, f"expected a service object with an id, got {type(service).__name__}")
        return item
    item.raw = {"id": str(service["id"]), "name": _text(service.get("name")), "url": source_url}
    if physiotherapy_reason(service, wanted_terms) is None:
        return "not physiotherapy"
    if _text(service.get("status")).lower() in ("inactive", "defunct"):
        return "not active"
    data = service_record(service, source=source, source_url=source_url, fetched_at=fetched_at)
    if not data["locations"]:
        item.reject("locations", f"service {service['id']} has no location with a postcode or coordinates")
        return item
    try:
        item.record = Record.model_validate(data)
    except ValidationError as exc:
        for problem in record_problems(exc):
            item.reject(problem.column, f"service {service['id']}: {problem.message}")
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


def list_service_ids(
    session: PoliteSession, base: str, *, per_page: int = DEFAULT_PER_PAGE, max_pages: int | None = None, stats: FeedStats
) -> list[str]:
    """Every service id the feed lists, page by page (duplicates dropped)."""
    ids: dict[str, None] = {}
    page_number = 1
    previous: list[str] | None = None
    while True:
        url = f"{base}/services"
        document = session.get(url, params={"page": page_number, "per_page": per_page}, expect="json").json()
        page = parse_service_page(document, url=f"{url}?page={page_number}")
        stats.pages += 1
        if stats.total_items is None:
            stats.total_items = page.total_items
        if page.ids and page.ids == previous:
            raise SourceFormatError(
                f"{url} returned the same services for page {page_number} as for the page before: "
                "does this feed support ?page=?"
            )
        previous = page.ids
        for sid in page.ids:
            ids.setdefault(sid, None)
        if not page.ids or page_number >= page.total_pages:
            break
        if max_pages is not None and stats.pages >= max_pages:
            break
        if page_number >= MAX_PAGES:
            raise SourceFormatError(f"{url} claims more than {MAX_PAGES} pages: stopping")
        page_number += 1
    stats.listed = len(ids)
    return list(ids)


def feed_items(
    session: PoliteSession,
    base: str,
    ids: list[str],
    *,
    source: str,
    wanted_terms: Iterable[str] = (),
    stats: FeedStats,
    now: datetime | None = None,
) -> Iterator[SourceItem]:
    """Fetch each service in full and yield the physiotherapy ones as SourceItems."""
    wanted = list(wanted_terms)
    for row, sid in enumerate(ids, start=1):
        url = service_url(base, sid)
        try:
            fetched = session.get(url, expect="json")
            document = fetched.json()
        except RobotsDisallowed:
            raise
        except SourceError as exc:
            stats.fetch_failed += 1
            item = SourceItem(row=row, unit="service", raw={"id": sid, "url": url})
            item.reject(None, f"service {sid}: {exc.detail}")
            yield item
            continue
        outcome = parse_service(document, row=row, source=source, wanted_terms=wanted, source_url=url, fetched_at=now or utcnow())
        if isinstance(outcome, str):
            stats.skipped[outcome] += 1
            continue
        stats.physiotherapy += 1
        yield outcome


@dataclass
class OrukReport:
    """The change report of one feed, plus what was skipped and why."""

    base_url: str
    source: str
    stats: FeedStats
    ingest: IngestReport
    complete: bool
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        s = self.stats
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(s.skipped.items())) or "none"
        line = f"feed listed {s.listed} services on {s.pages} page(s); physiotherapy {s.physiotherapy}; skipped: {skipped}"
        if s.fetch_failed:
            line += f"; {s.fetch_failed} could not be fetched"
        return line + "\n" + self.ingest.summary()


def _live_listings(store: Store, source: str) -> int:
    with store.reader() as session:
        stmt = select(func.count(SourceRecord.id)).where(SourceRecord.source == source, SourceRecord.withdrawn_at.is_(None))
        return int(session.scalar(stmt) or 0)


def ingest_oruk_feed(
    store: Store,
    session: PoliteSession,
    base_url: str,
    *,
    taxonomy: Iterable[str] = (),
    source: str | None = None,
    partial: bool = False,
    geocode: PostcodeLookup | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    max_pages: int | None = None,
    allow_empty: bool = False,
    progress: bool = False,
    now: datetime | None = None,
) -> OrukReport:
    """Read a whole ORUK feed and load its physiotherapy services (updates, never duplicates)."""
    base = base_address(base_url)
    source = source or default_source(base)
    if per_page < 1 or per_page > 1000:
        raise FinderError("--per-page must be between 1 and 1000")
    stats = FeedStats()
    # Every listing page is read before anything is written: a feed that fails
    # half-way never withdraws the services we did not get to see.
    ids = list_service_ids(session, base, per_page=per_page, max_pages=max_pages, stats=stats)
    warnings: list[str] = []
    complete = max_pages is None
    if not complete:
        warnings.append(f"read only {stats.pages} page(s) (--max-pages): listings missing from them are not withdrawn")
    if not ids and complete and not allow_empty:
        live = _live_listings(store, source)
        if live:
            complete = False
            warnings.append(
                f"the feed lists no services; the {live} listing(s) already loaded from it are kept "
                "(rerun with --allow-empty if the feed really is empty now)"
            )
    items = feed_items(session, base, ids, source=source, wanted_terms=taxonomy, stats=stats, now=now or utcnow())
    report = ingest(
        store, items, source=source, input_name=base, partial=partial, complete=complete, geocode=geocode, progress=progress, now=now
    )
    for warning in warnings:
        log.warning("oruk %s: %s", base, warning)
    return OrukReport(base_url=base, source=source, stats=stats, ingest=report, complete=complete, warnings=warnings)
