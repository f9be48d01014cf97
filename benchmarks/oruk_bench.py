"""Open Referral UK feed benchmark: the endpoints the ORUK validator times, at 60,000 listings.

Usage::

    python benchmarks/oruk_bench.py [--records 60000] [--seed 1] [--requests 200]

Builds (once; cached under benchmarks/.cache/ with the other benchmarks, via
benchmarks.common) a SQLite store of N FICTIONAL generated listings and its
search index, then times, in this process through the Flask test client (the
whole app: parameters, search or store, mapping, JSON, headers; no network):

  (a) GET /oruk/services?page=N&per_page=50 for random pages N across the feed
      (the unfiltered feed: the store's pages of listings, each a fully nested service);
  (b) GET /oruk/services?postcode=P&proximity=M&per_page=50 for real postcodes of
      generated listings and proximities of 2-20 km (the site's own search path);
  (c) GET /oruk/services/{id} for random listings.

Prints p50/p95/max per kind and, last, a RESULT line.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import CACHE, gazetteer_path, load_generated  # noqa: E402
from finder import create_app  # noqa: E402
from finder.db import Store  # noqa: E402
from finder.search import build_index  # noqa: E402
from finder.search.indexer import current_build  # noqa: E402


def ensure_store(records: int, seed: int) -> Path:
    """The generated store (shared with the other benchmarks' cache naming, plus the schema revision)."""
    path = CACHE / f"oruk-store-{records}-{seed}.sqlite"
    done = CACHE / f"oruk-store-{records}-{seed}.done"
    if done.exists():
        Store(f"sqlite:///{path}").upgrade()  # a newer schema, if the code moved on
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    seconds = load_generated(store, records, seed)
    done.write_text(f"{seconds:.1f}\n")
    store.dispose()
    return path


def ensure_index(store_path: Path, records: int, seed: int) -> Path:
    index_dir = CACHE / f"oruk-index-{records}-{seed}"
    if current_build(index_dir) is None:
        print("building the search index (once) ...", flush=True)
        store = Store(f"sqlite:///{store_path}")
        build_index(store, index_dir, progress=sys.stderr.isatty())
        store.dispose()
    return index_dir


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def timed_get(client: Any, url: str) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return elapsed, response


def summary(name: str, times: list[float]) -> str:
    return (
        f"{name:<44} n={len(times):>4}  p50 {percentile(times, 50):7.1f} ms  p95 {percentile(times, 95):7.1f} ms"
        f"  max {max(times):7.1f} ms  mean {statistics.fmean(times):7.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each kind")
    args = parser.parse_args(argv)

    store_path = ensure_store(args.records, args.seed)
    index_dir = ensure_index(store_path, args.records, args.seed)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{store_path}",
            "INDEX_DIR": str(index_dir),
            "GAZETTEER_PATH": str(gazetteer_path()),
            "INSTANCE_PATH": str(CACHE / "oruk-instance"),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "benchmark",
        }
    )
    app.logger.disabled = True
    import logging

    logging.getLogger("finder.requests").setLevel(logging.WARNING)
    client = app.test_client()
    rng = random.Random(args.seed)

    _, first = timed_get(client, "/oruk/services?per_page=50")
    total, pages = first.get_json()["total_items"], first.get_json()["total_pages"]
    print(f"feed: {total:,} services in {pages:,} pages of 50")
    store = Store(f"sqlite:///{store_path}")
    postcodes = sorted({loc.record.locations[0].postcode for loc in store.listing_page(0, 5000) if loc.record.locations and loc.record.locations[0].postcode})
    ids = [s["id"] for s in first.get_json()["contents"]]
    for number in rng.sample(range(1, pages + 1), min(20, pages)):
        ids += [s["id"] for s in client.get(f"/oruk/services?per_page=50&page={number}").get_json()["contents"]]
    store.dispose()

    # Warm up: the index, the gazetteer, the id table.
    for url in ("/oruk/services?postcode=LS6+2AB&proximity=5000", f"/oruk/services/{ids[0]}", "/oruk/services?page=2"):
        timed_get(client, url)

    results: dict[str, list[float]] = {"pages": [], "near": [], "by_id": []}
    items: list[int] = []
    for _ in range(args.requests):
        page = rng.randint(1, pages)
        elapsed, _ = timed_get(client, f"/oruk/services?page={page}&per_page=50")
        results["pages"].append(elapsed)
        postcode = rng.choice(postcodes)
        proximity = rng.choice((2000, 5000, 10000, 20000))
        elapsed, response = timed_get(client, f"/oruk/services?postcode={postcode.replace(' ', '+')}&proximity={proximity}&per_page=50")
        results["near"].append(elapsed)
        items.append(response.get_json()["size"])
        elapsed, _ = timed_get(client, f"/oruk/services/{rng.choice(ids)}")
        results["by_id"].append(elapsed)

    print(summary("(a) /oruk/services?page=N&per_page=50", results["pages"]))
    print(summary("(b) /oruk/services?postcode=P&proximity=M", results["near"]))
    print(f"{'':<44} services per (b) page: median {statistics.median(items):.0f}")
    print(summary("(c) /oruk/services/{id}", results["by_id"]))
    print(
        f"RESULT oruk records={total} pages_p50_ms={percentile(results['pages'], 50):.1f} "
        f"pages_p95_ms={percentile(results['pages'], 95):.1f} near_p50_ms={percentile(results['near'], 50):.1f} "
        f"near_p95_ms={percentile(results['near'], 95):.1f} by_id_p50_ms={percentile(results['by_id'], 50):.1f} "
        f"by_id_p95_ms={percentile(results['by_id'], 95):.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
