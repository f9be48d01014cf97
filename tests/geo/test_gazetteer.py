"""The gazetteer: postcode points, centroids, place names, and how it is built."""

from __future__ import annotations

import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from finder.errors import (
    GazetteerMissing,
    InvalidPostcode,
    InvalidValue,
    UnknownPostcode,
    UnsupportedArea,
)
from finder.geo import gazetteer as gazetteer_module
from finder.geo.distance import distance_km
from finder.geo.gazetteer import (
    Gazetteer,
    build_gazetteer,
    codepoint_files,
    display_name,
    fold_place_name,
    open_gazetteer,
    read_codepoint_file,
)

HEADINGLEY = (53.8195, -1.5762)


# ---- postcodes ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["SW1A 1AA", "sw1a1aa", "  Sw1a   1aA ", "SW1A1AA"])
def test_postcode_point_in_any_spacing_or_case(gazetteer: Gazetteer, text: str) -> None:
    lat, lon = gazetteer.postcode_point(text)
    # Code-Point Open: E 529090, N 179645 -> Buckingham Palace
    assert lat == pytest.approx(51.501009, abs=1e-5)
    assert lon == pytest.approx(-0.141588, abs=1e-5)


@pytest.mark.parametrize(
    ("postcode", "near", "within_km"),
    [
        ("EH1 1YZ", (55.9533, -3.1883), 1.5),  # Edinburgh city centre
        ("CF10 1EP", (51.4816, -3.1791), 1.5),  # Cardiff city centre
        ("LS6 2AB", HEADINGLEY, 2.0),
        ("HG1 1AA", (53.9908, -1.5373), 3.0),  # Harrogate
        ("TR26 1AB", (50.2086, -5.4875), 3.0),  # St Ives, Cornwall
    ],
)
def test_postcodes_land_where_they_are(gazetteer: Gazetteer, postcode: str, near: tuple[float, float], within_km: float) -> None:
    assert distance_km(*gazetteer.postcode_point(postcode), *near) < within_km


def test_an_unknown_postcode_is_named_as_such(gazetteer: Gazetteer) -> None:
    with pytest.raises(UnknownPostcode) as caught:
        gazetteer.postcode_point("LS99 9ZZ")
    assert "LS99 9ZZ is a valid format but not a known postcode" in caught.value.detail
    with pytest.raises(UnknownPostcode, match="district LS6 has sectors LS6 1, LS6 2"):
        gazetteer.postcode_point("LS6 7AA")


def test_northern_ireland_is_said_plainly(gazetteer: Gazetteer) -> None:
    with pytest.raises(UnsupportedArea) as caught:
        gazetteer.postcode_point("BT1 1AA")
    assert "Northern Ireland" in caught.value.detail
    assert "Code-Point Open" in caught.value.detail
    assert "Great Britain only" in caught.value.detail
    with pytest.raises(UnsupportedArea, match="Isle of Man"):
        gazetteer.postcode_point("IM1 1AA")


def test_a_postcode_outside_a_partial_build_says_how_to_get_it(gazetteer: Gazetteer) -> None:
    with pytest.raises(UnknownPostcode, match="finder geo build"):
        gazetteer.postcode_point("YO1 7HH")


@pytest.mark.parametrize("text", ["hello", "LS6", "LS6 2", "", "LS6 2AC"])
def test_postcode_point_wants_a_full_postcode(gazetteer: Gazetteer, text: str) -> None:
    with pytest.raises(InvalidPostcode, match="e.g. 'LS6 2AB'"):
        gazetteer.postcode_point(text)


def test_postcodes_without_coordinates_sit_at_their_sector_centre(gazetteer: Gazetteer) -> None:
    row = gazetteer._db().execute("SELECT postcode FROM postcodes WHERE quality = 90 LIMIT 1").fetchone()
    assert row is not None, "Code-Point Open lists a few hundred postcodes without coordinates"
    code, lat, lon, approximate = gazetteer.postcode(row[0])
    assert approximate
    sector = gazetteer.sector(code[:-2])
    assert sector is not None and (lat, lon) == pytest.approx((sector.lat, sector.lon), abs=1e-6)
    assert (lat, lon) != (0.0, 0.0)


