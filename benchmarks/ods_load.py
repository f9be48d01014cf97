"""How long loading a national-size epraccur file takes, and how long the unchanged re-run takes.

Generates a synthetic, fictional file the size of the real one (about 15,000
rows in the documented 27-column layout), then times parse + first load +
unchanged second load into a fresh SQLite store (or FINDER_BENCH_DATABASE_URL).

    python benchmarks/ods_load.py [ROWS]
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from finder.db import Store
from finder.sites import load_gp_surgeries
from scrapers.nhs_ods import parse_epraccur

OUTCODES = ["LS6", "LS1", "HG1", "YO1", "M1", "B1", "SW1A", "EH1", "CF10", "BS1"]


def synthetic_file(rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for n in range(rows):
        status = "A" if n % 10 else "C"
        postcode = f"{OUTCODES[n % len(OUTCODES)]} {n % 9 + 1}AB"
        writer.writerow(
            [f"Z{n:05d}", f"FICTIONAL PRACTICE {n}", "Y63", "QWO", f"{n} EXAMPLE ROAD", "", "", "EXAMPLETOWN", "",
             postcode, "19740401", "" if status == "A" else "20200101", status, "B", "15F", "19740401", "",
             f"0113 496 {n % 10000:04d}", "", "", "", "0", "", "15F", "", "4" if n % 20 else "1", ""]
        )
    return buffer.getvalue().encode("utf-8")


def geocode(postcode: str) -> tuple[float, float]:
    return 53.8 + (hash(postcode) % 100) / 1000, -1.5


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 15_000
    data = synthetic_file(rows)
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("FINDER_BENCH_DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.db'}"
        store = Store(url)
        store.upgrade()
        started = time.perf_counter()
        parsed = parse_epraccur(data)
        parsed_at = time.perf_counter()
        first = load_gp_surgeries(store, parsed, geocode=geocode)
        first_at = time.perf_counter()
        second = load_gp_surgeries(store, parse_epraccur(data), geocode=geocode)
        second_at = time.perf_counter()
        store.dispose()
    print(f"rows in file:        {rows:,} ({len(data) / 1e6:.1f} MB)")
    print(f"parse:               {parsed_at - started:.2f} s")
    print(f"first load:          {first_at - parsed_at:.2f} s  ({first.summary()})")
    print(f"unchanged re-run:    {second_at - first_at:.2f} s  ({second.summary()})")


if __name__ == "__main__":
    main()
