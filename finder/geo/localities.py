"""Neighbourhoods and localities inside towns (Headingley, Shoreditch, Morningside ...).

GeoNames (our place names) lists towns and villages of 500 people or more, so
the parts of a city people actually name are often missing ("Headingley") or
lose to a village of the same name elsewhere ("Morningside" in Lanarkshire).
``data/places/localities.csv`` lists them: name, town, postcode district, and
the centre as latitude/longitude. Each row is checked against Code-Point Open
by a test: its centre lies within 3 km of its district's centroid.

A locality that clashes with a GeoNames place of the same name more than
``SAME_PLACE_KM`` away counts as a place of ``LOCALITY_POPULATION`` people, so
the usual rule (finder.geo.geocode: a name resolves to the biggest place when
it dwarfs the rest, otherwise we ask) decides between them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from finder.geo.distance import haversine_km
from finder.geo.gazetteer import Place, fold_place_name

#: What a city neighbourhood counts as when its name clashes with a GeoNames place.
LOCALITY_POPULATION = 15_000
#: A locality this close to a GeoNames place of the same name is that place.
SAME_PLACE_KM = 3.0
#: Towns outside England in the table, for the country shown with a candidate.
_COUNTRY_OF_TOWN = {"Edinburgh": "Scotland", "Glasgow": "Scotland", "Cardiff": "Wales"}


@dataclass(frozen=True)
class Locality:
    name: str
    town: str
    district: str
    lat: float
    lon: float

    def as_place(self, index: int, shared: int) -> Place:
        return Place(
            id=-(index + 1),
            name=self.name,
            lat=self.lat,
            lon=self.lon,
            population=LOCALITY_POPULATION,
            country=_COUNTRY_OF_TOWN.get(self.town, "England"),
            county=self.town,
            outcode=self.district,
            label=f"{self.name}, {self.town}",
            choice_label=f"{self.name}, {self.town} ({self.district})",
            shared=shared,
        )


def default_path() -> Path:
    from finder import resource_dir

    return resource_dir("data") / "places" / "localities.csv"


@lru_cache(maxsize=2)
def load_localities(path: Path | None = None) -> tuple[Locality, ...]:
    path = path or default_path()
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Locality(row["name"].strip(), row["town"].strip(), row["district"].strip().upper(), float(row["lat"]), float(row["lon"]))
            for row in csv.DictReader(handle)
        )


@lru_cache(maxsize=2)
def _by_key(path: Path | None = None) -> dict[str, list[tuple[int, Locality]]]:
    index: dict[str, list[tuple[int, Locality]]] = {}
    for i, locality in enumerate(load_localities(path)):
        index.setdefault(fold_place_name(locality.name), []).append((i, locality))
    return index


def locality_keys() -> list[str]:
    return list(_by_key())


def find_localities(text: str) -> list[Place]:
    """Localities named by ``text``: "Headingley", "Headingley, Leeds", "Headingley Leeds", "Kirkstall LS5"."""
    key = fold_place_name(text)
    index = _by_key()
    found = index.get(key)
    if found is None:
        # "<locality> <town or district>": the longest leading name that is a locality.
        words = key.split()
        for cut in range(len(words) - 1, 0, -1):
            candidates = index.get(" ".join(words[:cut]))
            if candidates:
                rest = " ".join(words[cut:])
                found = [
                    (i, loc)
                    for i, loc in candidates
                    if rest in (fold_place_name(loc.town), loc.district.lower())
                ]
                break
    if not found:
        return []
    return [loc.as_place(i, len(found)) for i, loc in found]


def merge_places(places: list[Place], localities: list[Place]) -> list[Place]:
    """GeoNames places and localities of one name, biggest first; a locality that
    is a GeoNames place already (within SAME_PLACE_KM) is left out."""
    extra = [
        loc
        for loc in localities
        if all(float(haversine_km(loc.lat, loc.lon, p.lat, p.lon)) > SAME_PLACE_KM for p in places)
    ]
    if not extra:
        return places
    shared = len(places) + len(extra)
    merged = [_with_shared(p, shared) for p in [*places, *extra]]
    return sorted(merged, key=lambda p: -p.population)


def _with_shared(place: Place, shared: int) -> Place:
    from dataclasses import replace

    return replace(place, shared=shared)
