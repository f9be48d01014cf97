"""`finder ingest ods` on the complete real NHS ODS epraccur file of February 2023.

What the file holds (counted by hand with the csv module): 15,663 lines, 27 columns, no
header, classic codes. Prescribing setting (column 26) is 4 (GP practice) on 8,641 lines:
6,848 active (A), 1,677 closed (C), 116 dormant (D). The other 7,022 lines are other
prescribing cost centres (2,945 setting 0, 1,811 community health services, 659 hospital
services, 361 public health services, ...). Every ODS code is distinct. Exactly one
postcode breaks the Royal Mail format: line 910, B81696 "DTTO SERVICES" at "DN15 6QV"
(the inward code may not end in V), a public health service (setting 8), so out of scope
unless --all-settings.

The loads run with --no-geocode: coordinates depend on the gazetteer, not on this file
(the postcodes unknown to Code-Point Open are covered by tests/scrapers/test_nhs_ods.py).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.realdata.server import real_data

pytestmark = pytest.mark.slow  # three loads of the whole 15,663-line file, about 5 s each on a free core

GP_PRACTICES = 8641
LINES = 15663


def epraccur() -> Path:
    return real_data("ods", "epraccur-2023-02.csv")


def ods(runner: Any, *args: str) -> Any:
    return runner.invoke(["ingest", "ods", *args, "--no-geocode"])


def test_the_whole_file_loads_by_default_and_a_rerun_changes_nothing(runner: Any) -> None:
    runner.invoke(["init-db"])
    first = ods(runner, str(epraccur()))
    # Every GP practice is in scope and valid; the 7,022 other lines are skipped, never rejected
    # (B81696's bad postcode no longer refuses the file: it is not a GP practice).
    assert first.exit_code == 0, first.output
    assert f"read {LINES}, added {GP_PRACTICES}, updated 0, unchanged 0, no longer listed 0, rejected 0" in first.output
    assert "skipped 7022 that are not GP practices" in first.output
    again = ods(runner, str(epraccur()))
    assert again.exit_code == 0
    assert f"added 0, updated 0, unchanged {GP_PRACTICES}, no longer listed 0, rejected 0" in again.output


def test_all_settings_keeps_the_bad_postcode_as_published_and_counts_it(runner: Any, app: Any) -> None:
    runner.invoke(["init-db"])
    result = ods(runner, str(epraccur()), "--all-settings")
    # All 15,663 lines are in scope now; DN15 6QV is kept as ODS published it, not refused.
    assert result.exit_code == 0, result.output
    assert f"read {LINES}, added {LINES}, updated 0, unchanged 0, no longer listed 0, rejected 0" in result.output
    assert "1 postcode(s) kept as published though not valid UK postcodes" in result.output
    from finder.db import store_from

    with app.app_context():
        store = store_from(app)
    with store.engine.connect() as connection:
        kept = connection.execute(
            text("select ods_code, postcode, lat, data_quality_note from gp_surgeries where data_quality_note is not null")
        ).all()
    assert [(row[0], row[1], row[2]) for row in kept] == [("B81696", "DN15 6QV", None)]
    assert "kept as ODS published it" in kept[0][3]


def data_search_and_export_layout(source: Path, target: Path) -> None:
    """The same practices in the newer layout's codes: A -> ACTIVE, C -> INACTIVE, setting 4 -> RO76.

    (Only the codes we know the newer layout uses are rewritten; dormant D stays as it is.)
    """
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for cells in csv.reader(io.StringIO(source.read_text(encoding="utf-8", errors="replace"))):
        cells[12] = {"A": "ACTIVE", "C": "INACTIVE"}.get(cells[12], cells[12])
        cells[25] = "RO76" if cells[25] == "4" else cells[25]
        writer.writerow(cells)
    target.write_text(out.getvalue(), encoding="utf-8")


def test_switching_layouts_reports_every_practice_unchanged(runner: Any, tmp_path: Path) -> None:
    runner.invoke(["init-db"])
    assert ods(runner, str(epraccur())).exit_code == 0
    newer = tmp_path / "epraccur-dse.csv"
    data_search_and_export_layout(epraccur(), newer)
    switched = ods(runner, str(newer))
    # A and ACTIVE, C and INACTIVE, 4 and RO76 mean the same: nothing changed, so nothing is "updated".
    assert switched.exit_code == 0, switched.output
    assert f"added 0, updated 0, unchanged {GP_PRACTICES}, no longer listed 0, rejected 0" in switched.output
