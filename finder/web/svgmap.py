"""A small map-like picture of search results, drawn on the server as SVG.

No tiles and no script: the search point in the middle, distance rings, and a
numbered pin for each result on the page (the numbers match the result list).
Every text that reaches the SVG is escaped here; the caller gets Markup.
Coordinates are projected with a local equirectangular projection, which is
accurate to well under a pixel over the 200 km a search can span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from finder.geo import Location

KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_EQUATOR = 111.320
NICE_STEPS_KM = (0.5, 1, 2, 2.5, 5, 10, 15, 20, 25, 50, 75, 100, 150, 200)
COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")


@dataclass(frozen=True)
class Pin:
    number: int
    lat: float
    lon: float
    name: str
    distance_km: float | None


def _offset_km(center: Location, lat: float, lon: float) -> tuple[float, float]:
    """East and north offsets of a point from the centre, in km."""
    east = (lon - center.lon) * KM_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(center.lat))
    north = (lat - center.lat) * KM_PER_DEGREE_LAT
    return east, north


def compass_direction(center: Location, lat: float, lon: float) -> str:
    east, north = _offset_km(center, lat, lon)
    if abs(east) < 0.05 and abs(north) < 0.05:
        return "at the search point"
    bearing = (math.degrees(math.atan2(east, north)) + 360) % 360
    return COMPASS[int((bearing + 22.5) // 45) % 8]


def ring_steps(extent_km: float) -> list[float]:
    """Two or three round ring distances that fit inside ``extent_km``."""
    target = extent_km / 3
    step = min(NICE_STEPS_KM, key=lambda s: abs(s - target))
    rings = [step * i for i in range(1, 4) if step * i <= extent_km * 1.001]
    return rings or [extent_km]


def _fmt_km(km: float) -> str:
    return f"{km:g} km"


def map_extent(pins: list[Pin], center: Location, radius_km: float) -> float:
    """How many km from the centre to the edge: the farthest pin (with a margin), at most the radius."""
    farthest = 0.0
    for pin in pins:
        east, north = _offset_km(center, pin.lat, pin.lon)
        farthest = max(farthest, math.hypot(east, north))
    extent = farthest * 1.15 if farthest else radius_km
    return max(1.0, min(extent, radius_km))


PIN_RADIUS = 15


#: Pushes go this many pixels beyond the gap, and a pair within this much of the gap counts as apart:
#: without them, float rounding left pairs a hair short of the gap and every call ran all 300 rounds.
SPREAD_SLACK = 0.5
SPREAD_TOLERANCE = 0.25


def spread_pins(points: list[tuple[float, float]], centre: tuple[float, float], box: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """Nudge pins apart so no number hides another (or the search point); each keeps a line to its true place."""
    placed = [list(p) for p in points]
    gap = 2 * PIN_RADIUS + 3
    clear = PIN_RADIUS + 14
    left, top, right, bottom = box
    # Most pairs are far apart: compare squared distances, and take the root only for a close pair.
    near_gap = (gap - SPREAD_TOLERANCE) ** 2
    for _ in range(300):
        moved = False
        for i, a in enumerate(placed):
            # Away from the search point marker.
            dx, dy = a[0] - centre[0], a[1] - centre[1]
            distance = math.hypot(dx, dy)
            if distance < clear - SPREAD_TOLERANCE:
                angle = math.atan2(dy, dx) if distance > 0.01 else -math.pi / 4 + i
                push = clear + SPREAD_SLACK - distance
                a[0] += math.cos(angle) * push
                a[1] += math.sin(angle) * push
                moved = True
            for b in placed[i + 1 :]:
                dx, dy = b[0] - a[0], b[1] - a[1]
                if dx * dx + dy * dy < near_gap:
                    distance = math.hypot(dx, dy)
                    angle = math.atan2(dy, dx) if distance > 0.01 else (i * 2.39996)  # golden angle: no two alike
                    push = (gap + SPREAD_SLACK - distance) / 2
                    a[0] -= math.cos(angle) * push
                    a[1] -= math.sin(angle) * push
                    b[0] += math.cos(angle) * push
                    b[1] += math.sin(angle) * push
                    moved = True
        for point in placed:
            point[0] = min(max(point[0], left), right)
            point[1] = min(max(point[1], top), bottom)
        if not moved:
            break
    return [(x, y) for x, y in placed]


def results_map(
    center: Location,
    radius_km: float,
    pins: list[Pin],
    *,
    width: int = 420,
    height: int = 380,
    title_id: str = "map-title",
    desc_id: str = "map-desc",
) -> Markup:
    """The SVG picture: search point, rings and numbered pins, with a title and text description."""
    extent = map_extent(pins, center, radius_km)
    margin = 26
    scale = (min(width, height) / 2 - margin) / extent  # pixels per km
    cx, cy = width / 2, height / 2

    def project(lat: float, lon: float) -> tuple[float, float]:
        east, north = _offset_km(center, lat, lon)
        return cx + east * scale, cy - north * scale

    parts: list[str] = []
    parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="results-map" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" focusable="false">'
    )
    parts.append(f'<title id="{title_id}">{escape("Picture of the results around " + center.label)}</title>')

    shown: list[Pin] = []
    outside: list[Pin] = []
    for pin in pins:
        x, y = project(pin.lat, pin.lon)
        if margin / 2 <= x <= width - margin / 2 and margin / 2 <= y <= height - margin / 2:
            shown.append(pin)
        else:
            outside.append(pin)
    rings = ring_steps(extent)
    description = [
        f"The search point, {center.label}, is in the middle.",
        f"Rings show {', '.join(_fmt_km(r) for r in rings)} from it.",
    ]
    for pin in shown:
        where = compass_direction(center, pin.lat, pin.lon)
        distance = f"{pin.distance_km:.1f} km " if pin.distance_km is not None else ""
        description.append(f"Pin {pin.number}: {pin.name}, {distance}{where}.")
    if outside:
        description.append(f"{len(outside)} result(s) are outside the picture.")
    parts.append(f'<desc id="{desc_id}">{escape(" ".join(description))}</desc>')

    parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f4f8fb" stroke="#505a5f" stroke-width="2"/>')
    # Rings, largest first, each labelled on its north side.
    for ring in reversed(rings):
        r = ring * scale
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="none" stroke="#505a5f" '
            'stroke-width="1.5" stroke-dasharray="6 5"/>'
        )
        # Labels sit on the south-east of each ring, where the north arrow and most text are not.
        lx, ly = cx + r * 0.7071 + 4, cy + r * 0.7071 + 14
        parts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="17" fill="#0b0c0c" stroke="#f4f8fb" stroke-width="4" '
            f'paint-order="stroke" font-family="sans-serif">{escape(_fmt_km(ring))}</text>'
        )
    # North arrow.
    parts.append(
        f'<g aria-hidden="true"><path d="M {width - 30} 46 L {width - 22} 24 L {width - 14} 46 Z" fill="#0b0c0c"/>'
        f'<text x="{width - 22}" y="64" font-size="17" text-anchor="middle" fill="#0b0c0c" '
        'font-family="sans-serif">N</text></g>'
    )
    # Search point: a bold target.
    parts.append(
        f'<g><circle cx="{cx:.1f}" cy="{cy:.1f}" r="9" fill="#ffffff" stroke="#0b0c0c" stroke-width="4"/>'
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="#0b0c0c"/></g>'
    )
    # Where the search point is: a key in the corner, so pins never hide it.
    key_text = f"Search point: {center.label}"
    key_width = min(width - 20, 40 + 9.6 * len(key_text))
    parts.append(
        f'<g><rect x="10" y="{height - 44}" width="{key_width:.0f}" height="34" rx="4" fill="#ffffff" stroke="#505a5f" stroke-width="1.5"/>'
        f'<circle cx="27" cy="{height - 27}" r="7" fill="#ffffff" stroke="#0b0c0c" stroke-width="3"/>'
        f'<circle cx="27" cy="{height - 27}" r="2.5" fill="#0b0c0c"/>'
        f'<text x="42" y="{height - 21}" font-size="17" fill="#0b0c0c" font-family="sans-serif">{escape(key_text)}</text></g>'
    )
    true_points = [project(pin.lat, pin.lon) for pin in shown]
    box = (margin / 2 + PIN_RADIUS, margin / 2 + PIN_RADIUS, width - margin / 2 - PIN_RADIUS, height - 50 - PIN_RADIUS)
    placed = spread_pins(true_points, (cx, cy), box)
    drawn = list(zip(shown, true_points, placed, strict=True))
    # Leader lines first, so that no line crosses a number.
    for _pin, (tx, ty), (x, y) in drawn:
        if math.hypot(x - tx, y - ty) > 3:
            parts.append(
                f'<line x1="{tx:.1f}" y1="{ty:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#1d4f91" stroke-width="2"/>'
                f'<circle cx="{tx:.1f}" cy="{ty:.1f}" r="3.5" fill="#1d4f91"/>'
            )
    # Pins last-to-first so that pin 1 sits on top where pins still touch.
    for pin, _true, (x, y) in reversed(drawn):
        parts.append(
            f'<g class="pin"><circle cx="{x:.1f}" cy="{y:.1f}" r="{PIN_RADIUS}" fill="#1d4f91" stroke="#ffffff" stroke-width="2.5"/>'
            f'<text x="{x:.1f}" y="{y + 6:.1f}" font-size="16" font-weight="bold" text-anchor="middle" '
            f'fill="#ffffff" font-family="sans-serif">{pin.number}</text></g>'
        )
    parts.append("</svg>")
    # Every interpolated string above is either a number we formatted or escaped text.
    return Markup("".join(parts))  # noqa: S704
