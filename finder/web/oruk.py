"""The Open Referral UK 3.0 feed under /oruk: keyless, CORS *, problem+json errors.

This blueprint only reads parameters, asks the one search path (or, for the
unfiltered feed, the store's pages of listings) for rows, and hands them to
the mapping in finder.web.oruk_map. The ORUK base URL to give a directory is
``https://<host>/oruk``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from finder.db import store_from
from finder.errors import InvalidParameters, NotFound
from finder.models import StoredPractitioner
from finder.oruk_taxonomy import (
    LISTING_FACTS,
    TERMS_BY_ID,
    stable_id,
    taxonomy_id,
    taxonomy_names,
    term_of,
    vocabulary,
)
from finder.search.query import FACETS, MAX_PER_PAGE, MAX_TEXT_LENGTH
from finder.web import oruk_map
from finder.web.links import absolute_site_url
from finder.web.params import SearchRequest
from finder.web.searching import run_search

bp = Blueprint("oruk", __name__, url_prefix="/oruk")

DEFAULT_PER_PAGE = 50
EXTENSION_KEY = "finder.oruk_ids"

#: Filters of the UK profile we do not offer: refused with a clear message, never silently ignored.
UNSUPPORTED = ("taxonomy_id", "minimum_age", "maximum_age", "start_time", "end_time", "day", "modified_after", "organization_id", "format")
#: Listing facts that can filter, and the search flag each sets.
FACT_FLAGS = {"accepting_new_patients": "accepting", "home_visits": "visits_home"}


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status, mimetype="application/json")


# ---------------------------------------------------------------------------
# ids -> listings (ids are derived, so we keep a reverse table, rebuilt when the store changes)


@dataclass(frozen=True)
class IdTable:
    key: tuple[Any, ...]
    services: dict[str, int]
    organizations: dict[str, int]
    places: dict[str, tuple[int, int]]  # service_at_location id -> (practitioner id, position)


def id_table(app: Flask) -> IdTable:
    """Published id -> practitioner, built from the store's listing keys (about 0.5 s at 60,000)."""
    store = store_from(app)
    key = store.change_key()
    table: IdTable | None = app.extensions.get(EXTENSION_KEY)
    if table is not None and table.key == key:
        return table
    services: dict[str, int] = {}
    organizations: dict[str, int] = {}
    places: dict[str, tuple[int, int]] = {}
    for pid, source, source_id, locations in store.listing_keys():
        services[stable_id("service", source, source_id)] = pid
        organizations[stable_id("organization", source, source_id)] = pid
        for position in range(locations):
            places[stable_id("service_at_location", source, source_id, str(position))] = (pid, position)
    table = IdTable(key, services, organizations, places)
    app.extensions[EXTENSION_KEY] = table
    return table


def _uuid(value: str, kind: str) -> str:
    value = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value):
        raise NotFound(f"'{value[:60]}' is not a {kind} id: ids in this feed are UUIDs, as /oruk/services lists them.")
    return value


def _listing(practitioner_id: int | None, kind: str, given: str) -> StoredPractitioner:
    stored = store_from(current_app).get(practitioner_id) if practitioner_id is not None else None
    if stored is None:
        raise NotFound(f"No {kind} has id {given}.")
    return stored


# ---------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class FeedQuery:
    text: str
    terms: tuple[tuple[str, str], ...]
    postcode: str
    proximity_m: float | None
    page: int
    per_page: int

    @property
    def filtered(self) -> bool:
        return bool(self.text or self.terms or self.postcode)

    def search_request(self) -> SearchRequest:
        """The site's own search request for these filters."""
        filters: dict[str, tuple[str, ...]] = {}
        flags: set[str] = set()
        for name, code in self.terms:
            if name == LISTING_FACTS.name:
                flags.add(FACT_FLAGS[code])
            else:
                filters[name] = (*filters.get(name, ()), code)
        return SearchRequest(
            text=self.text,
            near=self.postcode,
            radius_km=None if self.proximity_m is None else self.proximity_m / 1000,
            filters=filters,
            page=self.page,
            per_page=self.per_page,
            browse=not self.text and not self.postcode,
            accepting="accepting" in flags,
            visits_home="visits_home" in flags,
        )


