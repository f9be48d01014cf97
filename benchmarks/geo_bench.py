"""Gazetteer and sample-generator figures: build time, size, memory peak, lookup cost, generation speed.

Usage::

    python benchmarks/geo_bench.py                      # full build + lookups + 2k/60k samples
    python benchmarks/geo_bench.py --sizes 2000,60000,300000
    python benchmarks/geo_bench.py --gazetteer instance/gazetteer.sqlite   # skip the build

The build runs in a child process so its memory peak (max RSS) is its own. The
gazetteer is written to benchmarks/.cache/ (git-ignored). Targets from the
issue: build under 30 s on the 2-core reference machine, a warm postcode
lookup well under 50 µs, 300,000 sample records well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"

_BUILD = """
import json, resource, sys, time
from finder.geo.gazetteer import build_gazetteer
started = time.perf_counter()
report = build_gazetteer(sys.argv[1])
print(json.dumps({
    "seconds": report.seconds, "wall": time.perf_counter() - started, "size": report.size_bytes,
    "postcodes": report.postcodes, "places": report.places, "place_names": report.place_names,
    "sectors": report.sectors, "outcodes": report.outcodes, "approximate": report.approximate_postcodes,
    "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def build(path: Path) -> dict[str, float]:
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", _BUILD, str(path)], check=True, capture_output=True, text=True
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started  # including interpreter and imports
    return figures


def per_call_us(function: Callable[[str], object], inputs: list[str], repeats: int = 5) -> float:
    """Best of ``repeats`` runs over ``inputs``, in microseconds per call."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for text in inputs:
            function(text)
        best = min(best, (time.perf_counter() - started) / len(inputs))
    return best * 1e6


def lookups(path: Path) -> None:
    from finder.errors import FinderError
    from finder.geo.gazetteer import iter_postcodes, open_gazetteer
    from finder.geo.geocode import Geocoder

    gazetteer = open_gazetteer(path)
    everything = list(iter_postcodes(gazetteer))
    rng = random.Random(1)
    postcodes = rng.sample(everything, 100_000)
    squashed = [p.replace(" ", "").lower() for p in postcodes]
    for code in postcodes:  # warm: the pages these lookups touch are in the OS cache
        gazetteer.postcode_point(code)
    print(f"postcode_point, warm, 100,000 random postcodes: {per_call_us(gazetteer.postcode_point, postcodes):.1f} µs per lookup")
    print(f"postcode_point, 'sw1a1aa' style input:        {per_call_us(gazetteer.postcode_point, squashed):.1f} µs per lookup")

    geocoder = Geocoder(gazetteer)
    places = ["Harrogate", "harrogate", "Llandudno", "Bishops Stortford", "Leeds", "Newcastle upon Tyne"] * 500
    outcodes = ["LS6", "EH1", "CF10", "SW1A", "M1", "B15"] * 500

    def resolve_quietly(text: str) -> object:
        try:
            return geocoder.resolve(text)
        except FinderError as error:
            return error

    print(f"Geocoder.resolve, full postcode:  {per_call_us(geocoder.resolve, postcodes[:20_000]):.1f} µs")
    print(f"Geocoder.resolve, district (LS6): {per_call_us(geocoder.resolve, outcodes):.1f} µs")
    print(f"Geocoder.resolve, place name:     {per_call_us(geocoder.resolve, places):.1f} µs")
    print(f"Geocoder.resolve, 'St Ives' (ambiguous, raises): {per_call_us(resolve_quietly, ['St Ives'] * 2000):.1f} µs")
    print(f"Geocoder.resolve, unknown place with suggestions (first, uncached): "
          f"{per_call_us(resolve_quietly, ['Harogatte'], repeats=1):.0f} µs")

    # Shared between threads as web workers share it (the GIL bounds the gain).
    chunks = [postcodes[i::4] for i in range(4)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda chunk: [gazetteer.postcode_point(c) for c in chunk], chunks))
    elapsed = time.perf_counter() - started
    print(f"4 threads, 100,000 lookups: {len(postcodes) / elapsed:,.0f} lookups/s ({threading.active_count()} threads alive)")
    geocoder.close()
    gazetteer.close()


def samples(path: Path, sizes: list[int]) -> None:
    from finder.sample import generate_records, write_csv

    for size in sizes:
        started = time.perf_counter()
        count = sum(1 for _ in generate_records(size, 1, gazetteer=path))
        elapsed = time.perf_counter() - started
        print(f"generate_records({size:,}): {elapsed:.1f} s ({count / elapsed:,.0f} records/s, validated Records)")
    out = CACHE / "sample-2000.csv"
    started = time.perf_counter()
    write_csv(generate_records(2000, 1, gazetteer=path), out)
    print(f"finder sample generate --count 2000 (generate + write CSV): {time.perf_counter() - started:.2f} s, "
          f"{out.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gazetteer", type=Path, help="Use this built gazetteer instead of building one.")
    parser.add_argument("--builds", type=int, default=1, help="How many full builds to time (median reported).")
    parser.add_argument("--sizes", default="2000,60000", help="Sample sizes to generate, comma-separated.")
    args = parser.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    path = args.gazetteer
    if path is None:
        path = CACHE / "gazetteer.sqlite"
        runs = [build(path) for _ in range(max(1, args.builds))]
        first = runs[0]
        print(
            f"finder geo build (full): {statistics.median(r['seconds'] for r in runs):.1f} s in build_gazetteer "
            f"({statistics.median(r['process_seconds'] for r in runs):.1f} s for the whole process; "
            "runs: " + ", ".join(f"{r['seconds']:.1f}" for r in runs) + ")"
        )
        print(
            f"  {first['postcodes']:,.0f} postcodes ({first['approximate']:,.0f} without own coordinates), "
            f"{first['sectors']:,.0f} sectors, {first['outcodes']:,.0f} districts, {first['places']:,.0f} places, "
            f"{first['place_names']:,.0f} place names"
        )
        print(f"  size on disk: {first['size'] / 1e6:.1f} MB; memory peak (max RSS): {max(r['max_rss_kb'] for r in runs) / 1024:.0f} MB")
    print(f"gazetteer: {path}")
    lookups(path)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        samples(path, sizes)
    print(f"benchmark process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
