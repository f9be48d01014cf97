"""The server-drawn results picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from finder.geo import Location
from finder.web.svgmap import Pin, compass_direction, results_map, ring_steps

NS = "{http://www.w3.org/2000/svg}"
CENTRE = Location(label="LS6", lat=53.8195, lon=-1.5762, precision="outcode", source="codepoint")


def test_pins_are_numbered_and_described() -> None:
    pins = [
        Pin(1, 53.83, -1.5762, "North Physio", 1.2),
        Pin(2, 53.8195, -1.55, "East Physio", 1.7),
        Pin(3, 55.0, -1.5, "Far away", 130.0),
    ]
    svg = str(results_map(CENTRE, 5, pins))
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    numbers = [t.text for t in root.iter(f"{NS}text") if t.text and t.text.isdigit()]
    assert sorted(numbers) == ["1", "2"]
    desc = root.find(f"{NS}desc").text
    assert "Pin 1: North Physio, 1.2 km north" in desc
    assert "Pin 2: East Physio, 1.7 km east" in desc
    assert "1 result(s) are outside the picture" in desc
    assert root.find(f"{NS}title").text == "Picture of the results around LS6"


def test_text_is_escaped() -> None:
    svg = str(results_map(CENTRE, 5, [Pin(1, 53.82, -1.57, '<script>alert("x")</script>', 0.4)]))
    assert "<script>" not in svg
    ET.fromstring(svg)  # still well-formed


def test_rings_are_round_numbers_inside_the_picture() -> None:
    assert ring_steps(25) == [10, 20]
    assert ring_steps(6) == [2, 4, 6]
    assert ring_steps(200) == [75, 150]  # 225 would fall outside the picture


def test_compass() -> None:
    assert compass_direction(CENTRE, 53.9, -1.5762) == "north"
    assert compass_direction(CENTRE, 53.7, -1.70) == "south-west"


def test_twenty_pins_in_one_street_do_not_overlap_and_no_line_crosses_a_number() -> None:
    import math

    pins = [Pin(n, 53.8200 + (n % 3) * 0.0002, -1.5770 + (n % 4) * 0.0002, f"Clinic {n}", 0.1) for n in range(1, 21)]
    root = ET.fromstring(str(results_map(CENTRE, 25, pins)))
    circles = [(float(c.get("cx")), float(c.get("cy")), float(c.get("r"))) for g in root.iter(f"{NS}g")
               if g.get("class") == "pin" for c in g.iter(f"{NS}circle")]
    assert len(circles) == 20
    for i, (x1, y1, r) in enumerate(circles):
        for x2, y2, _ in circles[i + 1:]:
            assert math.hypot(x2 - x1, y2 - y1) >= 2 * r - 0.5, "two numbered pins overlap"
    # Lines and dots come before every pin in the drawing order (pins are painted over them).
    order = [child.tag for child in root]
    last_line = max((i for i, tag in enumerate(order) if tag == f"{NS}line"), default=-1)
    first_pin = min(i for i, child in enumerate(root) if child.get("class") == "pin")
    assert last_line < first_pin


def test_map_text_is_readable_on_a_phone() -> None:
    # The picture is drawn 420 units wide; on a 390 px phone it shows about 350 px wide.
    root = ET.fromstring(str(results_map(CENTRE, 5, [Pin(1, 53.83, -1.5762, "North", 1.2)])))
    width = float(root.get("viewBox").split()[2])
    scale = 350 / width
    sizes = [float(t.get("font-size")) * scale for t in root.iter(f"{NS}text")]
    assert min(sizes) >= 13, f"smallest map text is {min(sizes):.1f} px on a phone"


def test_spread_pins_settle_apart_and_stay_settled() -> None:
    """Clusters of pins end at least a pin's width apart and off the search point, inside the box;
    spreading the result again moves nothing (a spread that never settles runs all its rounds on
    every page: float rounding once left pairs a hair short of the gap)."""
    import math
    import random

    from finder.web.svgmap import PIN_RADIUS, spread_pins

    rng = random.Random(7)
    box, centre = (26.0, 26.0, 394.0, 354.0), (210.0, 190.0)
    for _ in range(40):
        points: list[tuple[float, float]] = []
        while len(points) < 20:
            x, y = rng.uniform(30, 390), rng.uniform(30, 350)
            points += [(x + rng.uniform(-4, 4), y + rng.uniform(-4, 4)) for _ in range(rng.randint(1, 8))]
        points = points[:20] + [centre]  # one pin exactly on the search point
        placed = spread_pins(points, centre, box)
        assert len(placed) == len(points)
        for i, (x1, y1) in enumerate(placed):
            assert box[0] <= x1 <= box[2] and box[1] <= y1 <= box[3]
            assert math.hypot(x1 - centre[0], y1 - centre[1]) >= PIN_RADIUS + 13
            for x2, y2 in placed[i + 1 :]:
                assert math.hypot(x2 - x1, y2 - y1) >= 2 * PIN_RADIUS + 2, "two pins still overlap"
        assert spread_pins(placed, centre, box) == placed
