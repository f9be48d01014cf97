"""`finder init-db`, `finder ingest csv|json`, `finder stats` as an operator runs them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from finder.db import Store
from finder.models import Base
from tests.helpers import IMPORT_TEMPLATE, csv_bytes, csv_row


def db_bytes(app: Any) -> dict[str, list]:
    store: Store = app.extensions["finder.store"]
    from sqlalchemy import text

    with store.engine.connect() as connection:
        return {
            t: connection.execute(text(f"select * from {t} order by id")).all()
            for t in ("practitioners", "practitioner_locations", "source_records", "ingest_runs")
        }


def test_init_db_is_idempotent_and_matches_the_models(runner: Any, app: Any) -> None:
    first = runner.invoke(["init-db"])
    assert first.exit_code == 0, first.output
    store: Store = app.extensions["finder.store"]
    head = store.head_revision()
    assert f"(schema {head})." in first.output and store.revision() == head
    again = runner.invoke(["init-db"])
    assert again.exit_code == 0 and f"(schema {head})." in again.output
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], "models and migrations disagree: add an Alembic revision"


def test_commands_explain_a_missing_schema(runner: Any) -> None:
    result = runner.invoke(["stats"])
    assert result.exit_code == 1
    assert "run `finder init-db` first" in result.output


def test_template_round_trip_then_unchanged(runner: Any, tmp_path: Path) -> None:
    runner.invoke(["init-db"])
    first = runner.invoke(["ingest", "csv", str(IMPORT_TEMPLATE), "--no-geocode"])
    assert first.exit_code == 0, first.output
    assert "added 1" in first.output
    again = runner.invoke(["ingest", "csv", str(IMPORT_TEMPLATE), "--no-geocode"])
    assert "read 1, added 0, updated 0, unchanged 1" in again.output
    stats = json.loads(runner.invoke(["stats", "--json"]).output)
    assert stats["total"] == 1 and stats["specialism"] == {"neurological": 1}


def test_a_bad_file_is_refused_row_by_row_and_the_store_is_untouched(runner: Any, app: Any, tmp_path: Path) -> None:
    runner.invoke(["init-db"])
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([csv_row()]))
    assert runner.invoke(["ingest", "csv", str(good), "--no-geocode"]).exit_code == 0
    before = db_bytes(app)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_bytes(
            [
                csv_row(name="Changed Name"),
                csv_row(source_id="p-2", hcpc_number="PH9900002", specialisms="neuro"),
                csv_row(source_id="p-3", hcpc_number="PH9900003", postcode="LS6 2AC", lat="", lon=""),
            ]
        )
    )
    result = runner.invoke(["ingest", "csv", str(bad), "--no-geocode"])
    assert result.exit_code == 1
    assert "row 3, column specialisms: 'neuro' is not one of" in result.output
    assert "row 4, column postcode:" in result.output
    assert "nothing was written" in result.output
    assert db_bytes(app) == before


def test_partial_mode_writes_good_rows_and_a_formula_safe_rejects_file(runner: Any, tmp_path: Path) -> None:
    runner.invoke(["init-db"])
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        csv_bytes([csv_row(), csv_row(source_id="p-2", hcpc_number="PH9900002", specialisms="neuro", name="=cmd|' /C calc'!A0")])
    )
    result = runner.invoke(["ingest", "csv", str(path), "--partial", "--no-geocode"])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.output and "rejected 1" in result.output
    rejects = path.with_suffix(".rejects.csv")
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["row"] == "3"
    assert "'neuro' is not one of" in rows[0]["problems"]
    assert rows[0]["name"].startswith("'=")


def test_json_ingest(runner: Any, tmp_path: Path) -> None:
    runner.invoke(["init-db"])
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"practitioners": [{"name": "Zoë", "source_id": "z1", "locations": [{"setting": "online"}]}]}))
    result = runner.invoke(["ingest", "json", str(path), "--no-geocode"])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.output


def test_help_shows_an_example(runner: Any) -> None:
    for command in (["init-db"], ["ingest", "csv"], ["ingest", "json"], ["stats"]):
        result = runner.invoke([*command, "--help"])
        assert "Example:" in result.output, command


def test_ingest_keeps_an_existing_index_up_to_date(runner: Any, app: Any, tmp_path: Path) -> None:
    from finder.search import SearchQuery, query

    runner.invoke(["init-db"])
    first = tmp_path / "first.csv"
    first.write_bytes(csv_bytes([csv_row(name="Ada Firstlisting")]))
    result = runner.invoke(["ingest", "csv", str(first), "--no-geocode"])
    assert "run `finder index build`" in result.output
    assert runner.invoke(["index", "build"]).exit_code == 0

    second = tmp_path / "second.csv"
    second.write_bytes(csv_bytes([csv_row(source_id="p-2", hcpc_number="PH9900002", name="Bea Secondlisting")]))
    result = runner.invoke(["ingest", "csv", str(second), "--no-geocode"])
    assert result.exit_code == 0, result.output
    assert "Updated index: added 1" in result.output
    with app.app_context():
        assert query(SearchQuery(text="Secondlisting")).total == 1
    again = runner.invoke(["ingest", "csv", str(second), "--no-geocode"])
    assert "Updated index" not in again.output and "unchanged 1" in again.output


def test_json_rejects_file_guards_header_cells_from_json_keys(runner: Any, tmp_path: Path) -> None:
    """A JSON key becomes a column name in the rejects file: a formula there is neutralised like a cell."""
    runner.invoke(["init-db"])
    path = tmp_path / "bad.json"
    evil_key = '=HYPERLINK("http://evil.example","click")'
    path.write_text(json.dumps({"practitioners": [
        {"name": "Zoë", "source_id": "z1", "locations": [{"setting": "online"}]},
        {"name": "Yan", "source_id": "z2", "specialisms": ["neuro"], evil_key: "x", "locations": [{"setting": "online"}]},
    ]}))
    rejects = tmp_path / "bad.rejects.csv"
    result = runner.invoke(["ingest", "json", str(path), "--partial", "--no-geocode", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    with rejects.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:2] == ["row", "problems"]
    assert "'" + evil_key in header
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header)