def _int(name: str, raw: str | None, default: int, problems: list[tuple[str, str]], high: int | None = None) -> int:
    if raw is None or not raw.strip():
        return default
    if not re.fullmatch(r"\d{1,9}", raw.strip()) or int(raw) < 1 or (high is not None and int(raw) > high):
        allowed = f"a whole number from 1 to {high}" if high else "a whole number from 1"
        problems.append((name, f"'{raw.strip()[:40]}' is not {allowed}"))
        return default
    return int(raw)


def parse_feed_args(args: Any, *, with_place: bool = True) -> FeedQuery:
    """Query string -> FeedQuery; every problem reported at once (InvalidParameters)."""
    problems: list[tuple[str, str]] = []
    for name in UNSUPPORTED:
        if (args.get(name) or "").strip():
            problems.append((name, "is not supported by this feed; filters are: text (or search), taxonomy_term_id, postcode, proximity, page, per_page"))
    text = (args.get("text") or args.get("search") or "").strip()
    if len(text) > MAX_TEXT_LENGTH:
        problems.append(("text", f"is {len(text)} characters long; at most {MAX_TEXT_LENGTH} are allowed"))
    terms: list[tuple[str, str]] = []
    for raw in args.getlist("taxonomy_term_id"):
        for given in (part.strip() for part in raw.split(",")):
            if not given:
                continue
            term = term_of(given)
            if term is None:
                problems.append(("taxonomy_term_id", f"'{given[:60]}' is not one of our taxonomy terms (see /oruk/taxonomy_terms)"))
            elif term.taxonomy not in FACETS and not (term.taxonomy == LISTING_FACTS.name and term.code in FACT_FLAGS):
                problems.append(
                    ("taxonomy_term_id", f"'{given}' ({term.taxonomy} {term.code}) cannot be used as a filter; filterable taxonomies: "
                     + ", ".join(t for t in taxonomy_names() if t in FACETS) + ", and listing_fact accepting_new_patients / home_visits")
                )
            else:
                terms.append((term.taxonomy, term.code))
    postcode = (args.get("postcode") or "").strip() if with_place else ""
    proximity: float | None = None
    raw_proximity = (args.get("proximity") or "").strip() if with_place else ""
    if raw_proximity:
        limit_m = float(current_app.config.get("SEARCH_MAX_RADIUS_KM", 200)) * 1000
        try:
            proximity = float(raw_proximity)
        except ValueError:
            proximity = None
        if proximity is None or not math.isfinite(proximity) or not 0 < proximity <= limit_m:
            problems.append(("proximity", f"'{raw_proximity[:40]}' is not a distance in metres from more than 0 to {limit_m:g}"))
            proximity = None
        elif not postcode:
            problems.append(("proximity", "give a postcode too: proximity is measured from the postcode"))
    page = _int("page", args.get("page"), 1, problems)
    per_page = _int("per_page", args.get("per_page"), DEFAULT_PER_PAGE, problems, MAX_PER_PAGE)
    if problems:
        raise InvalidParameters(problems)
    return FeedQuery(text, tuple(terms), postcode, proximity, page, per_page)


def _listings(feed: FeedQuery) -> tuple[list[StoredPractitioner], int, list[int | None]]:
    """The page of listings, the total, and (with a postcode) the nearest place of each."""
    if not feed.filtered:
        store = store_from(current_app)
        rows = store.listing_page((feed.page - 1) * feed.per_page, feed.per_page)
        return rows, store.count(), [None] * len(rows)
    outcome = run_search(current_app, feed.search_request())
    nearest = [hit.location_index for _, hit, _ in outcome.rows]
    return [stored for _, _, stored in outcome.rows], outcome.results.total, nearest


# ---------------------------------------------------------------------------
# endpoints


@bp.get("/")
def api_details() -> Response:
    """ORUK api details: version, profile and our OpenAPI document."""
    return json_response(oruk_map.api_details(absolute_site_url("oruk.openapi")))


@bp.get("/services")
def services() -> Response:
    """Paged services: text, taxonomy_term_id, postcode + proximity (metres), page, per_page."""
    feed = parse_feed_args(request.args)
    rows, total, _ = _listings(feed)
    contents = [oruk_map.service(stored) for stored in rows]
    return json_response(oruk_map.page(contents, total=total, page_number=feed.page, per_page=feed.per_page))


@bp.get("/services/<service_id>")
def service(service_id: str) -> Response:
    """One fully nested service; a withdrawn listing answers with status inactive."""
    wanted = _uuid(service_id, "service")
    stored = _listing(id_table(current_app).services.get(wanted), "service", wanted)
    return json_response(oruk_map.service(stored))


