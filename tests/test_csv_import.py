"""The operator's CSV import: row/column messages, encodings, continuation rows."""

from __future__ import annotations

import pytest

from scrapers.csv_import import COLUMN_NAMES, parse_csv, read_csv
from scrapers.json_import import parse_json
from tests.helpers import IMPORT_TEMPLATE, csv_bytes, csv_row


def messages(data: bytes) -> list[str]:
    return [str(p) for item in parse_csv(data) for p in item.problems]


def test_the_template_file_parses_cleanly() -> None:
    [item] = list(read_csv(IMPORT_TEMPLATE))
    assert item.ok, item.problems
    assert item.record.is_sample


def test_problems_name_the_row_the_column_and_the_allowed_values() -> None:
    data = csv_bytes([csv_row(), csv_row(source_id="p-2", hcpc_number="PH9900002", specialisms="neurological;neuro")])
    [msg] = messages(data)
    assert msg.startswith("row 3, column specialisms: 'neuro' is not one of: neurological, musculoskeletal,")


@pytest.mark.parametrize(
    ("overrides", "column", "fragment"),
    [
        ({"postcode": "LS6 2AC", "lat": "", "lon": ""}, "postcode", "not a UK postcode"),
        ({"setting": "spa"}, "setting", "is not one of: hospital"),
        ({"funding": "free"}, "funding", "is not one of: nhs"),
        ({"referral_routes": "gp;self_referral:neuro"}, "referral_routes", "'neuro' is not one of"),
        ({"referral_routes": "gp;self_referral:!ms_typo"}, "referral_routes", "'ms_typo' is not one of: multiple_sclerosis"),
        ({"hcpc_number": "12345"}, "hcpc_number", "not an HCPC physiotherapist number"),
        ({"wheelchair_access": "maybe"}, "wheelchair_access", "is not yes or no"),
        ({"accepting_new_patients": "perhaps"}, "accepting_new_patients", "is not yes or no"),
        ({"home_visits_postcode": "LS6 2AB", "home_visits_radius_km": "-5"}, "home_visits_radius_km", "greater than 0"),
        ({"home_visits_postcode": "LS6 2AB", "home_visits_radius_km": "1000"}, "home_visits_radius_km", "less than or equal to 200"),
        ({"name": ""}, "name", "is required"),
        ({"website": "javascript:alert(1)"}, "website", "not a web address"),
        ({"registration_status": "registered"}, "registration_status", "needs the date it was checked"),
        ({"nhs_waiting_weeks": "soon"}, "nhs_waiting_weeks", "valid integer"),
    ],
)
def test_each_bad_cell_is_reported_against_its_column(overrides: dict, column: str, fragment: str) -> None:
    [msg] = messages(csv_bytes([csv_row(**overrides)]))
    assert msg.startswith(f"row 2, column {column}: "), msg
    assert fragment in msg


def test_unknown_and_missing_columns_are_refused_up_front() -> None:
    data = b"source_id,name,specialism\np1,Ada,neurological\n"
    [msg] = messages(data)
    assert "unknown column(s): 'specialism'" in msg and "the columns we know are: source_id" in msg
    [msg] = messages(b"name,setting\nAda,hospital\n")
    assert "missing required column(s): source_id" in msg


def test_a_utf8_bom_is_fine_and_latin1_is_refused_clearly() -> None:
    data = csv_bytes([csv_row(name="Zoë")])
    [item] = list(parse_csv(b"\xef\xbb\xbf" + data))
    assert item.ok and item.record.name == "Zoë"
    [item] = list(parse_csv(data.decode("utf-8").encode("latin-1")))
    assert item.row is None and "not UTF-8" in str(item.problems[0]) and "CSV UTF-8" in str(item.problems[0])


def test_ragged_rows_and_empty_files() -> None:
    data = csv_bytes([csv_row()]) + b"p-9,too,few\n"
    msgs = messages(data)
    assert msgs == [f"row 3: has 3 cells but the header has {len(COLUMN_NAMES)} columns"]
    assert "the file is empty" in messages(b"")[0]


