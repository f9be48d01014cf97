"""NHS ODS GP practice file (epraccur): parse, load idempotently, look up, fetch politely."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import text

from finder.db import Store
from finder.errors import FetchFailed, NotFound, RobotsDisallowed, SourceFormatError
from finder.sites import display_case, load_gp_surgeries, require_surgery
from scrapers.nhs_ods import EPRACCUR_COLUMNS, ingest_epraccur, parse_epraccur
from tests.plugins.scrapers import allow_robots, fixture_bytes, fixture_path

ODS_HOST = "https://ods.example.nhs.uk"
ODS_URL = f"{ODS_HOST}/api/getReport?report=epraccur"


def surgery_rows(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return connection.execute(text("select * from gp_surgeries order by id")).all()


def runs(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return connection.execute(text("select source, status, added, updated, unchanged, withdrawn from ingest_runs order by id")).all()


def test_the_documented_layout_has_27_columns() -> None:
    assert len(EPRACCUR_COLUMNS) == 27
    assert EPRACCUR_COLUMNS[9] == "Postcode" and EPRACCUR_COLUMNS[12] == "Status Code"
    assert EPRACCUR_COLUMNS[17] == "Contact Telephone Number" and EPRACCUR_COLUMNS[25] == "Prescribing Setting"


def test_a_normal_file_parses_every_practice() -> None:
    parsed = parse_epraccur(fixture_bytes("ods", "epraccur.csv"))
    assert not parsed.problems
    by_code = {r.ods_code: r for r in parsed.rows}
    assert len(by_code) == 7
    first = by_code["Z99901"]
    assert first.name == "HEADINGLEY EXAMPLE SURGERY"
    assert first.address_lines == ("1 EXAMPLE LANE", "HEADINGLEY", "LEEDS", "WEST YORKSHIRE")
    assert (first.postcode, first.phone, first.status, first.open_date) == ("LS6 2AB", "0113 496 0001", "open", date(1974, 4, 1))
    assert first.is_gp_practice and first.commissioner_code == "15F"
    assert by_code["Z99903"].status == "closed" and by_code["Z99903"].close_date == date(2023, 12, 31)
    assert by_code["Z99904"].status == "dormant"
    assert by_code["Z99905"].status == "proposed"
    assert not by_code["Z99906"].is_gp_practice  # prescribing setting 1: walk-in centre


def test_the_data_search_and_export_variant_parses_too() -> None:
    parsed = parse_epraccur(fixture_bytes("ods", "epraccur_dse.csv"))
    by_code = {r.ods_code: r for r in parsed.rows}
    assert by_code["Z99901"].status == "open" and by_code["Z99901"].is_gp_practice
    assert by_code["Z99903"].status == "closed"
    assert not by_code["Z99906"].is_gp_practice  # role RO87, not RO76


def test_a_zip_download_is_unpacked(tmp_path: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("epraccur.pdf", b"%PDF-1.4 documentation")
        archive.writestr("epraccur.csv", fixture_bytes("ods", "epraccur.csv"))
    assert len(parse_epraccur(buffer.getvalue()).rows) == 7


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("epraccur_empty.csv", "is empty: expected the NHS ODS epraccur CSV"),
        ("epraccur_changed_shape.csv", "line 1 has 12 columns, expected 27"),
    ],
)
def test_an_empty_or_changed_file_is_a_clear_error_and_nothing_is_written(
    store: Store, gp_surgeries_loaded: Any, name: str, message: str
) -> None:
    before = (surgery_rows(store), runs(store))
    with pytest.raises(SourceFormatError, match=message):
        ingest_epraccur(store, str(fixture_path("ods", name)))
    assert (surgery_rows(store), runs(store)) == before


def test_a_web_page_instead_of_the_file_is_refused() -> None:
    with pytest.raises(SourceFormatError, match="looks like a web page"):
        parse_epraccur(b"<!DOCTYPE html><html><body>Sign in</body></html>")


def test_bad_rows_are_each_named_and_stop_the_load(store: Store, gp_surgeries_loaded: Any) -> None:
    before = (surgery_rows(store), runs(store))
    report = ingest_epraccur(store, str(fixture_path("ods", "epraccur_bad_rows.csv")))
    messages = [str(p) for p in report.problems]
    assert any(m.startswith("line 2, column Status Code: 'X' is not one of") for m in messages)
    assert any(m.startswith("line 3, column Open Date: '01/01/1980' is not a date") for m in messages)
    # Line 4's postcode 'LS6 2AC' breaks the Royal Mail format, but ODS is the register of record: kept, not a problem.
    assert not any("LS6 2AC" in m for m in messages)
    assert any(m.startswith("line 5: has 20 columns, expected 27") for m in messages)
    assert any(m.startswith("line 6, column Organisation Code: Z99901 is already on line 1") for m in messages)
    assert not report.written and "nothing was written" in report.summary()
    assert (surgery_rows(store), runs(store)) == before


def test_partial_loads_the_good_rows_and_keeps_the_rest(store: Store, gp_surgeries_loaded: Any) -> None:
    report = ingest_epraccur(store, str(fixture_path("ods", "epraccur_bad_rows.csv")), partial=True)
    assert report.written and report.rejected == 4 and report.unchanged == 1
    # Practices on rejected lines are not marked as gone (Z99902, Z99903, Z99905 are on bad lines);
    # only a code the file does not mention at all is.
    assert report.withdrawn == 1
    assert store.gp_surgery("Z99907").removed_from_source_at is not None
    for code in ("Z99902", "Z99903", "Z99904", "Z99905"):
        assert store.gp_surgery(code).removed_from_source_at is None, code
    # Z99904's new postcode is kept as published, without coordinates, and counted.
    assert report.updated == 1 and report.postcode_kept == 1
    kept = store.gp_surgery("Z99904")
    assert (kept.postcode, kept.lat, kept.lon) == ("LS6 2AC", None, None)
    assert "kept as published" in report.summary()


def test_problems_on_rows_that_are_not_gp_practices_never_stop_the_load(store: Store, tmp_path: Any) -> None:
    lines = fixture_bytes("ods", "epraccur.csv").decode("utf-8").splitlines()
    # A public health service (setting 8) with a bad status and date: out of scope, so skipped, not rejected.
    lines.append('"Y99908","EXAMPLE PUBLIC HEALTH SERVICE","Y63","QWO","1 ROAD","","","LEEDS","","LS6 2AB","1/1/2000","","Q","B","15F","","","","","","","0","","15F","","8",""')
    path = tmp_path / "epraccur.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_epraccur(store, str(path))
    assert report.written and (report.added, report.rejected, report.skipped, report.skipped_with_problems) == (6, 0, 2, 1)
    strict = ingest_epraccur(store, str(path), include_all_settings=True)
    assert not strict.written and strict.rejected == 1
    assert any(str(p).startswith("line 8, column Status Code") for p in strict.problems)


def test_switching_to_the_data_search_and_export_layout_changes_nothing(
    store: Store, gp_surgeries_loaded: Any, fake_geocode: Any
) -> None:
    before = surgery_rows(store)
    # The export holds Z99901-Z99903 (GP practices) and the walk-in centre; it is an extract, so keep the rest.
    report = ingest_epraccur(store, str(fixture_path("ods", "epraccur_dse.csv")), geocode=fake_geocode, complete=False)
    # A vs ACTIVE, C vs INACTIVE and 4 vs RO76 say the same thing: nothing that did not change is "updated".
    assert (report.added, report.updated, report.unchanged, report.withdrawn) == (0, 0, 3, 0), report.summary()
    assert surgery_rows(store) == before


def test_load_then_look_up(store: Store, gp_surgeries_loaded: Any) -> None:
    report = gp_surgeries_loaded
    assert (report.read, report.added, report.skipped, report.rejected) == (7, 6, 1, 0)
    assert report.not_geocoded == 1  # IV99 9ZZ is not in the fixture gazetteer
    found = store.gp_surgeries(["z99901", " Z99903 ", "NOPE!!", "Z99906", "Z99999"])
    assert set(found) == {"Z99901", "Z99903"}  # the walk-in centre was not loaded
    surgery = found["Z99901"]
    assert surgery.display_name == "Headingley Example Surgery"
    assert surgery.address == "1 Example Lane, Headingley, Leeds, West Yorkshire, LS6 2AB"
    assert (surgery.lat, surgery.lon) == (53.8195, -1.5762)
    assert surgery.is_open and surgery.status_label == "Open" and surgery.prescribing_setting_label == "GP practice"
    closed = found["Z99903"]
    assert not closed.is_open and closed.status_label == "Closed" and closed.close_date == date(2023, 12, 31)
    assert store.gp_surgery("Z99904").status_label.startswith("Dormant")
    assert store.gp_surgery("Z99905").status == "proposed"
    assert store.gp_surgery("Z99907").lat is None
    assert store.gp_surgery("z99901").as_json()["name"] == "Headingley Example Surgery"
    with pytest.raises(NotFound, match="no GP surgery with ODS code Z99999"):
        require_surgery(store, "z99999")


def test_a_second_run_over_the_same_file_changes_nothing(store: Store, gp_surgeries_loaded: Any, fake_geocode: Any) -> None:
    before = surgery_rows(store)
    again = ingest_epraccur(store, str(fixture_path("ods", "epraccur.csv")), geocode=fake_geocode)
    assert (again.added, again.updated, again.unchanged, again.withdrawn) == (0, 0, 6, 0)
    assert surgery_rows(store) == before
    assert runs(store)[-1] == ("ods", "completed", 0, 0, 6, 0)


def test_next_months_file_updates_closes_moves_and_marks_the_missing(
    store: Store, gp_surgeries_loaded: Any, fake_geocode: Any
) -> None:
    report = ingest_epraccur(store, str(fixture_path("ods", "epraccur_next_month.csv")), geocode=fake_geocode)
    assert (report.added, report.updated, report.unchanged, report.withdrawn) == (1, 3, 2, 1)
    assert store.gp_surgery("Z99901").phone == "0113 496 0100"
    closed = store.gp_surgery("Z99902")
    assert closed.status == "closed" and closed.close_date == date(2026, 10, 31) and not closed.is_open
    moved = store.gp_surgery("Z99904")
    assert moved.postcode == "LS2 7AA" and (moved.lat, moved.lon) == (53.8040, -1.5530)
    gone = store.gp_surgery("Z99907")  # kept, marked: never deleted
    assert gone is not None and gone.removed_from_source_at is not None and not gone.as_json()["listed_by_ods"]
    assert store.gp_surgery("Z99908").name == "NORTHERN EXAMPLE HEALTH CENTRE"


def test_coordinates_are_kept_when_a_run_does_not_geocode(store: Store, gp_surgeries_loaded: Any) -> None:
    report = ingest_epraccur(store, str(fixture_path("ods", "epraccur.csv")), geocode=None)
    assert report.updated == 0
    assert store.gp_surgery("Z99901").lat == 53.8195


def test_all_settings_loads_walk_in_centres_too(store: Store) -> None:
    parsed = parse_epraccur(fixture_bytes("ods", "epraccur.csv"))
    report = load_gp_surgeries(store, parsed, include_all_settings=True)
    assert report.added == 7 and store.gp_surgery("Z99906").prescribing_setting_label == "Walk-in centre"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("ST. MARY'S FICTIONAL MEDICAL PRACTICE", "St. Mary's Fictional Medical Practice"),
        ("O'BRIEN AND PARTNERS", "O'Brien and Partners"),
        ("NHS WALK-IN CENTRE", "NHS Walk-In Centre"),
        ("UNIT 4B", "Unit 4B"),
        ("Already Mixed Case", "Already Mixed Case"),
    ],
)
def test_upper_case_names_are_shown_readably(raw: str, shown: str) -> None:
    assert display_case(raw) == shown


# ---- fetching the file from the ODS site -------------------------------------------


def _serve_file(mock: Any, *bodies: Any) -> None:
    allow_robots(mock, ODS_HOST)
    for body in bodies:
        if isinstance(body, dict):
            mock.add(responses.GET, ODS_URL, **body)
        else:
            mock.add(responses.GET, ODS_URL, body=body, content_type="text/csv")


def test_fetching_the_file_by_address(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    _serve_file(http_mock, fixture_bytes("ods", "epraccur_dse.csv"))
    report = ingest_epraccur(store, ODS_URL, session=make_session(), geocode=fake_geocode)
    assert report.added == 3 and report.skipped == 1


def test_fetching_with_429_then_success(store: Store, http_mock: Any, make_session: Any, fake_clock: Any) -> None:
    _serve_file(http_mock, {"status": 429, "headers": {"Retry-After": "12"}}, fixture_bytes("ods", "epraccur.csv"))
    report = ingest_epraccur(store, ODS_URL, session=make_session())
    assert report.added == 6 and 12 in fake_clock.sleeps


def test_fetching_with_500_then_success(store: Store, http_mock: Any, make_session: Any) -> None:
    _serve_file(http_mock, {"status": 500}, fixture_bytes("ods", "epraccur.csv"))
    assert ingest_epraccur(store, ODS_URL, session=make_session()).added == 6


def test_a_timeout_that_persists_writes_nothing(store: Store, gp_surgeries_loaded: Any, http_mock: Any, make_session: Any) -> None:
    before = (surgery_rows(store), runs(store))
    _serve_file(http_mock, {"body": requests.exceptions.ReadTimeout("slow")})
    with pytest.raises(FetchFailed, match="no answer within"):
        ingest_epraccur(store, ODS_URL, session=make_session(max_retries=2))
    assert (surgery_rows(store), runs(store)) == before


def test_robots_txt_disallowing_the_report_is_respected(store: Store, http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, ODS_HOST, body="User-agent: *\nDisallow: /api/\n")
    with pytest.raises(RobotsDisallowed, match="does not allow crawlers to fetch /api/getReport"):
        ingest_epraccur(store, ODS_URL, session=make_session())
    assert surgery_rows(store) == []


def test_an_html_error_page_with_status_200_is_refused(store: Store, http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, ODS_HOST)
    http_mock.add(responses.GET, ODS_URL, body="<html><body>Service unavailable</body></html>", content_type="text/html")
    with pytest.raises(SourceFormatError, match="returned text/html, expected csv"):
        ingest_epraccur(store, ODS_URL, session=make_session())
    assert surgery_rows(store) == []


# ---- the command ---------------------------------------------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "HTTP_CONTACT": "tests@example.org", "HTTP_RATE_LIMIT_PER_SECOND": 1000, "ODS_EPRACCUR_URL": ODS_URL}


def test_the_command_loads_a_file_and_reports_a_rerun_as_unchanged(runner: Any, app: Any) -> None:
    runner.invoke(["init-db"])
    path = str(fixture_path("ods", "epraccur.csv"))
    first = runner.invoke(["ingest", "ods", path, "--no-geocode"])
    assert first.exit_code == 0, first.output
    assert "read 7, added 6, updated 0, unchanged 0, no longer listed 0, rejected 0, skipped 1 that are not GP practices" in first.output
    again = runner.invoke(["ingest", "ods", path, "--no-geocode"])
    assert "added 0, updated 0, unchanged 6" in again.output
    assert app.extensions["finder.store"].gp_surgery("Z99903").status == "closed"


def test_the_command_refuses_bad_rows_with_exit_1(runner: Any) -> None:
    runner.invoke(["init-db"])
    result = runner.invoke(["ingest", "ods", str(fixture_path("ods", "epraccur_bad_rows.csv")), "--no-geocode"])
    assert result.exit_code == 1
    assert "line 2, column Status Code: 'X' is not one of" in result.output
    assert "nothing was written" in result.output


def test_the_command_fetches_the_configured_report(runner: Any, http_mock: Any) -> None:
    runner.invoke(["init-db"])
    _serve_file(http_mock, fixture_bytes("ods", "epraccur_dse.csv"))
    result = runner.invoke(["ingest", "ods", "--no-geocode"])
    assert result.exit_code == 0, result.output
    assert "added 3" in result.output


def test_the_command_explains_a_missing_gazetteer(runner: Any) -> None:
    runner.invoke(["init-db"])
    result = runner.invoke(["ingest", "ods", str(fixture_path("ods", "epraccur.csv"))])
    assert result.exit_code == 1 and "--no-geocode" in result.output and "Traceback" not in result.output
