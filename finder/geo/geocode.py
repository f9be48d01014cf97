"""The geocoder chain: what a person typed -> one point on the map, or a clear reason why not.

In order: a "lat, lon" pair; a full postcode; a sector (``LS6 2``); a district
(``LS6``); an area (``LS``); a postcode inside longer text (an address pasted
from a letter); a place name, case- and punctuation-insensitive. Only when
``ONLINE_GEOCODING`` is switched on: a postcode web API (for Northern Ireland
``BT`` postcodes, which Code-Point Open lacks, and postcodes newer than our
data) and Nominatim through geopy for places we do not know.

Every failure is a named error with a message for the person who typed it:
InvalidValue, InvalidPostcode, UnknownPostcode, UnsupportedArea, UnknownPlace,
AmbiguousPlace (with the candidates to choose from), GazetteerMissing.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from finder.errors import (
    AmbiguousPlace,
    FinderError,
    GazetteerMissing,
    InvalidPostcode,
    InvalidValue,
    LocationError,
    PlaceCandidate,
    UnknownPlace,
    UnknownPostcode,
    UnsupportedArea,
)
from finder.geo import Location
from finder.geo.gazetteer import (
    UNSUPPORTED_AREAS,
    Gazetteer,
    Place,
    fold_place_name,
    open_gazetteer,
    unsupported_area_error,
)
from finder.geo.postcode import (
    PostcodeQuery,
    area_of,
    normalise_postcode,
    outcode_of,
    parse_postcode_query,
)

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

EXTENSION_KEY = "finder.geocoder"

#: Longest location text we try to resolve. The longest UK place name is 58
#: letters; this leaves room for "12 Otley Road, Headingley, Leeds LS6 2AB".
MAX_LOCATION_LENGTH = 120

#: A name shared by several places resolves to the biggest one outright when it
#: is at least this many times bigger than the next (Warrington, Cheshire over a
#: Buckinghamshire hamlet); closer than that, we ask (St Ives: 16,800 vs 5,400).
DOMINANT_RATIO = 20

#: What people type for "where I am": only the browser can tell (the page's "Use my location").
NEAR_ME = frozenset({"me", "near me", "here", "nearby", "near here", "my location", "current location", "where i am", "around me", "close to me"})

#: How alike (difflib ratio) a known name must be to the typed one to be offered as "did you mean".
DID_YOU_MEAN_CUTOFF = 0.85

#: Most candidates offered for an ambiguous name.
MAX_CANDIDATES = 10

#: The coordinates we accept as "in the UK" (the Record's bounds).
UK_BOUNDS = (49.0, -9.0, 61.5, 2.5)

_HOW_TO = "a postcode (LS6 2AB), a postcode district (LS6), a town (Harrogate) or 'lat, lon' (53.82, -1.57)"

_NUMBER = r"([+-]?\d{1,3}(?:\.\d+)?)"
_LAT_LON = re.compile(
    rf"^\(?\s*{_NUMBER}\s*°?\s*([NS])?\s*(?:,|;|\s)\s*{_NUMBER}\s*°?\s*([EW])?\s*\)?$",
    re.IGNORECASE,
)
_EMBEDDED_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\b")
_COUNTRY_SUFFIXES = {
    "uk": None,
    "united kingdom": None,
    "gb": None,
    "great britain": None,
    "britain": None,
    "england": "England",
    "scotland": "Scotland",
    "wales": "Wales",
    "cymru": "Wales",
    "northern ireland": "Northern Ireland",
}


# ---------------------------------------------------------------------------
# pure parsing helpers


def clean_query(text: object) -> str:
    """Whitespace-collapsed location text, or InvalidValue saying what to type."""
    if not isinstance(text, str):
        raise InvalidValue(f"expected the location as text: {_HOW_TO}")
    if len(text) > MAX_LOCATION_LENGTH:
        raise InvalidValue(
            f"the location is {len(text):,} characters long; the most we accept is {MAX_LOCATION_LENGTH}: {_HOW_TO}"
        )
    # Zero-width spaces and the like come with copy and paste: drop them quietly.
    cleaned = " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") for ch in cleaned):
        raise InvalidValue(f"the location contains control characters; enter {_HOW_TO}")
    if not cleaned:
        raise InvalidValue(f"enter where to search: {_HOW_TO}")
    return cleaned


def parse_lat_lon(text: str) -> Location | None:
    """A "lat, lon" pair (also "53.8 -1.57", "53.8N 1.57W") inside the UK, or None if not a pair."""
    match = _LAT_LON.match(text)
    if not match:
        return None
    lat, lat_hemisphere, lon, lon_hemisphere = match.groups()
    lat_value, lon_value = float(lat), float(lon)
    if lat_hemisphere and lat_hemisphere.upper() == "S":
        lat_value = -abs(lat_value)
    if lon_hemisphere and lon_hemisphere.upper() == "W":
        lon_value = -abs(lon_value)
    if not -90 <= lat_value <= 90 or not -180 <= lon_value <= 180:
        if -90 <= lon_value <= 90 and -180 <= lat_value <= 180 and _in_uk(lon_value, lat_value):
            raise InvalidValue(
                f"'{text}' looks like longitude first; give latitude first: {lon_value:g}, {lat_value:g}"
            )
        raise InvalidValue(
            f"'{text}' is not a valid position: latitude runs from -90 to 90 and longitude from -180 to 180"
        )
    if not _in_uk(lat_value, lon_value):
        if _in_uk(lon_value, lat_value):
            raise InvalidValue(
                f"'{text}' looks like longitude first; give latitude first: {lon_value:g}, {lat_value:g}"
            )
        raise UnsupportedArea(
            f"{lat_value:g}, {lon_value:g} is outside the UK; Physio Finder lists UK practitioners only"
        )
    return Location(
        label=f"{lat_value:.5f}, {lon_value:.5f}", lat=lat_value, lon=lon_value, precision="point", source="latlon"
    )


def _in_uk(lat: float, lon: float) -> bool:
    min_lat, min_lon, max_lat, max_lon = UK_BOUNDS
    return min_lat <= lat <= max_lat and min_lon <= lon <= max_lon


def embedded_postcode(text: str) -> str | None:
    """The last well-formed full postcode inside longer text (an address), if any."""
    found = None
    for match in _EMBEDDED_POSTCODE.finditer(text.upper()):
        try:
            found = normalise_postcode(match.group(1) + match.group(2))
        except InvalidPostcode:
            continue
    return found


def _strip_country(text: str) -> tuple[str, str | None] | None:
    """"Leeds, UK" -> ("Leeds", None); "Bangor, Wales" -> ("Bangor", "Wales"); None if no suffix."""
    key = fold_place_name(text)
    for suffix, country in _COUNTRY_SUFFIXES.items():
        if key.endswith(" " + suffix) and len(key) > len(suffix) + 1:
            return key[: -len(suffix) - 1], country
    return None


def _candidate(place: Place) -> PlaceCandidate:
    detail = place.country
    if place.population:
        detail += f", population {place.population:,}"
    return PlaceCandidate(label=place.choice_label, lat=place.lat, lon=place.lon, detail=detail)


def _place_location(place: Place) -> Location:
    label = place.choice_label if place.shared > 1 else place.label
    # Localities (finder.geo.localities) carry negative ids: say where the answer came from.
    source = "localities" if place.id < 0 else "geonames"
    return Location(label=label, lat=place.lat, lon=place.lon, precision="place", source=source)


class _LRU:
    """A small thread-safe cache (online answers, suggestions): polite to the services."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class _OnlineUnavailable(Exception):
    """An online geocoder did not answer usefully (network, rate limit, bad reply)."""