# ---- sectors, districts, areas ---------------------------------------------------


def test_centroids(gazetteer: Gazetteer) -> None:
    ls6 = gazetteer.outcode("LS6")
    sector = gazetteer.sector("LS6 2")
    assert ls6 is not None and sector is not None
    assert distance_km(ls6.lat, ls6.lon, *HEADINGLEY) < 3
    assert distance_km(sector.lat, sector.lon, ls6.lat, ls6.lon) < 3
    assert ls6.units > sector.units > 50
    assert ls6.town == "Leeds"
    assert gazetteer.sectors_of("LS6")[:4] == ["LS6 1", "LS6 2", "LS6 3", "LS6 4"]
    area = gazetteer.area("LS")
    assert area is not None and area.name == "Leeds" and area.units > ls6.units
    assert gazetteer.outcode("LS6 2") is None and gazetteer.sector("LS6 7") is None


# ---- places -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("St Ives", "Saint Ives"),
        ("St. Ives", "ST IVES"),
        ("Bishop's Stortford", "Bishops Stortford"),
        ("Bishop’s Stortford", "bishops-stortford"),
        ("Stratford-upon-Avon", "stratford upon avon"),
        ("Ynys Môn", "Ynys Mon"),
    ],
)
def test_spellings_fold_together(one: str, other: str) -> None:
    assert fold_place_name(one) == fold_place_name(other)


def test_display_names_follow_british_usage() -> None:
    assert display_name("Saint Ives") == "St Ives"
    assert display_name("St. Helens") == "St Helens"
    assert display_name("Saintfield") == "Saintfield"


def test_st_ives_is_two_places_told_apart(gazetteer: Gazetteer) -> None:
    places = gazetteer.find_places("saint ives")
    assert [p.choice_label for p in places] == ["St Ives, Cambridgeshire (PE27)", "St Ives, Cornwall (TR26)"]
    assert all(p.shared == 2 for p in places)
    assert distance_km(places[0].lat, places[0].lon, places[1].lat, places[1].lon) > 300


def test_places_carry_county_and_nation(gazetteer: Gazetteer) -> None:
    (harrogate,) = gazetteer.find_places("harrogate")
    assert harrogate.label == "Harrogate, North Yorkshire"
    assert harrogate.outcode == "HG1" and harrogate.country == "England"
    (stortford,) = gazetteer.find_places("Bishops Stortford")
    assert stortford.label == "Bishop's Stortford, Hertfordshire"
    (belfast,) = gazetteer.find_places("Belfast")
    assert belfast.label == "Belfast, Northern Ireland" and belfast.outcode is None
    assert [p.name for p in gazetteer.find_places("Hull")] == ["Kingston upon Hull"]
    assert gazetteer.find_places("nowhere at all") == []
    assert "Harrogate" in [p.name for p in gazetteer.suggest("harro", limit=3)]


def test_counts(gazetteer: Gazetteer) -> None:
    counts = gazetteer.counts()
    assert counts["areas"] == 21
    assert 300_000 < counts["postcodes"] < 600_000
    assert 5_800 < counts["places"] < 6_000  # every UK place, whatever areas were built


# ---- sharing between threads -------------------------------------------------------------


def test_lookups_from_many_threads_agree(gazetteer: Gazetteer) -> None:
    codes = [r[0] for r in gazetteer._db().execute("SELECT postcode FROM postcodes WHERE postcode LIKE 'LS%' LIMIT 3000")]
    expected = [gazetteer.postcode_point(c) for c in codes]
    connections: set[int] = set()
    lock = threading.Lock()

    def look_up(chunk: list[str]) -> list[tuple[float, float]]:
        with lock:
            connections.add(id(gazetteer._db()))
        return [gazetteer.postcode_point(c) for c in chunk]

    chunks = [codes[i::6] for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(look_up, chunks * 3))
    for chunk, result in zip(chunks * 3, results, strict=True):
        assert result == [expected[codes.index(c)] for c in chunk]
    assert len(connections) > 1  # each thread its own read-only connection


