"""Snapshot.near, the place search behind every "near me" result: who is in range,
at which distance, and which of their places the page shows.

Places are put at distances fixed by construction (due north of the test point, or
a given distance along a compass bearing, by the spherical destination formula), so
the expected answers do not come from the code under test. Written against mutants
that survived (docs/testing.md, "Mutation testing").
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finder.db import Store
from finder.geo.distance import EARTH_RADIUS_KM, haversine_km
from finder.records import Record
from finder.search import searcher
from finder.web import present
from tests.plugins.search import ORIGIN, SeededIndex, listing, make_seeded, north_of_origin, origin


def towards(bearing_degrees: float, km: float) -> tuple[float, float]:
    """The point ``km`` from ORIGIN along a bearing (0 north, 90 east) on the sphere."""
    phi1, lambda1 = math.radians(ORIGIN[0]), math.radians(ORIGIN[1])
    theta, delta = math.radians(bearing_degrees), km / EARTH_RADIUS_KM
    phi2 = math.asin(math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta))
    lambda2 = lambda1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1), math.cos(delta) - math.sin(phi1) * math.sin(phi2)
    )
    return math.degrees(phi2), math.degrees(lambda2)


def place(setting: str, lat_lon: tuple[float, float]) -> dict[str, Any]:
    return {"setting": setting, "postcode": "LS1 1AA", "town": "Leeds", "lat": lat_lon[0], "lon": lat_lon[1]}


COMPASS = {"n": 0, "ne": 45, "e": 90, "se": 135, "s": 180, "sw": 225, "w": 270, "nw": 315}


#: Every setting a place can have (online services have no place).
PLACE_SETTINGS = ("hospital", "community_clinic", "gp_surgery", "private_clinic", "charity_centre", "workplace", "sports_club")


def nearest_then_every_other(key: str, nearest: str) -> Record:
    """A listing with a place of ``nearest`` 0.3 km north, then one of every other setting 0.7 km north."""
    others = [place(setting, north_of_origin(0.7)) for setting in PLACE_SETTINGS if setting != nearest]
    return listing(key, km=None, locations=[place(nearest, north_of_origin(0.3)), *others])


@pytest.fixture(params=["cell table", "grid fallback"])
def around(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, sqlite_store: Store, tmp_path: Path) -> Iterator[SeededIndex]:
    """The listings below, searched through the cell table of locations and through the
    fallback used when the locations spread over too many cells for a table."""
    if request.param == "grid fallback":
        monkeypatch.setattr(searcher, "MAX_CELL_TABLE", 0)
    listings = [
        (f"{name}_in", listing(f"{name}_in", km=None, locations=[place("private_clinic", towards(deg, 4.9))]))
        for name, deg in COMPASS.items()
    ] + [
        (f"{name}_out", listing(f"{name}_out", km=None, locations=[place("private_clinic", towards(deg, 5.1))]))
        for name, deg in COMPASS.items()
    ]
    listings += [
        ("clinic_2km", listing("clinic_2km", km=2.0)),
        (
            # A hospital nearest, then two clinics: 3 km, then 1 km away.
            "hospital_and_clinics",
            listing(
                "hospital_and_clinics",
                km=None,
                locations=[
                    place("hospital", north_of_origin(0.5)),
                    place("private_clinic", north_of_origin(3.0)),
                    place("private_clinic", north_of_origin(1.0)),
                ],
            ),
        ),
        (
            # A clinic in range, and home visits within 1 km of a base 0.5 km from the point.
            "visits_1km",
            listing(
                "visits_1km",
                km=3.0,
                home_visits={"base_postcode": "LS1 1AA", "coverage_radius_km": 1.0,
                             "lat": north_of_origin(0.5)[0], "lon": north_of_origin(0.5)[1]},
            ),
        ),
        (
            # No place of its own: visits homes within 10 km of a base 8 km north.
            "visits_only",
            listing(
                "visits_only",
                km=None,
                home_visits={"base_postcode": "LS1 1AA", "coverage_radius_km": 10.0,
                             "lat": north_of_origin(8.0)[0], "lon": north_of_origin(8.0)[1]},
            ),
        ),
    ]
    listings += [
        ("hospital_then_all", nearest_then_every_other("hospital_then_all", "hospital")),
        ("clinic_then_all", nearest_then_every_other("clinic_then_all", "private_clinic")),
    ]
    seeded = make_seeded(sqlite_store, tmp_path / "index", listings)
    with seeded.index.snapshot() as snap:
        assert (snap.loc_cells is None) == (request.param == "grid fallback")
    yield seeded
    seeded.index.close()


def _hits(seeded: SeededIndex, results: Any) -> dict[str, Any]:
    return dict(zip(seeded.keys(results), results.hits, strict=True))


def test_places_inside_the_radius_in_every_direction_are_found_and_none_outside(around: SeededIndex) -> None:
    found = set(_hits(around, around.search(location=origin(), radius_km=5, per_page=100)))
    assert {key for key in found if key.endswith(("_in", "_out"))} == {f"{name}_in" for name in COMPASS}


def test_a_place_exactly_on_the_radius_is_in_range(sqlite_store: Store, tmp_path: Path) -> None:
    lat, lon = north_of_origin(4.0)
    edge = float(haversine_km(ORIGIN[0], ORIGIN[1], [lat], [lon])[0])  # the very distance the search measures
    seeded = make_seeded(sqlite_store, tmp_path / "index", [("on_edge", listing("on_edge", km=4.0))])
    try:
        assert seeded.keys(seeded.search(location=origin(), radius_km=edge, per_page=10)) == ["on_edge"]
        assert seeded.keys(seeded.search(location=origin(), radius_km=math.nextafter(edge, 0.0), per_page=10)) == []
    finally:
        seeded.index.close()


def test_a_setting_filter_shows_the_nearest_place_of_that_setting(around: SeededIndex) -> None:
    results = around.search(location=origin(), radius_km=5, filters={"setting": ("private_clinic",)}, per_page=100)
    hits = _hits(around, results)
    # The hospital 0.5 km away is not what was asked for: the nearer of the two clinics is shown.
    mixed = hits["hospital_and_clinics"]
    assert (mixed.distance_km, mixed.location_index) == (1.0, 2)
    record = around.store.get_many([around.ids["hospital_and_clinics"]])[0].record
    assert present.nearest_location(record, mixed) == record.locations[2]
    assert (hits["clinic_2km"].distance_km, hits["clinic_2km"].location_index) == (2.0, 0)
    # Found by its clinic; its 1 km home-visit area covers the point too.
    assert hits["visits_1km"].visits_you is True
    assert "visits_only" not in hits  # no clinic in range


def test_without_a_setting_filter_the_nearest_place_of_any_kind_is_shown(around: SeededIndex) -> None:
    hits = _hits(around, around.search(location=origin(), radius_km=5, per_page=100))
    assert (hits["hospital_and_clinics"].distance_km, hits["hospital_and_clinics"].location_index) == (0.5, 0)
    assert hits["visits_only"].visits_you is True and hits["visits_only"].location_index is None


def test_near_by_default_prefers_no_setting_and_includes_those_who_only_visit(around: SeededIndex) -> None:
    with around.index.snapshot() as snap:
        hits = snap.near(ORIGIN[0], ORIGIN[1], 5.0)
        found = {int(p): i for i, p in enumerate(snap.pid[hits.rows].tolist())}
    # No setting preferred: the nearest place of any kind (the hospital 0.5 km away, its first place).
    mixed = found[around.ids["hospital_and_clinics"]]
    assert (round(float(hits.distance[mixed]), 3), int(hits.location_index[mixed])) == (0.5, 0)
    # Whatever setting a preference would favour, the nearest place is shown: 0.3 km, the first.
    for key in ("hospital_then_all", "clinic_then_all"):
        row = found[around.ids[key]]
        assert (round(float(hits.distance[row]), 3), int(hits.location_index[row])) == (0.3, 0), key
    assert around.ids["visits_only"] in found
    assert hits.visits_you is not None and bool(hits.visits_you[found[around.ids["visits_only"]]])


def test_without_home_visits_beyond_only_places_in_range_and_visits_are_left_to_the_caller(around: SeededIndex) -> None:
    with around.index.snapshot() as snap:
        hits = snap.near(ORIGIN[0], ORIGIN[1], 5.0, home_visits_beyond=False)
        key_of = {v: k for k, v in around.ids.items()}
        keys = {key_of[int(p)] for p in snap.pid[hits.rows].tolist()}
        assert hits.visits_you is None
        assert "visits_only" not in keys and {"visits_1km", "clinic_2km", "hospital_then_all"} <= keys
        # Asked for the rows it needs, the caller learns who visits the point.
        visits = snap.visits_you_at(ORIGIN[0], ORIGIN[1], hits.rows)
        assert {key_of[int(p)] for p in snap.pid[hits.rows[visits]].tolist()} == {"visits_1km"}
