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