@bp.get("/service_at_locations")
def service_at_locations() -> Response:
    """Paged services at locations (the same filters as /services); one entry per place."""
    feed = parse_feed_args(request.args)
    rows, total, nearest = _listings(feed)
    # Pages are pages of listings: every place of each listing, or with a postcode its
    # nearest place (a listing that only visits people at home has no place, so no entry).
    contents: list[dict[str, Any]] = []
    for stored, index in zip(rows, nearest, strict=True):
        positions = [index] if index is not None else range(len(stored.record.locations))
        contents.extend(oruk_map.service_at_location_summary(stored, n) for n in positions)
    return json_response(oruk_map.page(contents, total=total, page_number=feed.page, per_page=feed.per_page))


@bp.get("/service_at_locations/<link_id>")
def service_at_location(link_id: str) -> Response:
    """One service at one location, with the place, its hours and the service."""
    wanted = _uuid(link_id, "service_at_location")
    found = id_table(current_app).places.get(wanted)
    stored = _listing(found[0] if found else None, "service_at_location", wanted)
    assert found is not None
    if found[1] >= len(stored.record.locations):
        raise NotFound(f"No service_at_location has id {wanted}.")
    return json_response(oruk_map.service_at_location(stored, found[1], with_service=True))


@bp.get("/organizations")
def organizations() -> Response:
    """Paged organizations: one per listing (its practice, or the practitioner)."""
    feed = parse_feed_args(request.args, with_place=False)
    rows, total, _ = _listings(feed)
    contents = [oruk_map.organization(stored) for stored in rows]
    return json_response(oruk_map.page(contents, total=total, page_number=feed.page, per_page=feed.per_page))


@bp.get("/organizations/<organization_id>")
def organization(organization_id: str) -> Response:
    """One organization with its services."""
    wanted = _uuid(organization_id, "organization")
    stored = _listing(id_table(current_app).organizations.get(wanted), "organization", wanted)
    return json_response(oruk_map.organization_full(stored))


def _paged(items: list[dict[str, Any]]) -> Response:
    problems: list[tuple[str, str]] = []
    page = _int("page", request.args.get("page"), 1, problems)
    per_page = _int("per_page", request.args.get("per_page"), DEFAULT_PER_PAGE, problems, 1000)
    if problems:
        raise InvalidParameters(problems)
    start = (page - 1) * per_page
    return json_response(oruk_map.page(items[start : start + per_page], total=len(items), page_number=page, per_page=per_page))


@bp.get("/taxonomies")
def taxonomies() -> Response:
    """Our vocabularies as taxonomies, with stable ids."""
    return _paged([oruk_map.taxonomy(name) for name in taxonomy_names()])


@bp.get("/taxonomies/<wanted>")
def taxonomy(wanted: str) -> Response:
    """One taxonomy with its terms."""
    given = _uuid(wanted, "taxonomy")
    for name in taxonomy_names():
        if taxonomy_id(name) == given:
            return json_response(oruk_map.taxonomy(name, with_terms=True))
    raise NotFound(f"No taxonomy has id {given}.")


@bp.get("/taxonomy_terms")
def taxonomy_terms() -> Response:
    """Every term of every taxonomy we publish (filter with taxonomy_id)."""
    wanted = (request.args.get("taxonomy_id") or "").strip().lower()
    names = [n for n in taxonomy_names() if not wanted or taxonomy_id(n) == wanted]
    if wanted and not names:
        raise InvalidParameters([("taxonomy_id", f"'{wanted[:60]}' is not one of our taxonomies (see /oruk/taxonomies)")])
    return _paged([oruk_map.taxonomy_term(name, code) for name in names for code in vocabulary(name)])


@bp.get("/taxonomy_terms/<wanted>")
def taxonomy_term(wanted: str) -> Response:
    """One taxonomy term."""
    given = _uuid(wanted, "taxonomy_term")
    term = TERMS_BY_ID.get(given)
    if term is None:
        raise NotFound(f"No taxonomy term has id {given}.")
    return json_response(oruk_map.taxonomy_term(term.taxonomy, term.code))


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI description of this feed."""
    from finder.web.oruk_openapi import oruk_openapi_document

    return json_response(oruk_openapi_document(absolute_site_url("oruk.api_details").rstrip("/")))
