"""Geocoding at import: postcodes without coordinates get them from the gazetteer; unknown ones are row errors."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest

from finder.db import Store
from finder.geo.gazetteer import Gazetteer
from finder.ingest import ingest
from tests.helpers import csv_bytes, csv_row, items, make_record


def _wgs84(easting: int, northing: int) -> tuple[float, float]:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(easting, northing)
    return lat, lon


#: An independent oracle: the grid references OS Code-Point Open publishes for these
#: postcodes (rows "LS6 2AB,10,428256,436300" and "LS6 3HN,10,427846,436089"),
#: converted to WGS84 here, not through the gazetteer.
CODE_POINT = {"LS6 2AB": _wgs84(428256, 436300), "LS6 3HN": _wgs84(427846, 436089)}


def _unplaced(source_id: str, postcode: str, **overrides: Any) -> Any:
    return make_record(
        provenance={"source": "csv", "source_id": source_id},
        registration={"number": f"PH99{zlib.crc32(source_id.encode()) % 100000:05d}"},
        locations=[{"setting": "private_clinic", "postcode": postcode}],
        **overrides,
    )


def test_locations_and_home_visits_get_coordinates(store: Store, gazetteer: Gazetteer) -> None:
    record = _unplaced("a", "LS6 2AB", home_visits={"base_postcode": "LS6 3HN", "coverage_radius_km": 10})
    report = ingest(store, items(record), source="csv", geocode=gazetteer.postcode_point)
    assert report.written and report.added == 1, report.problems
    (stored,) = store.get_many(report.changed_ids)
    location = stored.record.locations[0]
    assert (location.lat, location.lon) == pytest.approx(CODE_POINT["LS6 2AB"], abs=1e-5)  # within about a metre
    home = stored.record.home_visits
    assert home is not None and (home.lat, home.lon) == pytest.approx(CODE_POINT["LS6 3HN"], abs=1e-5)


def test_given_coordinates_are_kept(store: Store, gazetteer: Gazetteer) -> None:
    record = make_record(locations=[{"setting": "private_clinic", "postcode": "LS6 2AB", "lat": 53.9, "lon": -1.6}])
    report = ingest(store, items(record), source="csv", geocode=gazetteer.postcode_point)
    (stored,) = store.get_many(report.changed_ids)
    assert (stored.record.locations[0].lat, stored.record.locations[0].lon) == (53.9, -1.6)


@pytest.mark.parametrize(
    ("postcode", "says"),
    [
        ("LS99 9ZZ", "LS99 9ZZ is a valid format but not a known postcode"),
        ("BT1 1AA", "Northern Ireland postcode"),
    ],
)
def test_an_unplaceable_postcode_is_a_row_error_not_zero_zero(
    store: Store, gazetteer: Gazetteer, postcode: str, says: str
) -> None:
    good = _unplaced("good", "LS6 2AB")
    bad = _unplaced("bad", postcode)
    report = ingest(store, items(good, bad), source="csv", geocode=gazetteer.postcode_point)
    assert not report.written and report.rejected == 1
    (problem,) = report.problems
    assert problem.row == 3 and problem.column == "postcode"
    assert says in problem.message
    assert store.count() == 0  # all-or-nothing: the good row waits for the fix

    partial = ingest(store, items(good, bad), source="csv", geocode=gazetteer.postcode_point, partial=True)
    assert partial.written and partial.added == 1 and partial.rejected == 1
    (stored,) = store.get_many(partial.changed_ids)
    assert stored.record.locations[0].lat not in (None, 0.0)


def test_the_ingest_command_geocodes_with_the_configured_gazetteer(runner: Any, tmp_path: Path, gazetteer_path: Path, app: Any) -> None:
    assert app.config["GAZETTEER_PATH"] == str(gazetteer_path)
    runner.invoke(["init-db"])
    path = tmp_path / "clinics.csv"
    path.write_bytes(csv_bytes([csv_row(lat="", lon="", postcode="ls6 2ab", home_visits_postcode="LS6 3HN", home_visits_radius_km="12")]))
    result = runner.invoke(["ingest", "csv", str(path)])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.output
    (stored,) = app.extensions["finder.store"].get_many([1])
    assert stored.record.locations[0].postcode == "LS6 2AB"
    assert stored.record.locations[0].lat == pytest.approx(53.82221, abs=1e-4)
    assert stored.record.home_visits.lat is not None

    unknown = tmp_path / "unknown.csv"
    unknown.write_bytes(csv_bytes([csv_row(source_id="p-2", hcpc_number="PH9900002", lat="", lon="", postcode="LS99 9ZZ")]))
    failed = runner.invoke(["ingest", "csv", str(unknown)])
    assert failed.exit_code == 1
    assert "row 2, column postcode: LS99 9ZZ is a valid format but not a known postcode" in failed.output
    assert "Traceback" not in failed.output


def test_an_unknown_home_visit_base_names_its_column(store: Store, gazetteer: Gazetteer) -> None:
    record = _unplaced("hv", "LS6 2AB", home_visits={"base_postcode": "LS99 9ZZ", "coverage_radius_km": 10})
    report = ingest(store, items(record), source="csv", geocode=gazetteer.postcode_point)
    assert not report.written and store.count() == 0
    (problem,) = report.problems
    assert (problem.row, problem.column) == (2, "home_visits_postcode")
    assert "LS99 9ZZ is a valid format but not a known postcode" in problem.message


def test_an_unknown_postcode_on_a_continuation_row_names_that_row(sqlite_store: Store, gazetteer: Gazetteer) -> None:
    from scrapers.csv_import import parse_csv

    data = csv_bytes([csv_row(lat="", lon=""), {"source_id": "p-1", "setting": "community_clinic", "postcode": "LS99 9ZZ"}])
    report = ingest(sqlite_store, list(parse_csv(data)), source="csv", geocode=gazetteer.postcode_point)
    assert not report.written
    (problem,) = report.problems
    assert (problem.row, problem.column) == (3, "postcode")
    assert "LS99 9ZZ" in problem.message
