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

import numpy as np
import pytest

from finder.db import Store
from finder.geo.distance import EARTH_RADIUS_KM, bounding_box, haversine_km
from finder.records import Record
from finder.search import searcher
from finder.search.searcher import (
    LAT_CELL,
    LON_CELL,
    CellTable,
    Snapshot,
    grid_candidates,
    grid_keys,
    nearest_first,
)
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


def every_other_then_nearest(key: str, nearest: str) -> Record:
    """A listing with a place of every other setting 0.7 km north, then its last place: ``nearest``, 0.3 km north."""
    others = [place(setting, north_of_origin(0.7)) for setting in PLACE_SETTINGS if setting != nearest]
    return listing(key, km=None, locations=[*others, place(nearest, north_of_origin(0.3))])


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
        ("all_then_hospital", every_other_then_nearest("all_then_hospital", "hospital")),
        ("all_then_clinic", every_other_then_nearest("all_then_clinic", "private_clinic")),
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
    results = around.search(location=origin(), radius_km=5, per_page=100)
    keys = around.keys(results)
    # Each listing once, though visits_1km is found both by its clinic and by its home visits.
    assert sorted(keys) == sorted(
        [f"{name}_in" for name in COMPASS]
        + ["clinic_2km", "hospital_and_clinics", "visits_1km", "visits_only", "all_then_hospital", "all_then_clinic"]
    )
    assert results.total == len(keys)
    hits = _hits(around, results)
    assert (hits["all_then_clinic"].distance_km, hits["all_then_clinic"].location_index) == (0.3, 6)
    assert (hits["hospital_and_clinics"].distance_km, hits["hospital_and_clinics"].location_index) == (0.5, 0)
    assert hits["visits_only"].visits_you is True and hits["visits_only"].location_index is None


def test_near_by_default_prefers_no_setting_and_includes_those_who_only_visit(around: SeededIndex) -> None:
    with around.index.snapshot() as snap:
        hits = snap.near(ORIGIN[0], ORIGIN[1], 5.0)
        found = {int(p): i for i, p in enumerate(snap.pid[hits.rows].tolist())}
    # No setting preferred: the nearest place of any kind (the hospital 0.5 km away, its first place).
    mixed = found[around.ids["hospital_and_clinics"]]
    assert (round(float(hits.distance[mixed]), 3), int(hits.location_index[mixed])) == (0.5, 0)
    # Whatever setting a preference would favour, the nearest place is shown: 0.3 km, the last of 7.
    for key in ("all_then_hospital", "all_then_clinic"):
        row = found[around.ids[key]]
        assert (round(float(hits.distance[row]), 3), int(hits.location_index[row])) == (0.3, 6), key
    assert around.ids["visits_only"] in found
    assert hits.visits_you is not None and bool(hits.visits_you[found[around.ids["visits_only"]]])


def test_without_home_visits_beyond_only_places_in_range_and_visits_are_left_to_the_caller(around: SeededIndex) -> None:
    with around.index.snapshot() as snap:
        hits = snap.near(ORIGIN[0], ORIGIN[1], 5.0, home_visits_beyond=False)
        key_of = {v: k for k, v in around.ids.items()}
        keys = {key_of[int(p)] for p in snap.pid[hits.rows].tolist()}
        assert hits.visits_you is None
        assert "visits_only" not in keys and {"visits_1km", "clinic_2km", "all_then_hospital"} <= keys
        # Asked for the rows it needs, the caller learns who visits the point.
        visits = snap.visits_you_at(ORIGIN[0], ORIGIN[1], hits.rows)
        assert {key_of[int(p)] for p in snap.pid[hits.rows[visits]].tolist()} == {"visits_1km"}


def test_nearest_first_orders_each_rows_places_by_distance_even_beyond_17000_km() -> None:
    """Distances are packed into an integer key below the row: the farthest ones are capped, never
    spilled into the row's bits (which would move a place to another listing's group)."""
    rows = np.array([0, 0, 1, 1, 1])
    dist = np.array([17_500.0, 16_000.0, 5.0, 18_000.0, 0.25])
    assert nearest_first(rows, dist).tolist() == [1, 0, 4, 2, 3]
    # A row's wanted places first, then by distance.
    wanted = np.array([True, False, False, True, False])
    assert nearest_first(rows, dist, wanted).tolist() == [0, 1, 3, 4, 2]