def test_continuation_rows_add_locations_and_must_not_contradict() -> None:
    data = csv_bytes([csv_row(), {"source_id": "p-1", "setting": "online"}])
    [item] = list(parse_csv(data))
    assert item.ok and [loc.setting for loc in item.record.locations] == ["private_clinic", "online"]
    data = csv_bytes([csv_row(), {"source_id": "p-1", "name": "Someone Else", "setting": "online"}])
    [msg] = messages(data)
    assert msg.startswith("row 3, column name: this row continues source id 'p-1' from row 2")


def test_a_bad_location_on_a_continuation_row_points_at_that_row() -> None:
    data = csv_bytes([csv_row(), {"source_id": "p-1", "setting": "hospital", "postcode": "nowhere"}])
    [msg] = messages(data)
    assert msg.startswith("row 3, column postcode:")


def test_formula_cells_are_kept_as_text() -> None:
    [item] = list(parse_csv(csv_bytes([csv_row(practice_name='=HYPERLINK("http://evil","click")')])))
    assert item.ok and item.record.practice_name.startswith("=HYPERLINK")


def test_huge_fields_are_errors_not_crashes() -> None:
    [msg] = messages(csv_bytes([csv_row(bio="x" * 100_000)]))
    assert "column bio" in msg and "the most we keep" in msg
    [msg] = messages(csv_bytes([csv_row(bio="x" * 200_000)]))
    assert msg.startswith("row 2:") and "field larger than field limit" in msg


def test_json_import_accepts_records_and_reports_items() -> None:
    doc = b'[{"name": "Ada", "source_id": "j1", "locations": [{"setting": "online"}]}, {"name": "Bo", "source_id": "j2", "locations": [{"setting": "spa", "postcode": "LS6 2AB"}]}, 5]'
    parsed = list(parse_json(doc))
    assert parsed[0].ok and parsed[0].record.provenance.source_id == "j1"
    assert str(parsed[1].problems[0]).startswith("item 2, column locations.0.setting: 'spa' is not one of")
    assert "expected an object" in str(parsed[2].problems[0])
    [bad] = list(parse_json(b"{not json"))
    assert bad.row is None and "not valid JSON" in str(bad.problems[0])


def test_a_referral_route_can_rule_out_conditions_with_an_exclamation_mark() -> None:
    """Hazard H3: "self-referral, but not for MS" can be said in an import file (README import guide)."""
    data = csv_bytes([csv_row(referral_routes="self_referral:musculoskeletal+!multiple_sclerosis+!stroke;gp")])
    [item] = list(parse_csv(data))
    assert item.ok, item.problems
    first, second = item.record.referral_routes
    assert (first.route, first.only_for, first.not_for) == ("self_referral", ["musculoskeletal"], ["multiple_sclerosis", "stroke"])
    assert (second.route, second.only_for, second.not_for) == ("gp", [], [])


def test_the_template_shows_a_route_ruling_out_a_condition() -> None:
    [item] = list(read_csv(IMPORT_TEMPLATE))
    assert any(r.not_for for r in item.record.referral_routes)


def test_the_readme_column_guide_matches_the_importer() -> None:
    """The README's guide is generated by `finder ingest columns`; this keeps them in step."""
    from pathlib import Path

    from scrapers.csv_import import column_guide_markdown

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert column_guide_markdown() in readme, "regenerate the README column guide with `finder ingest columns`"


def test_the_template_has_every_column_in_order() -> None:
    import csv as _csv

    with open(IMPORT_TEMPLATE, encoding="utf-8", newline="") as handle:
        header = next(_csv.reader(handle))
    assert header == list(COLUMN_NAMES)


def test_row_numbers_count_spreadsheet_rows_after_a_multi_line_cell() -> None:
    """A cell with line breaks is still one row: the next row's number must not run ahead."""
    data = csv_bytes([
        csv_row(bio="Line one\nline two\nline three"),
        csv_row(source_id="p-2", hcpc_number="PH9900002", specialisms="neuro"),
    ])
    [msg] = messages(data)
    assert msg.startswith("row 3, column specialisms: "), msg