class OnlineGeocoders:
    """Nominatim (through geopy) and a postcode web API, with a User-Agent and a rate limit."""

    def __init__(
        self,
        *,
        nominatim_domain: str,
        postcode_api_url: str,
        contact: str = "",
        rate_limit_per_second: float = 1.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        from finder import __version__

        self.nominatim_domain = nominatim_domain
        self.postcode_api_url = postcode_api_url
        self.timeout_seconds = timeout_seconds
        self.min_interval = 1.0 / rate_limit_per_second if rate_limit_per_second > 0 else 1.0
        contact = (contact or "").strip()
        # Nominatim's usage policy asks for an identifying User-Agent with a contact.
        self.user_agent = f"PhysioFinder/{__version__}" + (f" (+{contact})" if contact else "")
        self._lock = threading.Lock()
        self._last_call = 0.0
        self._nominatim: Callable[..., Any] | None = None
        self._session: Any = None

    def _wait_turn(self) -> None:
        with self._lock:
            delay = self._last_call + self.min_interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._last_call = time.monotonic()

    def _geocode_function(self) -> Callable[..., Any]:
        with self._lock:
            if self._nominatim is None:
                from geopy.adapters import RequestsAdapter
                from geopy.extra.rate_limiter import RateLimiter
                from geopy.geocoders import Nominatim

                nominatim = Nominatim(
                    user_agent=self.user_agent,
                    domain=self.nominatim_domain,
                    timeout=self.timeout_seconds,
                    adapter_factory=RequestsAdapter,
                )
                self._nominatim = RateLimiter(
                    nominatim.geocode,
                    min_delay_seconds=self.min_interval,
                    max_retries=0,
                    error_wait_seconds=max(5.0, self.min_interval),
                    swallow_exceptions=False,
                )
            return self._nominatim

    def nominatim(self, query: str) -> Location | None:
        """The best UK match for free text, or None when Nominatim knows nothing."""
        from geopy.exc import GeopyError

        try:
            found = self._geocode_function()(query, exactly_one=True, country_codes="gb")
        except GeopyError as exc:
            log.warning("Nominatim failed for %r: %s", query, exc)
            raise _OnlineUnavailable(str(exc)) from None
        if found is None:
            return None
        parts = [p.strip() for p in str(found.address or query).split(",") if p.strip()]
        label = ", ".join(parts[:2]) or query
        return Location(label=label, lat=float(found.latitude), lon=float(found.longitude), precision="place", source="nominatim")

    def postcode(self, postcode: str) -> Location | None:
        """A full postcode from the postcode web API, or None when it does not know it."""
        import requests

        with self._lock:
            if self._session is None:
                session = requests.Session()
                session.headers["User-Agent"] = self.user_agent
                self._session = session
        url = self.postcode_api_url.replace("{postcode}", quote(postcode))
        self._wait_turn()
        try:
            response = self._session.get(url, timeout=self.timeout_seconds)
        except requests.RequestException as exc:
            log.warning("postcode API failed for %s: %s", postcode, exc)
            raise _OnlineUnavailable(str(exc)) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _OnlineUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
            result = body.get("result", body) if isinstance(body, dict) else {}
            lat, lon = result.get("latitude"), result.get("longitude")
        except (ValueError, AttributeError):
            raise _OnlineUnavailable("the reply was not the JSON we expected") from None
        if lat is None or lon is None:
            return None  # known, but without coordinates (e.g. a PO box)
        return Location(label=postcode, lat=float(lat), lon=float(lon), precision="postcode", source="postcodes_api")

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


# ---------------------------------------------------------------------------
# the chain


class Geocoder:
    """Resolves location text to a :class:`~finder.geo.Location`; shareable between threads.

    The gazetteer opens lazily on first use (the app starts before `finder geo
    build` has run; "lat, lon" needs no gazetteer at all) and is reopened when a
    rebuild replaces the file.
    """

    #: Seconds between checks that the gazetteer file has not been rebuilt.
    RECHECK_SECONDS = 5.0

    def __init__(
        self,
        gazetteer: Gazetteer | str | os.PathLike[str],
        *,
        online: OnlineGeocoders | None = None,
    ) -> None:
        self._fixed = gazetteer if isinstance(gazetteer, Gazetteer) else None
        self.gazetteer_path = gazetteer.path if isinstance(gazetteer, Gazetteer) else Path(gazetteer)
        self.online = online
        self._current: Gazetteer | None = self._fixed
        self._retired: list[Gazetteer] = []
        self._refused: tuple[tuple[int, ...] | None, GazetteerMissing] | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._cache = _LRU()
        self._keys: dict[str, list[str]] | None = None  # place keys by first letter

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Geocoder:
        """A geocoder for the app's settings (GAZETTEER_PATH, ONLINE_GEOCODING, ...)."""
        online = None
        if config.get("ONLINE_GEOCODING"):
            online = OnlineGeocoders(
                nominatim_domain=str(config.get("NOMINATIM_DOMAIN") or "nominatim.openstreetmap.org"),
                postcode_api_url=str(config.get("POSTCODE_API_URL") or ""),
                contact=str(config.get("HTTP_CONTACT") or ""),
                rate_limit_per_second=float(config.get("HTTP_RATE_LIMIT_PER_SECOND") or 1.0),
            )
        return cls(str(config["GAZETTEER_PATH"]), online=online)

    # ---- the gazetteer -----------------------------------------------------

    def gazetteer(self) -> Gazetteer:
        """The open gazetteer; GazetteerMissing (saying what to run) when not built."""
        if self._fixed is not None:
            return self._fixed
        now = time.monotonic()
        current = self._current
        if current is not None and now - self._checked_at < self.RECHECK_SECONDS:
            return current
        with self._lock:
            current = self._current
            if current is None or not current.is_current():
                opened = self._open_checked()
                if current is not None:
                    # Other threads may be mid-lookup on the old file: retire it
                    # rather than close it under them.
                    self._retired.append(current)
                self._current = opened
                self._keys = None
            self._checked_at = now
            assert self._current is not None
            return self._current

    def _open_checked(self) -> Gazetteer:
        """Open (and checksum) the file; a file that failed stays refused until it changes, unhashed again."""
        path = Path(self.gazetteer_path)
        try:
            stat = path.stat()
            identity: tuple[int, ...] | None = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except OSError:
            identity = None
        refused = self._refused
        if refused is not None and identity is not None and refused[0] == identity:
            raise refused[1]
        try:
            opened = open_gazetteer(self.gazetteer_path)  # raises GazetteerMissing / GazetteerDamaged
        except GazetteerMissing as exc:
            self._refused = (identity, exc)
            if self._current is not None:
                # The serving file was damaged or removed: stop using it.
                self._retired.append(self._current)
                self._current = None
            raise
        self._refused = None
        return opened

    def close(self) -> None:
        with self._lock:
            for gazetteer in [*self._retired, *([self._current] if self._current and not self._fixed else [])]:
                gazetteer.close()
            self._retired = []
            self._current = self._fixed
        if self.online is not None:
            self.online.close()

    # ---- resolving ----------------------------------------------------------

    def resolve(self, text: str) -> Location:
        """Text -> Location, trying each way of reading it in turn (see the module docstring)."""
        query = clean_query(text)
        if fold_place_name(query) in NEAR_ME:
            raise UnknownPlace(
                f"'{query}' needs to know where you are: type your postcode or town (for example LS6 2AB), "
                "or press “Use my location” to let your browser share it."
            )
        point = parse_lat_lon(query)
        if point is not None:
            return point
        try:
            postcode_query = parse_postcode_query(query)
        except InvalidPostcode as exc:
            raise self._explain_bad_postcode(query, exc) from None
        if postcode_query is not None:
            found = self._resolve_postcode_query(postcode_query)
            if found is not None:
                return found
        inside = embedded_postcode(query)
        if inside is not None:
            found = self._resolve_postcode_query(PostcodeQuery("postcode", inside))
            if found is not None:
                return found
        found = self._town_and_district(query)
        if found is not None:
            return found
        return self._resolve_place(query, looked_like_postcode=postcode_query is not None)

    def _town_and_district(self, query: str) -> Location | None:
        """"Leeds LS6", "LS6 Leeds", "Headingley, LS6 2": the postcode part is the more precise."""
        words = [w for w in re.split(r"[\s,]+", query.strip()) if w]
        if len(words) < 2:
            return None
        for postcode_words, name_words in ((words[-2:], words[:-2]), (words[-1:], words[:-1]), (words[:2], words[2:]), (words[:1], words[1:])):
            if not name_words or not all(any(ch.isalpha() for ch in w) for w in name_words):
                continue
            try:
                parsed = parse_postcode_query(" ".join(postcode_words))
            except InvalidPostcode:
                continue
            if parsed is None or parsed.kind not in ("outcode", "sector"):
                continue
            try:
                found = self._resolve_postcode_query(parsed)
            except LocationError:
                continue
            if found is not None:
                return found
        return None

    def _explain_bad_postcode(self, query: str, error: InvalidPostcode) -> InvalidPostcode:
        """'ZZ1 1ZZ' fails the format check; say that ZZ is no postcode area at all."""
        area = re.match(r"[A-Z]+", query.strip().upper())
        try:
            areas = self.gazetteer().areas
        except FinderError:
            return error
        if area and area.group(0)[:2] not in areas and area.group(0)[:1] not in areas:
            shown = query.strip()[:20]
            return InvalidPostcode(
                f"'{shown}' is not a UK postcode: there is no postcode area {area.group(0)[:2]} "
                "(areas are one or two letters such as LS, SW or EH, then a district number: 'LS6 2AB')"
            )
        return error

    def _resolve_postcode_query(self, query: PostcodeQuery) -> Location | None:
        """A Location for a postcode-shaped query; None when it names no UK area (try places)."""
        area = area_of(query.value)
        gazetteer = self.gazetteer()
        if area not in gazetteer.areas:
            if query.kind == "postcode":
                raise UnknownPostcode(f"{query.value} is not a known postcode: there is no UK postcode area {area}")
            return None  # "hi", "A1": not a postcode area; perhaps a place
        if area in UNSUPPORTED_AREAS:
            return self._unsupported_area(query)
        gazetteer.check_area(area, query.value)
        if query.kind == "postcode":
            return self._full_postcode(gazetteer, query.value)
        if query.kind == "sector":
            sector = gazetteer.sector(query.value)
            if sector is None:
                raise self._unknown_sector(gazetteer, query.value)
            return Location(label=query.value, lat=sector.lat, lon=sector.lon, precision="sector", source="codepoint")
        if query.kind == "outcode":
            outcode = gazetteer.outcode(query.value)
            if outcode is None:
                raise UnknownPostcode(
                    f"{query.value} is not a known postcode district; check it, or search by a full postcode or town"
                )
            return Location(label=query.value, lat=outcode.lat, lon=outcode.lon, precision="outcode", source="codepoint")
        info = gazetteer.areas[area]
        assert info.lat is not None and info.lon is not None
        return Location(
            label=f"{area} ({info.name} postcode area)", lat=info.lat, lon=info.lon, precision="area", source="codepoint"
        )

    def _full_postcode(self, gazetteer: Gazetteer, postcode: str) -> Location:
        try:
            code, lat, lon, approximate = gazetteer.postcode(postcode)
        except UnknownPostcode as exc:
            # Newer than our copy of Code-Point Open? The web API may know it.
            found, unavailable = self._online("postcode", normalise_postcode(postcode))
            if found is not None:
                return found
            raise (self._with_online_note(exc) if unavailable else exc) from None
        # Code-Point has no position for a few postcodes; they sit at the sector centre.
        precision = "sector" if approximate else "postcode"
        return Location(label=code, lat=lat, lon=lon, precision=precision, source="codepoint")

    def _unknown_sector(self, gazetteer: Gazetteer, sector: str) -> UnknownPostcode:
        outcode = outcode_of(sector + "AA") if " " in sector else sector
        sectors = gazetteer.sectors_of(outcode)
        if not sectors:
            return UnknownPostcode(f"{sector} is not a known postcode sector: there is no postcode district {outcode}")
        return UnknownPostcode(f"{sector} is not a known postcode sector: district {outcode} has sectors {', '.join(sectors)}")

    def _unsupported_area(self, query: PostcodeQuery) -> Location:
        """BT (and IM, JE, GY): only an online geocoder can place them."""
        area = area_of(query.value)
        if self.online is None:
            raise unsupported_area_error(area, query.value)
        if query.kind == "postcode":
            found, unavailable = self._online("postcode", query.value)
            if found is not None:
                return found
            if unavailable:
                raise self._with_online_note(unsupported_area_error(area, query.value))
            raise UnknownPostcode(f"{query.value} is a valid format but not a known postcode")
        found, unavailable = self._online("place", f"{query.value}, {UNSUPPORTED_AREAS[area]}")
        if found is not None:
            return Location(label=query.value, lat=found.lat, lon=found.lon, precision=query.kind, source=found.source)
        error = unsupported_area_error(area, query.value)
        raise self._with_online_note(error) if unavailable else error

    def _online(self, kind: str, text: str) -> tuple[Location | None, bool]:
        """(answer, unavailable) from the online geocoders; (None, False) when they are off."""
        if self.online is None:
            return None, False
        key = (kind, fold_place_name(text) if kind == "place" else text)
        cached = self._cache.get(key)
        if cached is not None:
            return cached, False
        try:
            found = self.online.postcode(text) if kind == "postcode" else self.online.nominatim(text)
        except _OnlineUnavailable:
            return None, True
        if found is not None:
            self._cache.put(key, found)
        return found, False

    @staticmethod
    def _with_online_note(error: LocationError) -> LocationError:
        error.detail = f"{error.detail} (the online geocoder could not be reached just now)"
        error.args = (error.detail,)
        return error

    # ---- places -----------------------------------------------------------------

    def _resolve_place(self, query: str, *, looked_like_postcode: bool) -> Location:
        from finder.geo.localities import find_localities, merge_places

        gazetteer = self.gazetteer()
        places = merge_places(gazetteer.find_places(query), find_localities(query))
        if not places:
            stripped = _strip_country(query)
            if stripped is not None:
                name, country = stripped
                places = [p for p in gazetteer.find_places(name) if country is None or p.country == country]
        if places:
            return self._choose(query, places)
        found, unavailable = self._online("place", query)
        if found is not None:
            return found
        error = self._unknown_place(gazetteer, query, looked_like_postcode)
        raise self._with_online_note(error) if unavailable else error

    def _choose(self, query: str, places: list[Place]) -> Location:
        if len(places) == 1:
            return _place_location(places[0])
        biggest, runner_up = places[0], places[1]
        if biggest.population >= DOMINANT_RATIO * max(runner_up.population, 1):
            return _place_location(biggest)
        candidates = [_candidate(p) for p in places[:MAX_CANDIDATES]]
        shown = query.strip()
        more = f" (and {len(places) - MAX_CANDIDATES} more)" if len(places) > MAX_CANDIDATES else ""
        raise AmbiguousPlace(
            f"'{shown}' is the name of {len(places)} places: "
            + "; ".join(c.label for c in candidates)
            + f"{more}. Which did you mean? Choose one, add the county (e.g. '{places[0].label}') or give a postcode.",
            candidates,
        )

    def _unknown_place(self, gazetteer: Gazetteer, query: str, looked_like_postcode: bool) -> UnknownPlace:
        shown = query if len(query) <= 60 else query[:57] + "..."
        what = "a UK postcode area or place" if looked_like_postcode else "a UK postcode or place name"
        message = (
            f"We could not find '{shown}' as {what} (our place names cover towns and villages of "
            f"500 people or more). Try {_HOW_TO}."
        )
        suggestions = self.did_you_mean(query)
        if suggestions:
            message = f"{message} Did you mean {' or '.join(suggestions)}?"
        return UnknownPlace(message)

    def did_you_mean(self, query: str, limit: int = 3) -> list[str]:
        """Place names spelt like ``query`` ("Harogate" -> ["Harrogate"])."""
        key = fold_place_name(query)
        if not 3 <= len(key) <= 40:
            return []
        cached = self._cache.get(("suggest", key))
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        gazetteer = self.gazetteer()
        with self._lock:
            if self._keys is None:
                from finder.geo.localities import locality_keys

                by_letter: dict[str, list[str]] = {}
                for known in [*gazetteer.place_keys(), *locality_keys()]:
                    by_letter.setdefault(known[:1], []).append(known)
                self._keys = by_letter
            # Same first letter only: people rarely mistype it, and it makes
            # this (an error path anyone can trigger) twenty times cheaper.
            keys = self._keys.get(key[:1], [])
        names: list[str] = []
        from finder.geo.localities import find_localities, merge_places

        # Near in spelling only: 0.85 keeps "Harogate" -> Harrogate but not
        # "Headingley" -> Headley or "Kirkstall" -> Kirkwall, hundreds of miles away.
        for match in difflib.get_close_matches(key, keys, n=limit * 2, cutoff=DID_YOU_MEAN_CUTOFF):
            for place in merge_places(gazetteer.find_places(match), find_localities(match))[:1]:
                if place.name not in names:
                    names.append(place.name)
        names = names[:limit]
        self._cache.put(("suggest", key), names)
        return names

    def suggest(self, prefix: str, limit: int = 10) -> list[PlaceCandidate]:
        """Places starting with ``prefix``, biggest first (for a type-ahead list)."""
        try:
            query = clean_query(prefix)
        except InvalidValue:
            return []
        return [_candidate(p) for p in self.gazetteer().suggest(query, limit)]


# ---------------------------------------------------------------------------
# Flask wiring


def init_app(app: Flask) -> None:
    """Put a Geocoder for the app's settings in ``app.extensions`` (the gazetteer opens on first use)."""
    app.extensions[EXTENSION_KEY] = Geocoder.from_config(app.config)


def geocoder_from(app: Flask) -> Geocoder:
    """The app's Geocoder (set up by :func:`init_app`)."""
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


__all__ = [
    "EXTENSION_KEY",
    "MAX_LOCATION_LENGTH",
    "Geocoder",
    "OnlineGeocoders",
    "clean_query",
    "embedded_postcode",
    "geocoder_from",
    "init_app",
    "parse_lat_lon",
]
