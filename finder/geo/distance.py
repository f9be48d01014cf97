"""Great-circle distances, one point against many at once, and bounding boxes.

A sphere of the Earth's mean radius is within 0.5% of the WGS84 ellipsoid
(geopy's geodesic) for any two points in the UK (tests/geo/test_distance.py
checks 1-800 km), which is far finer than "how far to the clinic" needs, and
it vectorises: one search compares a point with thousands of locations.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

#: IUGG mean Earth radius, km.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat: float, lon: float, lats: ArrayLike, lons: ArrayLike) -> np.ndarray:
    """Great-circle distance in km from (lat, lon) to every (lats[i], lons[i]).

    >>> haversine_km(51.501009, -0.141588, [55.95206], [-3.19648]).round(0)
    array([534.])
    """
    phi1 = math.radians(lat)
    phi2 = np.radians(np.asarray(lats, dtype=np.float64))
    dphi = phi2 - phi1
    dlambda = np.radians(np.asarray(lons, dtype=np.float64)) - math.radians(lon)
    a = np.sin(dphi / 2.0) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlambda / 2.0) ** 2
    # clip: rounding can push a a hair above 1 for antipodal points
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle distance in km between two points."""
    return float(haversine_km(a_lat, a_lon, [b_lat], [b_lon])[0])


def bounding_box(lat: float, lon: float, km: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) of a box holding every point within ``km``.

    Exact for the sphere used by :func:`haversine_km`, so a box pre-filter never
    drops a point the distance check would keep. Longitudes are not wrapped at
    ±180° (the UK is nowhere near); a circle reaching a pole spans all longitudes.
    """
    if km < 0:
        raise ValueError("distance must not be negative")
    angle = km / EARTH_RADIUS_KM  # angular radius, radians
    phi = math.radians(lat)
    min_lat = math.degrees(phi - angle)
    max_lat = math.degrees(phi + angle)
    if min_lat <= -90.0 or max_lat >= 90.0 or angle >= math.pi / 2:
        return max(min_lat, -90.0), -180.0, min(max_lat, 90.0), 180.0
    # widest longitude reach of a small circle (not at the centre's latitude)
    dlambda = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(phi))))
    # a hair of slack so points exactly on the circle survive float rounding
    slack = 1e-9
    return (
        min_lat - slack,
        max(-180.0, lon - dlambda - slack),
        max_lat + slack,
        min(180.0, lon + dlambda + slack),
    )
