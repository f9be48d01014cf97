"""Bad-input corpus, CSV side: every case gets a clear error (or a safe result) and the store is unchanged."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from finder.db import Store
from finder.exports import csv_safe
from finder.ingest import ingest
from scrapers.csv_import import COLUMN_NAMES, parse_csv
from tests.helpers import csv_bytes, csv_row

HEADER = ",".join(COLUMN_NAMES)


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    expect: str | None  # a fragment of the error; None = accepted safely


def _rows(*rows: dict[str, Any]) -> bytes:
    return csv_bytes(rows)


def _swap(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


GOOD = _rows(csv_row(source_id="new-1", hcpc_number="PH9911111", name="New Person"))

CASES = [
    Case("latin1", _rows(csv_row(name="Zoë")).decode().encode("latin-1"), "not UTF-8 text"),
    Case("cp1252 smart quotes", _rows(csv_row(name="O’Neill")).decode().encode("cp1252"), "not UTF-8 text"),
    Case("utf16", _rows(csv_row()).decode().encode("utf-16"), "not UTF-8 text"),
    Case("bom is fine", b"\xef\xbb\xbf" + _rows(csv_row(source_id="bom-1", hcpc_number="PH9922222")), None),
    Case("crlf is fine", _rows(csv_row(source_id="crlf-1", hcpc_number="PH9933333")).replace(b"\n", b"\r\n"), None),
    Case("empty file", b"", "the file is empty"),
    Case("only blank lines", b"\n\n\n", "missing required column(s): source_id, name"),
    Case("header only", HEADER.encode() + b"\n", None),
    Case("png bytes", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
    Case("nul bytes", HEADER.encode() + b"\nabc\x00def\n", "NUL bytes"),
    Case("missing source_id column", b"name,setting,postcode\nAda,hospital,LS6 2AB\n", "missing required column(s): source_id"),
    Case("missing name column", b"source_id,setting,postcode\nx1,hospital,LS6 2AB\n", "missing required column(s): name"),
    Case("extra unknown column", csv_bytes([csv_row(specialism="neurological")], [*COLUMN_NAMES, "specialism"]), "unknown column(s): 'specialism'"),
    Case("duplicated column", (HEADER + ",name").encode() + b"\n", "column(s) given twice: name"),
    Case("semicolon delimited", HEADER.replace(",", ";").encode() + b"\n", "unknown column(s)"),
    Case("fewer cells", GOOD + b"p-9,Short Row\n", "has 2 cells but the header has"),
    Case("more cells", GOOD + (",".join(["x"] * (len(COLUMN_NAMES) + 3))).encode() + b"\n", "cells but the header has"),
    Case("unterminated quote", GOOD + b'p-9,"Unclosed name,' + b"," * 10 + b"\n", "not valid CSV"),
    Case("100k character field", _rows(csv_row(bio="x" * 100_000)), "the most we keep is 4,000"),
    Case("200k character field", _rows(csv_row(bio="x" * 200_000)), "field larger than field limit"),
    Case("300 character name", _rows(csv_row(name="N" * 301)), "the most we keep is 300"),
    Case("whitespace name", _rows(csv_row(name="   ")), "is required"),
    Case("blank source_id", _rows(csv_row(source_id="")), "column source_id"),
    Case("invalid postcode", _rows(csv_row(postcode="NOT A PC", lat="", lon="")), "not a UK postcode"),
    Case("invalid inward code", _rows(csv_row(postcode="LS6 2AC", lat="", lon="")), "not a UK postcode"),
    Case("location without postcode or coordinates", _rows(csv_row(postcode="", lat="", lon="")), "needs a postcode"),
    Case("lat without lon", _rows(csv_row(lon="")), "give both lat and lon"),
    Case("null island", _rows(csv_row(lat="0", lon="0")), "greater than or equal to 49"),
    Case("lat not a number", _rows(csv_row(lat="north")), "valid number"),
    Case("negative radius", _rows(csv_row(home_visits_postcode="LS6 2AB", home_visits_radius_km="-5")), "greater than 0"),
    Case("huge radius", _rows(csv_row(home_visits_postcode="LS6 2AB", home_visits_radius_km="10000")), "less than or equal to 200"),
    Case("radius without postcode", _rows(csv_row(home_visits_radius_km="10")), "home_visits_postcode"),
    Case("unknown specialism", _rows(csv_row(specialisms="neuro")), "'neuro' is not one of: neurological"),
    Case("unknown setting", _rows(csv_row(setting="spa")), "'spa' is not one of: hospital"),
    Case("unknown funding", _rows(csv_row(funding="free")), "'free' is not one of: nhs"),
    Case("unknown treatment", _rows(csv_row(treatments="reiki")), "'reiki' is not one of"),
    Case("unknown referral group", _rows(csv_row(referral_routes="self_referral:backs")), "'backs' is not one of"),
    Case("bad hcpc number", _rows(csv_row(hcpc_number="OT12345")), "not an HCPC physiotherapist number"),
    Case("status without date", _rows(csv_row(registration_status="registered")), "needs the date it was checked"),
    Case("bad date", _rows(csv_row(registration_status="registered", registration_checked_on="31/02/2026")), "valid date"),
    Case("bad email", _rows(csv_row(email="not-an-email")), "is not an email address"),
    Case("javascript url", _rows(csv_row(website="javascript:alert(1)")), "not a web address"),
    Case("data url", _rows(csv_row(booking_url="data:text/html,<script>alert(1)</script>")), "not a web address"),
    Case("bool junk", _rows(csv_row(accepting_new_patients="maybe")), "is not yes or no"),
    Case("negative waiting weeks", _rows(csv_row(nhs_waiting_weeks="-1")), "greater than or equal to 0"),
    Case("fee not a number", _rows(csv_row(fee_initial_gbp="£sixty")), "valid decimal"),
    Case("duplicate source ids", _rows(csv_row(source_id="d-1", hcpc_number="PH9944441"), csv_row(source_id="x", hcpc_number="PH9944442"), csv_row(source_id="d-1", hcpc_number="PH9944443")), "source id 'd-1' is already used on row 2"),
    Case("duplicate hcpc numbers", _rows(csv_row(source_id="h-1", hcpc_number="PH9955555"), csv_row(source_id="h-2", hcpc_number="PH9955555")), "HCPC number PH9955555 is already used on row 2"),
    Case("sql in a cell is just text", _rows(csv_row(source_id="sql-1", hcpc_number="PH9966666", practice_name="x'); DROP TABLE practitioners; --")), None),
    Case("formula cell is just text", _rows(csv_row(source_id="f-1", hcpc_number="PH9977777", practice_name='=HYPERLINK("http://evil.example","x")')), None),
    Case("html in a cell is just text", _rows(csv_row(source_id="h-9", hcpc_number="PH9988888", bio="<script>alert(1)</script>")), None),
    Case("right-to-left override", _rows(csv_row(source_id="rtl-1", hcpc_number="PH9999999", name="Ada \u202eevil")), None),
    Case("contradicting continuation row", _rows(csv_row(), {"source_id": "p-1", "name": "Other", "setting": "online"}), "practitioner columns must be blank"),
]


def _snapshot(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return [
            connection.execute(text(f"select * from {table} order by id")).all()
            for table in ("practitioners", "practitioner_locations", "source_records")
        ]


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_csv_input(case: Case, sqlite_store: Store) -> None:
    ingest(sqlite_store, parse_csv(_rows(csv_row(source_id="keep-1", hcpc_number="PH9900099", name="Kept Person"))), source="csv")
    before = _snapshot(sqlite_store)
    report = ingest(sqlite_store, parse_csv(case.data), source="csv")
    messages = " | ".join(str(p) for p in report.problems)
    if case.expect is None:
        assert report.ok and report.written, messages
        after = _snapshot(sqlite_store)
        assert after[0][: len(before[0])] == before[0], "existing listings must not change"
    else:
        assert not report.written
        assert case.expect in messages, messages
        assert "Traceback" not in messages
        assert _snapshot(sqlite_store) == before


def test_partial_mode_with_bad_rows_keeps_existing_data(sqlite_store: Store) -> None:
    ingest(sqlite_store, parse_csv(_rows(csv_row(source_id="keep-1", hcpc_number="PH9900099"))), source="csv")
    before = _snapshot(sqlite_store)
    data = _rows(csv_row(source_id="bad", hcpc_number="PH9900098", specialisms="neuro"))
    report = ingest(sqlite_store, parse_csv(data), source="csv", partial=True)
    assert report.rejected == 1 and report.added == 0
    assert _snapshot(sqlite_store)[0] == before[0]


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "＝1", "  =1+1", " @SUM(A1)", "\u00a0-1"])
def test_csv_exports_neutralise_formulas(cell: str) -> None:
    safe = csv_safe(cell)
    assert safe.startswith("'")
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe])
    assert not buffer.getvalue().lstrip('"').startswith(("=", "+", "-", "@"))
