"""One search path for pages and API: request -> place -> SearchQuery -> results -> stored rows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from flask import Flask, g

import finder.search
from finder.db import store_from
from finder.errors import NotFound
from finder.geo import Location
from finder.models import StoredPractitioner
from finder.search.query import Hit, SearchQuery, SearchResults
from finder.web.params import (
    LocationResolver,
    SearchRequest,
    build_query,
    require_place_for_home_visits,
    require_what_or_where,
    resolve_location,
)
from finder.web.timing import stage

if TYPE_CHECKING:
    from finder.understand import Understanding
    from finder.web.interpretation import Alternative

#: Ids beyond a 32-bit integer cannot exist; answering 404 early keeps the database from overflowing.
MAX_ID = 2**31 - 1


class Withdrawn(NotFound):
    status = 410
    title = "Listing withdrawn"


def request_seq(app: Flask) -> int:
    """The store's change number, read once per request (finder.changes): rows and the sample
    banner kept under it are as new as the store was when the request began."""
    if "finder_seq" not in g:
        g.finder_seq = store_from(app).change_seq()
    return int(g.finder_seq)


def rows_seq(app: Flask) -> int | None:
    """The change number to read rows under: request_seq when this worker keeps rows
    (FINDER_ROW_CACHE_SIZE), else None (rows read from the store need none, and an API
    request then asks the store one question fewer)."""
    return request_seq(app) if store_from(app).row_cache is not None else None


def load_practitioner(app: Flask, practitioner_id: int) -> StoredPractitioner:
    """The stored practitioner, or NotFound (404) / Withdrawn (410) with a clear message."""
    from finder.web.present import uk_date

    with stage("rows"):
        stored = store_from(app).get(practitioner_id, seq=rows_seq(app)) if 0 < practitioner_id <= MAX_ID else None
    if stored is None:
        raise NotFound(f"No practitioner has id {practitioner_id}.")
    if stored.withdrawn_at is not None:
        raise Withdrawn(
            f"Practitioner {practitioner_id} is no longer listed: the source withdrew the listing on "
            f"{uk_date(stored.withdrawn_at)}."
        )
    return stored


@dataclass
class SearchOutcome:
    request: SearchRequest
    query: SearchQuery
    location: Location | None
    results: SearchResults
    #: (number on the page, hit, stored practitioner) in ranked order; numbering
    #: continues across pages so pin 21 on page 2 is result 21.
    rows: list[tuple[int, Hit, StoredPractitioner]]
    #: What the words were read as (finder.understand), the words dropped to find
    #: anything, and the next steps offered when nothing was found.
    understanding: Understanding | None = None
    dropped_words: str = ""
    alternatives: list[Alternative] = field(default_factory=list)

    @property
    def first_number(self) -> int:
        return (self.query.page - 1) * self.query.per_page + 1


def geocoder_for(app: Flask) -> LocationResolver:
    from finder.geo.geocode import geocoder_from

    return geocoder_from(app)  # type: ignore[no-any-return]


def run_search(app: Flask, request: SearchRequest) -> SearchOutcome:
    """Resolve the place, validate, query the index and load the listed practitioners.

    Raises the domain errors (InvalidParameters, location errors, IndexMissing)
    for the page or API to turn into a message.
    """
    with stage("place"):
        geocoder = geocoder_for(app) if request.near and not request.uses_point else None
        location = resolve_location(request, geocoder)
    from finder.understand import understand

    with stage("understand"):
        understanding = understand(request.text)
        require_place_for_home_visits(request, location, said_in_words="visits_home" in understanding.flags())
        search = build_query(request, location, app.config, understanding)
    with stage("search"):
        results = finder.search.query(search)
        dropped = ""
        if not results.total and search.text and understanding.understood:
            # Words we could not read must not sink what we could: try without them.
            relaxed = replace(search, text="")
            again = finder.search.query(relaxed)
            if again.total:
                search, results, dropped = relaxed, again, search.text
        reading: Understanding | None = understanding
        if not results.total and understanding.understood:
            # A practice called "Back to Health" is a name, not a condition: the words as typed.
            literal = build_query(request, location, app.config)
            again = finder.search.query(literal)
            if again.total:
                search, results, dropped, reading = literal, again, "", None
    if results.needs_input:
        # The text held only words that are not searchable ("the", "and") and no place was given.
        require_what_or_where(SearchRequest())
    with stage("rows"):
        stored = store_from(app).get_many([hit.id for hit in results.hits], seq=rows_seq(app))
    by_id = {s.id: s for s in stored}
    first = (search.page - 1) * search.per_page + 1
    rows = []
    for offset, hit in enumerate(results.hits):
        practitioner = by_id.get(hit.id)
        # The index may briefly list a row an ingest has just withdrawn or removed.
        if practitioner is not None and practitioner.withdrawn_at is None:
            rows.append((first + offset, hit, practitioner))
    outcome = SearchOutcome(
        request=request, query=search, location=location, results=results, rows=rows,
        understanding=reading, dropped_words=dropped,
    )
    if not results.total:
        from finder.search.query import max_radius_km
        from finder.web.interpretation import find_alternatives

        with stage("search"):
            outcome.alternatives = find_alternatives(outcome, max_radius_km())
    return outcome
