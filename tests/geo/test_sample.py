"""The fictional sample: deterministic, plainly fictional, a realistic mix, and importable."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

import pytest

from finder.errors import GazetteerMissing, InvalidValue
from finder.geo.distance import distance_km
from finder.geo.gazetteer import Gazetteer
from finder.records import REFERRAL_ROUTES, REGISTRATION_STATUSES, SETTINGS, Record
from finder.sample import (
    FICTIONAL_NOTE,
    csv_rows,
    generate_records,
    generate_sample_csv,
    hcpc_number,
    write_csv,
)
from scrapers.csv_import import COLUMN_NAMES, parse_csv

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "data" / "sample" / "practitioners.csv"

# Ofcom's ranges for drama: no real line has these numbers.
DRAMA_PHONE = re.compile(
    r"^(0113 496 0|0114 496 0|0115 496 0|0116 496 0|0117 496 0|0118 496 0|0121 496 0|0131 496 0|0141 496 0"
    r"|0151 496 0|0161 496 0|0191 498 0|029 2018 0|020 7946 0|01632 960|07700 900)\d{3}$"
)


@pytest.fixture(scope="module")
def mix(gazetteer: Gazetteer) -> list[Record]:
    return list(generate_records(2000, 11, gazetteer=gazetteer))


def _dump(records: list[Record]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in records]


def test_same_seed_same_records(gazetteer: Gazetteer, sample_records: list[Record]) -> None:
    again = list(generate_records(300, 7, gazetteer=gazetteer))
    assert _dump(again) == _dump(sample_records)
    other = list(generate_records(300, 8, gazetteer=gazetteer))
    assert _dump(other) != _dump(sample_records)
    assert _dump(list(generate_records(50, 7, gazetteer=gazetteer))) == _dump(sample_records[:50])


def test_every_record_is_valid_and_plainly_fictional(mix: list[Record]) -> None:
    numbers = [r.registration.number for r in mix if r.registration.number]
    assert len(numbers) == len(set(numbers))
    assert all(re.fullmatch(r"PH99\d{5}", n) for n in numbers)  # 7 digits: no real registrant has one
    source_ids = [r.provenance.source_id for r in mix]
    assert len(source_ids) == len(set(source_ids))
    for record in mix:
        assert Record.model_validate(record.model_dump()) == record
        assert record.is_sample
        assert record.bio and record.bio.startswith(FICTIONAL_NOTE)
        for address in (record.email, record.referral_email):
            assert address is None or address.endswith(".example")
        for url in (record.website, record.booking_url):
            assert url is None or re.match(r"^https://[a-z0-9-]+\.example/", url)
        phones = [record.phone, record.referral_phone] + [loc.phone for loc in record.locations]
        assert all(DRAMA_PHONE.match(p) for p in phones if p), phones


def test_hcpc_numbers_stay_in_fake_ranges() -> None:
    assert hcpc_number(0) == "PH9900000"
    assert hcpc_number(99_999) == "PH9999999"
    assert hcpc_number(100_000) == "PH9800000"
    assert hcpc_number(299_999) == "PH9799999"


def test_a_realistic_mix(mix: list[Record]) -> None:
    n = len(mix)
    neurological = [r for r in mix if "neurological" in r.specialisms]
    with_ms = [r for r in neurological if "multiple_sclerosis" in r.conditions]
    assert 0.15 <= len(neurological) / n <= 0.20
    assert 0.4 <= len(with_ms) / len(neurological) <= 0.8
    assert sum("acpin" in r.memberships for r in neurological) > len(neurological) / 3

    statuses = collections.Counter(r.registration.status for r in mix)
    assert set(statuses) == set(REGISTRATION_STATUSES)  # every badge the site shows
    assert statuses["registered"] / n > 0.75
    for record in mix:
        if record.registration.status == "unchecked":
            assert record.registration.checked_on is None
        else:
            assert record.registration.checked_on is not None

    assert {s for r in mix for s in r.settings} == set(SETTINGS)
    assert {f for r in mix for f in r.funding} >= {"nhs", "private", "charity", "insurance", "occupational_health"}
    assert {route for r in mix for route in r.route_codes} == set(REFERRAL_ROUTES)
    treatments = collections.Counter(t for r in mix for t in r.treatments)
    for treatment in ("hydrotherapy", "acupuncture", "tens", "fes"):
        assert treatments[treatment] >= 10, treatment

    visiting = [r for r in mix if r.home_visits is not None]
    assert 0.1 <= len(visiting) / n <= 0.35
    assert all(5 <= r.home_visits.coverage_radius_km <= 30 for r in visiting if r.home_visits)
    assert any(not r.locations for r in visiting)  # some only visit people at home

    nhs = [r for r in mix if "nhs" in r.funding]
    assert all(r.nhs_waiting_weeks is not None and r.fee_initial_gbp is None for r in nhs)
    msk_only = [r for r in nhs if any(x.route == "self_referral" and x.only_for == ["musculoskeletal"] for x in r.referral_routes)]
    assert len(msk_only) > 0.1 * len(nhs)
    for record in msk_only:
        assert "self_referral" not in record.routes_for("neurological")
        assert "self_referral" in record.routes_for("musculoskeletal")
    private = [r for r in mix if r.funding[:1] == ["private"]]
    assert all(r.fee_initial_gbp is not None and 40 <= r.fee_initial_gbp <= 120 for r in private)

    genders = collections.Counter(r.gender for r in mix)
    assert genders["female"] > genders["male"] > 0
    assert sum(len(r.languages) > 1 for r in mix) > 0.08 * n
    assert sum(len(r.locations) > 1 for r in mix) > 0.05 * n


def test_more_practitioners_where_more_people_live(mix: list[Record]) -> None:
    def postcode(record: Record) -> str:
        return record.locations[0].postcode if record.locations and record.locations[0].postcode else record.home_visits.base_postcode  # type: ignore[union-attr]

    areas = collections.Counter(re.match(r"[A-Z]+", postcode(r)).group(0) for r in mix)  # type: ignore[union-attr]
    assert areas["B"] > 2 * areas["HG"]  # Birmingham's area against Harrogate's
    assert areas["M"] > areas["LL"]


def test_leeds_ls6_has_neurological_physios_with_ms_experience(mix: list[Record]) -> None:
    headingley = (53.8195, -1.5762)
    found = []
    for record in mix:
        points = [(loc.lat, loc.lon) for loc in record.locations if loc.lat is not None]
        if record.home_visits and record.home_visits.lat is not None:
            points.append((record.home_visits.lat, record.home_visits.lon))
        near = any(distance_km(lat, lon, *headingley) < 5 for lat, lon in points)  # type: ignore[arg-type]
        if near and "neurological" in record.specialisms and "multiple_sclerosis" in record.conditions:
            found.append(record)
    assert len(found) >= 5
    assert any(r.home_visits is not None for r in found)
    assert sum(r.registration.status == "registered" for r in found) >= 4


def test_locations_are_real_postcodes_with_their_coordinates(gazetteer: Gazetteer, sample_records: list[Record]) -> None:
    for record in sample_records[:100]:
        for location in record.locations:
            if location.postcode:
                assert (location.lat, location.lon) == pytest.approx(gazetteer.postcode_point(location.postcode))
        if record.home_visits:
            home = record.home_visits
            assert (home.lat, home.lon) == pytest.approx(gazetteer.postcode_point(home.base_postcode))


def test_bad_counts_and_seeds_are_refused(gazetteer: Gazetteer) -> None:
    with pytest.raises(InvalidValue, match="count must be a whole number"):
        list(generate_records(-1, 1, gazetteer=gazetteer))
    with pytest.raises(InvalidValue, match="count must be a whole number"):
        list(generate_records("10", 1, gazetteer=gazetteer))  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="seed must be a whole number"):
        list(generate_records(10, 1.5, gazetteer=gazetteer))  # type: ignore[arg-type]
    assert list(generate_records(0, 1, gazetteer=gazetteer)) == []


def test_without_a_gazetteer_it_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDER_GAZETTEER_PATH", str(tmp_path / "none.sqlite"))
    with pytest.raises(GazetteerMissing, match="finder geo build"):
        list(generate_records(5, 1))


# ---- the CSV ---------------------------------------------------------------------------------


def test_csv_rows_cover_every_column(sample_records: list[Record]) -> None:
    record = next(r for r in sample_records if len(r.locations) > 1)
    first, *more = csv_rows(record)
    assert set(first) == set(COLUMN_NAMES)
    assert more
    for row in more:
        # continuation rows: the same source id, location columns only
        assert row["source_id"] == first["source_id"]
        assert "name" not in row and row["setting"]
        assert set(row) <= set(COLUMN_NAMES)


def test_written_csv_reads_back_as_the_same_records(tmp_path: Path, sample_records: list[Record]) -> None:
    path = tmp_path / "sample.csv"
    assert write_csv(sample_records, path) == len(sample_records)
    items = list(parse_csv(path.read_bytes(), source="sample"))
    assert all(item.ok for item in items), [str(p) for i in items for p in i.problems][:5]

    def comparable(record: Record) -> dict[str, Any]:
        data = record.model_dump(mode="json")
        if data["home_visits"]:
            # the CSV has no home-visit coordinates: they come from the postcode at import
            data["home_visits"].update(lat=None, lon=None)
        return data

    assert [comparable(i.record) for i in items if i.record] == [comparable(r) for r in sample_records]
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_command_writes_the_same_file_each_time(runner: Any, tmp_path: Path, gazetteer_path: Path) -> None:
    out = tmp_path / "out" / "sample.csv"
    args = ["sample", "generate", "--count", "40", "--seed", "3", "--out", str(out), "--gazetteer", str(gazetteer_path)]
    first = runner.invoke(args)
    assert first.exit_code == 0, first.output
    assert "Wrote 40 fictional sample practitioners" in first.output
    content = out.read_bytes()
    assert runner.invoke(args).exit_code == 0
    assert out.read_bytes() == content
    bad = runner.invoke(["sample", "generate", "--count", "-5", "--out", str(out)])
    assert bad.exit_code == 2 and "-5" in bad.output
    report = generate_sample_csv(40, 3, tmp_path / "again.csv", gazetteer=gazetteer_path)
    assert (tmp_path / "again.csv").read_bytes() == content and report.records == 40


def test_the_committed_sample_imports_cleanly(tmp_path: Path) -> None:
    """data/sample/practitioners.csv imports with no gazetteer at all (the slow test also geocodes it)."""
    from finder import create_app
    from finder.cli import main

    assert COMMITTED.exists(), "generate it: finder sample generate --count 2000 --seed 1 --out data/sample/practitioners.csv"
    instance = tmp_path / "instance"
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "SECRET_KEY": "t", "RATELIMIT_ENABLED": False})
    assert not Path(app.config["GAZETTEER_PATH"]).exists()
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    result = runner.invoke(main, ["ingest", "csv", str(COMMITTED), "--no-geocode", "--source", "sample"])
    assert result.exit_code == 0, result.output
    assert "read 2000, added 2000, updated 0, unchanged 0, withdrawn 0, rejected 0" in result.output
    stats = json.loads(runner.invoke(main, ["stats", "--json"]).output)
    assert stats["total"] == stats["sample"] == 2000
    again = runner.invoke(main, ["ingest", "csv", str(COMMITTED), "--no-geocode", "--source", "sample"])
    assert "added 0, updated 0, unchanged 2000" in again.output
    rows = list(parse_csv(COMMITTED.read_bytes(), source="sample"))
    assert all(item.record and item.record.is_sample for item in rows)
    assert all(loc.lat is not None for item in rows if item.record for loc in item.record.locations if loc.postcode)
