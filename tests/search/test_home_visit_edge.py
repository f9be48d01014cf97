"""Home-visit coverage at its edge: a home exactly on the coverage circle is visited.

The coverage radius is set to the very distance the search measures from the
search point to the home-visit base (the same float), so the only thing that
decides these tests is the comparison: inclusive (``<=``) keeps the listing, a
strict ``<`` would drop it. Listings one step (the next float down) short of
the point must not match. Both search paths are covered: the general one
(every home visitor near the point) and the one behind a setting filter (only
whether the practitioners found by place also visit the point).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finder.db import Store
from finder.geo.distance import haversine_km
from tests.plugins.search import ORIGIN, SeededIndex, listing, make_seeded, north_of_origin, origin

BASE_KM = 30.0  # the home-visit base, due north of the search point


def _edge_km() -> float:
    lat, lon = north_of_origin(BASE_KM)
    return float(haversine_km(ORIGIN[0], ORIGIN[1], [lat], [lon])[0])


def _visitor(key: str, radius_km: float, *, clinic_km: float | None) -> Any:
    """A home visitor based BASE_KM north, with a clinic ``clinic_km`` north (None: no clinic)."""
    lat, lon = north_of_origin(BASE_KM)
    home = {"base_postcode": "LS1 1AA", "coverage_radius_km": radius_km, "lat": lat, "lon": lon}
    return listing(key, km=clinic_km, home_visits=home)


@pytest.fixture
def edge_index(sqlite_store: Store, tmp_path: Path) -> Iterator[SeededIndex]:
    edge = _edge_km()
    short = math.nextafter(edge, 0.0)  # the largest radius that stops short of the point
    seeded = make_seeded(
        sqlite_store,
        tmp_path / "index",
        [
            ("on_edge", _visitor("on_edge", edge, clinic_km=None)),
            ("short", _visitor("short", short, clinic_km=None)),
            # a clinic 3 km away as well: found by place, then checked for visits
            ("clinic_on_edge", _visitor("clinic_on_edge", edge, clinic_km=3.0)),
            ("clinic_short", _visitor("clinic_short", short, clinic_km=4.0)),
        ],
    )
    stored = {p.id: p.record.home_visits for p in seeded.store.get_many(list(seeded.ids.values()))}
    # The store keeps the radius to the last bit, or these tests would test rounding.
    assert stored[seeded.ids["on_edge"]].coverage_radius_km == edge
    assert stored[seeded.ids["short"]].coverage_radius_km == short < edge
    yield seeded
    seeded.index.close()


def _visits(seeded: SeededIndex, results: Any) -> dict[str, bool]:
    return {key: hit.visits_you for key, hit in zip(seeded.keys(results), results.hits, strict=True)}


def test_a_home_exactly_on_the_coverage_edge_is_visited(edge_index: SeededIndex) -> None:
    results = edge_index.search(location=origin(), radius_km=5, visits_home=True, per_page=100)
    assert _visits(edge_index, results) == {"on_edge": True, "clinic_on_edge": True}


def test_the_edge_counts_in_a_plain_place_search(edge_index: SeededIndex) -> None:
    results = edge_index.search(location=origin(), radius_km=5, per_page=100)
    assert _visits(edge_index, results) == {
        "clinic_on_edge": True,
        "clinic_short": False,
        "on_edge": True,  # only visits: listed because the point is on the edge of the area
    }
    assert results.facets["flags"]["visits_home"] == 2


def test_the_edge_counts_behind_a_setting_filter(edge_index: SeededIndex) -> None:
    # With a setting filter only practitioners with such a place in range are
    # candidates; whether each also visits the point is checked separately.
    results = edge_index.search(
        location=origin(), radius_km=5, filters={"setting": ("private_clinic",)}, per_page=100
    )
    assert _visits(edge_index, results) == {"clinic_on_edge": True, "clinic_short": False}
    assert results.facets["flags"]["visits_home"] == 1
