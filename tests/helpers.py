"""Small builders for test records and CSV files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from finder.ingest import SourceItem
from finder.records import Record
from scrapers.csv_import import COLUMN_NAMES

#: The repository root: tests name files from here, so pytest runs from any directory.
ROOT = Path(__file__).resolve().parents[1]
IMPORT_TEMPLATE = ROOT / "data" / "import-template.csv"


def record_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Test Practitioner",
        "practice_name": "Test Physio",
        "registration": {"number": "PH9912345"},
        "specialisms": ["neurological"],
        "conditions": ["multiple_sclerosis"],
        "treatments": ["exercise_programme"],
        "locations": [{"setting": "private_clinic", "postcode": "LS6 2AB", "lat": 53.82, "lon": -1.57}],
        "funding": ["private"],
        "referral_routes": [{"route": "self_referral"}],
        "provenance": {"source": "csv", "source_id": "t-1"},
    }
    data.update(overrides)
    return data


def make_record(**overrides: Any) -> Record:
    return Record.model_validate(record_data(**overrides))


def items(*records: Record) -> list[SourceItem]:
    return [SourceItem(row=i + 2, record=r) for i, r in enumerate(records)]


def csv_bytes(rows: Iterable[dict[str, Any]], columns: Iterable[str] = COLUMN_NAMES) -> bytes:
    columns = list(columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return buffer.getvalue().encode("utf-8")


def csv_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "source_id": "p-1",
        "name": "Ada Example",
        "hcpc_number": "PH9900001",
        "specialisms": "neurological",
        "conditions": "multiple_sclerosis",
        "setting": "private_clinic",
        "postcode": "LS6 2AB",
        "lat": "53.8195",
        "lon": "-1.5762",
        "funding": "private",
        "referral_routes": "self_referral",
    }
    row.update(overrides)
    return row
