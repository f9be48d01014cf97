"""Neighbourhoods people type resolve offline, near their real centre; no far-away guesses."""

from __future__ import annotations

import pytest

from finder.errors import UnknownPlace
from finder.geo.distance import haversine_km
from finder.geo.localities import load_localities
from tests.plugins.geo import TEST_AREAS

#: Real centres (approximate, from maps) of places the issue names.
CENTRES = {
    "Headingley": (53.8196, -1.5790),
    "Kirkstall": (53.8163, -1.6035),
    "Roundhay": (53.8381, -1.4960),
    "Shoreditch": (51.5262, -0.0779),
    "Moseley": (52.4460, -1.8880),
    "Morningside": (55.9260, -3.2090),
    "Leeds LS6": (53.8195, -1.5762),
    "LS6 Leeds": (53.8195, -1.5762),
    "Headingley, Leeds": (53.8196, -1.5790),
}


@pytest.mark.parametrize("typed", list(CENTRES))
def test_neighbourhoods_resolve_within_3_km(geocoder, typed):
    found = geocoder.resolve(typed)
    assert haversine_km(found.lat, found.lon, *CENTRES[typed]) <= 3.0, found


def test_every_locality_sits_in_its_postcode_district(gazetteer):
    checked = 0
    for locality in load_localities():
        area = locality.district.rstrip("0123456789").lower()
        if area.rstrip("0123456789") not in TEST_AREAS:
            continue
        centroid = gazetteer.outcode(locality.district)
        assert centroid is not None, locality
        assert haversine_km(locality.lat, locality.lon, centroid.lat, centroid.lon) <= 3.5, locality
        checked += 1
    assert checked > 50


@pytest.mark.parametrize(("typed", "wrong"), [("Headingly", "Headley"), ("Kirkstal", "Kirkwall")])
def test_did_you_mean_offers_the_neighbourhood_not_a_far_away_namesake(geocoder, typed, wrong):
    with pytest.raises(UnknownPlace) as caught:
        geocoder.resolve(typed)
    assert wrong not in caught.value.detail
