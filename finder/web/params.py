"""Search request parsing: the one function the search page and the API share.

Two steps, each in one place:

* :func:`parse_search_args` converts the query string into typed values (a
  radius of ``abc`` is an error here) and collects every problem at once;
* :func:`build_query` resolves the place and hands the values to
  :class:`finder.search.SearchQuery`, whose validation owns the ranges and the
  vocabularies (radius 0..200 km, per_page <= 100, allowed filter codes).

Unknown parameters are ignored, empty values count as "not given" (a plain GET
form sends every field).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from finder.errors import FinderError, InvalidParameters, InvalidValue
from finder.geo import Location
from finder.search.query import FACETS, SORT_HELP, SearchQuery
from finder.vocab import FALSE_WORDS, TRUE_WORDS

#: Boolean switches, in the order the form shows them.
FLAGS: tuple[str, ...] = ("visits_home", "registered_only", "accepting", "wheelchair")


#: Longest text we accept in q / near: longer input is a mistake, not a search.
MAX_TEXT = 200

#: Every parameter the page and the API read, with its description (the OpenAPI
#: document and the API page are generated from this table).
PARAMETERS: dict[str, str] = {
    "q": "Free text: a condition, treatment, practice or practitioner name, e.g. `multiple sclerosis`.",
    "near": "Where: a full or partial UK postcode (`LS6 2AB`, `LS6 2`, `LS6`) or a town or place name (`Harrogate`).",
    "lat": "Latitude of the search point (WGS84 decimal degrees); give it with `lon` instead of `near`.",
    "lon": "Longitude of the search point (WGS84 decimal degrees); give it with `lat` instead of `near`.",
    "label": "Optional name to show for a `lat`/`lon` point, e.g. the place chosen from a list of candidates.",
    "radius_km": "How far from the search point, in kilometres (default 25, at most 200).",
    **{
        facet: f"Only practitioners with this {facet.replace('_', ' ')} (a code from `/api/v1/vocabularies`). "
        "Repeat the parameter to allow several values (OR); different filters combine with AND."
        for facet in FACETS
    },
    "visits_home": "Only practitioners whose home-visit area covers the search point (`true`/`false`).",
    "registered_only": "Only practitioners whose HCPC registration was checked and allows them to practise.",
    "accepting": "Only practitioners accepting new patients.",
    "wheelchair": "Only practitioners with at least one wheelchair-accessible location.",
    "include_not_practising": "Also list practitioners whose HCPC registration does not allow them to practise "
    "(suspended, lapsed, removed, not found); they are left out by default and carry a warning (`true`/`false`).",
    "sort": "Order: " + ", ".join(f"`{code}` ({meaning})" for code, meaning in SORT_HELP.items()) + ".",
    "page": "Page number, starting at 1.",
    "per_page": "Results per page (default 20, at most 100).",
}


@dataclass(frozen=True)
class SearchRequest:
    """The typed values of one search request, before the place is resolved."""

    text: str = ""
    near: str = ""
    lat: float | None = None
    lon: float | None = None
    label: str = ""
    radius_km: float | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    visits_home: bool = False
    registered_only: bool = False
    accepting: bool = False
    wheelchair: bool = False
    include_not_practising: bool = False
    sort: str = "auto"
    page: int = 1
    per_page: int | None = None
    #: Filters alone, with neither text nor place (the ORUK feed's taxonomy filter).
    browse: bool = False

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def uses_point(self) -> bool:
        """Search around lat+lon, unless the person typed a new place over the chosen one.

        The results form carries the chosen point as hidden lat/lon/label fields and
        shows the label in the "postcode or town" box; if that box now says something
        else, the new text wins.
        """
        if not self.has_point:
            return False
        if self.near and self.label:
            return _squash(self.near) == _squash(self.label)
        return True

    @property
    def place_text(self) -> str:
        """What to show in the "postcode or town" box."""
        return self.near or self.label

    @property
    def is_blank(self) -> bool:
        """Nothing asked at all: the home page without a search."""
        return not (self.text or self.near or self.has_point or self.filters or self.flags_set())

    def flags_set(self) -> list[str]:
        return [name for name in FLAGS if getattr(self, name)]

    def as_args(self, **overrides: Any) -> MultiDict[str, str]:
        """Query-string pairs that reproduce this request (defaults left out)."""
        values: dict[str, Any] = {
            "q": self.text,
            "near": self.near,
            "lat": _num(self.lat),
            "lon": _num(self.lon),
            "label": self.label if self.has_point else "",
            "radius_km": _num(self.radius_km),
            **{name: self.filters.get(name, ()) for name in FACETS},
            **{name: "true" if getattr(self, name) else "" for name in FLAGS},
            "include_not_practising": "true" if self.include_not_practising else "",
            "sort": "" if self.sort == "auto" else self.sort,
            "page": "" if self.page == 1 else str(self.page),
            "per_page": "" if self.per_page is None else str(self.per_page),
        }
        values.update(overrides)
        pairs: list[tuple[str, str]] = []
        for name, value in values.items():
            if value is None or value == "":
                continue
            if isinstance(value, list | tuple):
                pairs.extend((name, str(v)) for v in value)
            else:
                pairs.append((name, str(value)))
        return MultiDict(pairs)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if abs(value) >= 1 or value == 0 else repr(value)


class _Args(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def getlist(self, key: str) -> list[str]: ...


#: Control characters (NUL, tabs, newlines, C1 codes): never part of a one-line search field.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: Numbers as people type them, in ASCII digits only. Python's float() and int()
#: also accept "1_0" (as 10) and other scripts' digits ("١٠"), which nobody means here.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)
_WHOLE = re.compile(r"[+-]?[0-9]{1,9}", re.ASCII)
_ASCII_DIGITS = "use the digits 0-9"


def without_controls(text: str) -> str:
    """``text`` with each control character replaced by a space (safe to echo in a page or message)."""
    return _CONTROL.sub(" ", text)


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _parse_float(name: str, raw: str, problems: list[tuple[str, str]], reason: str) -> float | None:
    if not raw:
        return None
    if not _DECIMAL.fullmatch(raw):
        problems.append((name, f"'{_shown(raw)}' is not a number ({_ASCII_DIGITS} and a decimal point): {reason}"))
        return None
    value = float(raw)
    if not math.isfinite(value):
        problems.append((name, f"'{_shown(raw)}' is not a number we can use (too large): {reason}"))
        return None
    return value


def _parse_int(name: str, raw: str, problems: list[tuple[str, str]], reason: str) -> int | None:
    if not raw:
        return None
    if not _WHOLE.fullmatch(raw):
        problems.append((name, f"'{_shown(raw)}' is not a whole number ({_ASCII_DIGITS}): {reason}"))
        return None
    return int(raw)


def _parse_bool(name: str, raw: str, problems: list[tuple[str, str]]) -> bool:
    word = raw.lower()
    if not word or word in FALSE_WORDS:
        return False
    if word in TRUE_WORDS:
        return True
    problems.append((name, f"'{_shown(raw)}' is not true or false: use true/false (or 1/0, yes/no, on/off)"))
    return False


def _shown(raw: str) -> str:
    raw = without_controls(raw).strip()  # messages end up in pages: never echo a NUL
    return raw if len(raw) <= 40 else raw[:37] + "..."


def parse_search_args(args: _Args | Mapping[str, Any]) -> SearchRequest:
    """Query string -> typed :class:`SearchRequest`; every conversion problem reported at once.

    Raises :class:`InvalidParameters` naming each bad parameter and what is allowed.
    """
    if not hasattr(args, "getlist"):
        args = MultiDict(args)  # type: ignore[arg-type]
    problems: list[tuple[str, str]] = []

    def one(name: str) -> str:
        return _clean(args.get(name))

    # Free text is searched and shown as words: control characters are just spaces there. A
    # place (near) keeps them, so the geocoder can refuse it clearly.
    text = without_controls(one("q")).strip()
    near = one("near")
    for name, value in (("q", text), ("near", near)):
        if len(value) > MAX_TEXT:
            problems.append((name, f"is {len(value)} characters long; at most {MAX_TEXT} are allowed"))
    label = without_controls(one("label")).strip()[:MAX_TEXT]
    lat = _parse_float("lat", one("lat"), problems, "give latitude in decimal degrees, e.g. 53.8195")
    lon = _parse_float("lon", one("lon"), problems, "give longitude in decimal degrees, e.g. -1.5762")
    if lat is not None and not -90 <= lat <= 90:
        problems.append(("lat", f"{lat:g} is outside -90..90 degrees"))
    if lon is not None and not -180 <= lon <= 180:
        problems.append(("lon", f"{lon:g} is outside -180..180 degrees"))
    if (lat is None) != (lon is None) and not any(p[0] in ("lat", "lon") for p in problems):
        missing = "lon" if lon is None else "lat"
        problems.append((missing, "give lat and lon together (or a postcode or place in near)"))
    radius = _parse_float(
        "radius_km", one("radius_km"), problems, "give a distance in kilometres, e.g. 25 (at most 200)"
    )
    page = _parse_int("page", one("page"), problems, "pages are numbered from 1")
    per_page = _parse_int("per_page", one("per_page"), problems, "give how many results per page, 1 to 100")
    sort = one("sort").lower() or "auto"
    flags = {name: _parse_bool(name, one(name), problems) for name in FLAGS}
    flags["include_not_practising"] = _parse_bool("include_not_practising", one("include_not_practising"), problems)
    filters: dict[str, tuple[str, ...]] = {}
    for facet in FACETS:
        values = tuple(dict.fromkeys(v.strip() for v in args.getlist(facet) if v and v.strip()))
        if values:
            filters[facet] = values
    request = SearchRequest(
        text=text,
        near=near,
        lat=lat,
        lon=lon,
        label=label,
        radius_km=radius,
        filters=filters,
        sort=sort,
        page=page if page is not None else 1,
        per_page=per_page,
        **flags,
    )
    if problems:
        # Say everything at once: also the range and vocabulary problems of the values that did convert.
        named = {name for name, _ in problems}
        try:
            build_query(request, None, {})
        except InvalidParameters as more:
            problems.extend((name, reason) for name, reason in more.params if name not in named)
        raise InvalidParameters(problems)
    return request


class AsciiIntegerConverter(IntegerConverter):
    """``<int:...>`` in URLs with ASCII digits only (Werkzeug's also matches "١٢", Arabic-Indic 12)."""

    regex = r"[0-9]+"


class MissingSearch(InvalidParameters):
    """Neither what (q) nor where (near, lat+lon): nothing to search for."""

    title = "Nothing to search for"


def previous_page(page: int, pages: int) -> int | None:
    """The page a "previous" link should open: beyond the last page, the last page
    (not an empty page before this one); on page 1, none."""
    if page <= 1:
        return None
    return min(page - 1, pages)


def require_place_for_home_visits(request: SearchRequest, location: Location | None, *, said_in_words: bool = False) -> None:
    """"Visits my home" (ticked, or said in the words: "home visit") needs to know where home is:
    without a place it would list home-visiting physios from anywhere (hazard H8, a misleading
    "visits your area")."""
    if (request.visits_home or said_in_words) and location is None:
        raise InvalidParameters(
            [("near", "“Visits my home” needs your postcode or town, so we can find who visits you: type it in near")]
        )


def require_what_or_where(request: SearchRequest) -> None:
    """The one rule for an empty search: a place or some text is needed."""
    online_only = request.filters.get("setting") == ("online",)  # the list of online services needs no place
    if not (request.text or request.near or request.has_point or online_only):
        raise MissingSearch(
            [("q", "tell us where (near: a postcode or town, or lat and lon) or what (q: a condition, treatment or name)")]
        )


class LocationResolver(Protocol):
    def resolve(self, text: str) -> Location: ...


def point_location(lat: float, lon: float, label: str = "") -> Location:
    """A search point given as coordinates (the API's lat+lon, or a place chosen from a list).

    The geocoder's own lat/lon reader checks it is inside the UK (one place for that rule).
    """
    from finder.geo.geocode import parse_lat_lon

    point = parse_lat_lon(f"{lat!r}, {lon!r}")
    if point is None:  # pragma: no cover - two floats always parse
        raise InvalidParameters([("lat", "give latitude and longitude in decimal degrees")])
    return replace(point, label=label) if label else point


def resolve_location(request: SearchRequest, geocoder: LocationResolver | None) -> Location | None:
    """The search point: lat+lon when given, else the geocoded ``near`` text, else None.

    Location errors (unknown postcode, ambiguous place, ...) propagate: the page
    shows them above the form, the API answers 422.
    """
    try:
        if request.uses_point:
            assert request.lat is not None and request.lon is not None
            try:
                return point_location(request.lat, request.lon, request.label or request.near)
            except InvalidValue as exc:
                raise InvalidParameters([("lat", exc.detail)]) from None
        if not request.near:
            return None
        if geocoder is None:
            raise FinderError("place search is not available: the gazetteer is not set up")
        return geocoder.resolve(request.near)
    except InvalidParameters:
        raise
    except InvalidValue as exc:
        # Text the geocoder cannot read at all (control characters, too long): a bad `near`.
        raise InvalidParameters([("near", exc.detail)]) from None


#: Parameter names a SearchQuery validation message may start with.
_QUERY_FIELDS = {
    "radius_km": "radius_km",
    "radius": "radius_km",
    "per_page": "per_page",
    "page": "page",
    "sort": "sort",
    "text": "q",
    "q": "q",
    "location": "near",
    **{facet: facet for facet in FACETS},
    **{flag: flag for flag in FLAGS},
    "include_not_practising": "include_not_practising",
}


def parameter_of(exc: InvalidValue) -> str:
    """Which request parameter a SearchQuery validation error is about."""
    for attribute in ("param", "parameter", "name", "field"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return _QUERY_FIELDS.get(value, value)
    match = re.match(r"\W*([a-z_]+)", exc.detail)
    if match and match.group(1) in _QUERY_FIELDS:
        return _QUERY_FIELDS[match.group(1)]
    for name in sorted(_QUERY_FIELDS, key=len, reverse=True):
        if re.search(rf"\b{name}\b", exc.detail):
            return _QUERY_FIELDS[name]
    return "query"


def build_query(
    request: SearchRequest, location: Location | None, config: Mapping[str, Any], understanding: Any = None
) -> SearchQuery:
    """A validated SearchQuery; range and vocabulary problems come back as InvalidParameters.

    ``understanding`` (finder.understand.Understanding): what the words were read
    as; its filters join the request's, its concepts rank, and only the words it
    left go to the text search.
    """
    options: dict[str, Any] = {
        "text": request.text,
        "location": location,
        "radius_km": request.radius_km
        if request.radius_km is not None
        else float(config.get("SEARCH_DEFAULT_RADIUS_KM", 25)),
        "filters": dict(request.filters),
        "visits_home": request.visits_home,
        "registered_only": request.registered_only,
        "accepting": request.accepting,
        "wheelchair": request.wheelchair,
        "include_not_practising": request.include_not_practising,
        "sort": request.sort,
        "page": request.page,
        "browse": request.browse,
    }
    if request.per_page is not None:
        options["per_page"] = request.per_page
    if understanding is not None:
        from finder.web.interpretation import concepts_of

        options["text"] = understanding.text
        filters: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in options["filters"].items()}
        for facet, codes in understanding.filter_codes().items():
            filters[facet] = tuple(dict.fromkeys((*filters.get(facet, ()), *codes)))
        options["filters"] = filters
        for flag in understanding.flags():
            options[flag] = True
        options["concepts"] = concepts_of(understanding)
    try:
        return SearchQuery(**options)
    except InvalidParameters as exc:
        # SearchQuery names its fields (text, location); the request names parameters (q, near).
        raise InvalidParameters([(_QUERY_FIELDS.get(name, name), reason) for name, reason in exc.params]) from None
    except InvalidValue as exc:
        raise InvalidParameters([(parameter_of(exc), exc.detail)]) from None
