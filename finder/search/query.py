"""SearchQuery -> SearchResults: text + filters + geo + facets.

INTERFACE CONTRACT (shared by finder.search, finder.web and the API; change only
together): the dataclasses below and ``query()``'s signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finder.geo import Location

#: Facets that filter by vocabulary codes (OR within one facet, AND across facets).
#: Keys are vocabulary names from finder.vocab.
FACETS: tuple[str, ...] = (
    "specialism",
    "condition",
    "treatment",
    "setting",
    "funding",
    "referral_route",
    "language",
    "gender",
    "membership",
)

SORTS = ("auto", "distance", "relevance", "name")


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    location: Location | None = None
    radius_km: float = 25.0
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    visits_home: bool = False  # only practitioners whose home-visit area covers the location
    registered_only: bool = False  # only PRACTISING_STATUSES
    accepting: bool = False  # only accepting new patients
    wheelchair: bool = False  # only with a wheelchair-accessible location
    sort: str = "auto"  # auto: distance when a location is given, else relevance
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    distance_km: float | None  # to the nearest location (None without a search location or for online-only)
    visits_you: bool = False  # the search point lies inside their home-visit coverage
    location_index: int | None = None  # which of the record's locations is nearest


@dataclass
class SearchResults:
    query: SearchQuery
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]  # facet -> code -> count (own filter left out); booleans under "flags"
    suggestion: str | None = None  # spelling suggestion when the text found nothing
    needs_input: bool = False  # neither text nor location: "tell us where or what"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def query(search: SearchQuery, *, index: Any = None) -> SearchResults:  # pragma: no cover - replaced by the search engine
    raise NotImplementedError