def test_the_cells_a_box_touches_hold_exactly_the_points_found_for_it() -> None:
    """The cell table and the binary-search fallback each find exactly the points whose
    cell lies in the box's rows and columns: no cell missed, and no cell beyond (a
    bigger set would still be filtered by distance, but read for nothing)."""
    rng = np.random.default_rng(16)
    lats, lons = rng.uniform(50.0, 58.5, 3000), rng.uniform(-6.0, 1.7, 3000)
    keys = grid_keys(lats, lons)
    order = np.argsort(keys, kind="stable")
    keys, lats, lons = keys[order], lats[order], lons[order]
    table = CellTable.build(keys)
    assert table is not None
    cell_row, cell_col = np.floor(lats / LAT_CELL), np.floor((lons + 180.0) / LON_CELL)
    boxes = [bounding_box(float(lat), float(lon), float(km)) for lat, lon, km in zip(
        rng.uniform(49.0, 59.5, 60), rng.uniform(-8.0, 3.0, 60), rng.uniform(0.5, 80.0, 60), strict=True
    )]
    boxes += [
        (52.0, -9.0, 53.0, -7.0),  # rows of points, but west of every column
        (59.0, -3.0, 60.0, -2.0),  # columns of points, but north of every row
        (49.0, -8.0, 60.0, 3.0),  # around everything
        (-10.0, -190.0, 10.0, 190.0),  # beyond the date line both ways
    ]
    for box in boxes:
        rows = (math.floor(box[0] / LAT_CELL), math.floor(box[2] / LAT_CELL))
        cols = (math.floor((max(box[1], -180.0) + 180.0) / LON_CELL), math.floor((min(box[3], 180.0) + 180.0) / LON_CELL))
        inside = (cell_row >= rows[0]) & (cell_row <= rows[1]) & (cell_col >= cols[0]) & (cell_col <= cols[1])
        expected = np.flatnonzero(inside).tolist()
        assert table.candidates(box).tolist() == expected, box
        assert grid_candidates(keys, (box, 0)).tolist() == expected, box
    assert any(len(table.candidates(box)) for box in boxes[:60])


def test_the_index_distance_is_the_haversine_exactly_even_at_the_antipode() -> None:
    """Snapshot._haversine reads prepared half-angles but must give haversine_km's very values:
    the radius edge (a place exactly on it is in range) depends on it, east-west too."""
    rng = np.random.default_rng(15)
    lats, lons = rng.uniform(49.0, 59.0, 500), rng.uniform(-8.0, 2.0, 500)
    # The antipode of (51.3, -6.0): rounding there puts the haversine's a one unit above 1 (clipped).
    lats, lons = np.append(lats, [-51.3, 51.3]), np.append(lons, [174.0, -6.0])
    for lat, lon in ((53.8, -1.55), (51.3, -6.0)):
        ours = Snapshot._haversine(lat, lon, np.radians(lats) / 2.0, np.radians(lons) / 2.0, np.cos(np.radians(lats)))
        assert np.array_equal(ours, haversine_km(lat, lon, lats, lons))
        assert np.isfinite(ours).all()
    assert float(ours[-2]) == pytest.approx(math.pi * EARTH_RADIUS_KM)


def test_nearest_first_breaks_ties_by_the_order_places_are_listed() -> None:
    """Two places of one listing at the same distance: the first listed is the one shown,
    on every run and in page and API alike (a sort that is not stable would pick either)."""
    rng = np.random.default_rng(60)
    rows = np.sort(rng.integers(0, 50, 4000))
    dist = rng.integers(0, 3, 4000) * 0.5  # many ties within each row
    expected = sorted(range(len(rows)), key=lambda i: (int(rows[i]), float(dist[i]), i))
    assert nearest_first(rows, dist).tolist() == expected