def test_the_file_is_opened_read_only(gazetteer: Gazetteer) -> None:
    with pytest.raises(sqlite3.OperationalError):
        gazetteer._db().execute("DELETE FROM postcodes")


# ---- opening ---------------------------------------------------------------------------


def test_a_missing_gazetteer_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(GazetteerMissing) as caught:
        open_gazetteer(tmp_path / "nothing.sqlite")
    assert "run `finder geo build`" in caught.value.detail


def test_a_broken_file_asks_for_a_rebuild(tmp_path: Path) -> None:
    broken = tmp_path / "gazetteer.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(GazetteerMissing, match="finder geo build"):
        open_gazetteer(broken)


# ---- building ------------------------------------------------------------------------------


def _contents(path: Path) -> dict[str, list[Any]]:
    connection = sqlite3.connect(path)
    try:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {
            t: connection.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in tables
            if t != "meta"
        } | {"meta": connection.execute("SELECT * FROM meta WHERE key != 'built_at' ORDER BY key").fetchall()}
    finally:
        connection.close()


def test_build_report_and_idempotent_rebuild(tmp_path: Path, few_places: None) -> None:
    path = tmp_path / "instance" / "gazetteer.sqlite"
    first = build_gazetteer(path, areas=["HG"])
    assert first.path == path and path.exists()
    assert first.areas_built == ["hg"]
    assert 3_000 < first.postcodes < 10_000
    assert first.areas == 1 and first.outcodes >= 5 and first.sectors > first.outcodes
    assert first.places == 3 and first.place_names >= 3
    assert first.size_bytes == path.stat().st_size
    assert first.seconds > 0
    assert "postcodes" in first.summary() and "MB" in first.summary()
    before = _contents(path)
    second = build_gazetteer(path, areas=["hg"])
    assert second.postcodes == first.postcodes
    assert _contents(path) == before
    with open_gazetteer(path) as built:
        assert built.built_areas == ["hg"]
        assert built.find_places("Knaresborough")[0].label == "Knaresborough, North Yorkshire"
    assert sorted(p.name for p in path.parent.iterdir()) == ["gazetteer.sqlite", "gazetteer.sqlite.sum"]  # no temporary files left


def test_a_failed_build_leaves_the_previous_gazetteer(tmp_path: Path, few_places: None, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gazetteer.sqlite"
    build_gazetteer(path, areas=["hg"])
    before = path.read_bytes()

    def fail(package: str) -> str:
        raise OSError("disk full (simulated, after the postcodes were written)")

    monkeypatch.setattr(gazetteer_module, "_version", fail)
    with pytest.raises(OSError, match="simulated"):
        build_gazetteer(path, areas=["hg", "ls"])
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["gazetteer.sqlite", "gazetteer.sqlite.sum"]
    with open_gazetteer(path) as still:
        assert still.postcode_point("HG1 1AA")


def test_an_open_gazetteer_notices_a_rebuild(tmp_path: Path, few_places: None) -> None:
    path = tmp_path / "gazetteer.sqlite"
    build_gazetteer(path, areas=["hg"])
    with open_gazetteer(path) as opened:
        assert opened.is_current()
        build_gazetteer(path, areas=["hg"])
        assert not opened.is_current()
        assert opened.postcode_point("HG1 1AA")  # still reads the file it opened


def test_unknown_areas_are_refused_with_the_list() -> None:
    with pytest.raises(InvalidValue, match="choose from: ab, al, b"):
        codepoint_files(["xx"])
    with pytest.raises(InvalidValue, match="Northern Ireland"):
        codepoint_files(["bt"])
    assert [p.name for p in codepoint_files(["LS", "hg", "ls"])] == ["hg.csv.gz", "ls.csv.gz"]
    assert len(codepoint_files()) == 120


def test_reading_a_codepoint_file() -> None:
    (path,) = codepoint_files(["hg"])
    postcodes, quality, easting, northing = read_codepoint_file(path)
    assert len(postcodes) == len(quality) == len(easting) == len(northing)
    assert all(" " in p for p in postcodes[:100])
    assert set(quality.tolist()) <= {10, 20, 30, 40, 50, 60, 90}
    assert 400_000 < int(easting.max()) < 500_000
