"""Places: postcode and place gazetteer, geocoder chain, distances.

Used by ingest (postcode -> coordinates) and by search (text -> a point).
"""

from __future__ import annotations

from dataclasses import dataclass

#: How precise a resolved location is, most precise first.
PRECISIONS = ("point", "postcode", "sector", "outcode", "area", "place")


@dataclass(frozen=True)
class Location:
    """A resolved search location."""

    label: str  # what to show: "LS6 2AB", "LS6", "Harrogate, North Yorkshire", "51.50000, -0.12000"
    lat: float
    lon: float
    precision: str  # one of PRECISIONS
    source: str  # "latlon", "codepoint", "geonames", "localities", "nominatim", "postcodes_api"

    def as_json(self) -> dict[str, object]:
        return {"label": self.label, "lat": round(self.lat, 6), "lon": round(self.lon, 6), "precision": self.precision}
