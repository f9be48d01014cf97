"""Great-circle distances agree with geopy's geodesic; bounding boxes never lose a point."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from finder.geo.distance import bounding_box, distance_km, haversine_km

SW1A_1AA = (51.501009, -0.141588)
EH1_1YZ = (55.950332, -3.193017)


def test_london_to_edinburgh_is_about_534_km() -> None:
    km = distance_km(*SW1A_1AA, *EH1_1YZ)
    assert km == pytest.approx(534, abs=3)
    assert km == pytest.approx(geodesic(SW1A_1AA, EH1_1YZ).km, rel=0.005)


def test_agrees_with_geodesic_within_half_a_percent_from_1_to_800_km() -> None:
    rng = np.random.default_rng(20261127)
    checked = 0
    worst = 0.0
    while checked < 1500:
        a = (rng.uniform(49.9, 60.8), rng.uniform(-8.2, 1.8))
        # spread distances evenly over the range, not mostly long ones
        bearing = rng.uniform(0, 360)
        wanted = rng.uniform(1, 800)
        b = geodesic(kilometers=wanted).destination(a, bearing)
        if not (49.9 <= b.latitude <= 60.8 and -8.2 <= b.longitude <= 1.8):
            continue
        truth = geodesic(a, (b.latitude, b.longitude)).km
        ours = distance_km(a[0], a[1], b.latitude, b.longitude)
        worst = max(worst, abs(ours - truth) / truth)
        checked += 1
    assert worst < 0.005, f"worst relative error {worst:.4%}"


def test_one_point_against_many_at_once() -> None:
    lats = np.array([SW1A_1AA[0], EH1_1YZ[0], 53.8, SW1A_1AA[0]])
    lons = np.array([SW1A_1AA[1], EH1_1YZ[1], -1.55, SW1A_1AA[1]])
    distances = haversine_km(*SW1A_1AA, lats, lons)
    assert distances.shape == (4,)
    assert distances[0] == 0.0 and distances[3] == 0.0
    # An independent oracle: geopy's ellipsoidal distance, which the sphere matches within 0.5%.
    expected = [geodesic(SW1A_1AA, (la, lo)).km for la, lo in zip(lats, lons, strict=True)]
    assert distances.tolist() == pytest.approx(expected, rel=0.005)
    assert distances[2] == pytest.approx(273, abs=2)  # London to Leeds: about 273 km as the crow flies
    assert haversine_km(*SW1A_1AA, [], []).shape == (0,)
    # lists work as well as arrays; distance is symmetric
    assert haversine_km(*EH1_1YZ, [SW1A_1AA[0]], [SW1A_1AA[1]])[0] == pytest.approx(distances[1])


def test_antipodes_do_not_produce_nan() -> None:
    assert distance_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * 6371.0088)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(49.0, 61.5),
    lon=st.floats(-9.0, 2.5),
    km=st.floats(0.1, 400),
    bearing=st.floats(0, 360),
    fraction=st.floats(0, 1),
)
def test_bounding_box_holds_every_point_within_the_distance(
    lat: float, lon: float, km: float, bearing: float, fraction: float
) -> None:
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, km)
    # a point at up to km from the centre, on the same sphere
    angle = km * fraction / 6371.0088
    phi, lam, theta = math.radians(lat), math.radians(lon), math.radians(bearing)
    phi2 = math.asin(math.sin(phi) * math.cos(angle) + math.cos(phi) * math.sin(angle) * math.cos(theta))
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(angle) * math.cos(phi), math.cos(angle) - math.sin(phi) * math.sin(phi2)
    )
    p_lat, p_lon = math.degrees(phi2), math.degrees(lam2)
    assert distance_km(lat, lon, p_lat, p_lon) <= km * 1.000001
    assert min_lat <= p_lat <= max_lat
    assert min_lon <= p_lon <= max_lon


def test_bounding_box_is_tight_and_handles_edges() -> None:
    min_lat, min_lon, max_lat, max_lon = bounding_box(53.8, -1.55, 10)
    # 10 km is about 0.09 degrees of latitude and 0.15 of longitude at Leeds
    assert max_lat - min_lat == pytest.approx(2 * 10 / 111.195, rel=1e-3)
    assert 0.29 < max_lon - min_lon < 0.31
    assert bounding_box(89.95, 0.0, 20)[1:4:2] == (-180.0, 180.0)  # reaches the pole
    assert bounding_box(53.8, -1.55, 0) == pytest.approx((53.8, -1.55, 53.8, -1.55))
    with pytest.raises(ValueError):
        bounding_box(53.8, -1.55, -1)
