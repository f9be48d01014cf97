"""Garbage-collector pauses while serving the load mix, in one process.

Usage::

    python benchmarks/gc_pauses.py [--requests 3000] [--row-cache N] [--records 60000] [--seed 1]

The data and request mix of ``benchmarks/load.py`` (built once, cached), served by
the app through Flask's test client, as a gunicorn worker does after its warm-up:
``--warm`` requests, then ``gc.freeze()`` (gunicorn.conf.py's post_worker_init
does the same), then ``--requests`` timed requests with a ``gc.callbacks`` hook
timing every collection. Prints the request latencies, the collections per
generation (count, total and longest pause), the objects the collector still
tracks, and a line starting ``RESULT``.

Why: a full (generation 2) collection walks every tracked object that is not
frozen. Anything a worker keeps between requests (the row cache) adds to that
walk, and the pause lands on whichever request triggered it.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import draw_places, ensure_data, percentile, request_paths  # noqa: E402
from benchmarks.profile_pages import make_app  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warm", type=int, default=300, help="Untimed requests before gc.freeze().")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--row-cache", type=int, default=None, help="FINDER_ROW_CACHE_SIZE (default: the app's).")
    parser.add_argument(
        "--gen0", type=int, default=None,
        help="Generation-0 threshold after the freeze (default: what gunicorn.conf.py sets, GC_GEN0_THRESHOLD).",
    )
    args = parser.parse_args(argv)

    folder = ensure_data(args.records, args.seed)
    pool = request_paths(draw_places(folder, args.seed), args.seed)
    app: Any = make_app(folder, args.row_cache)
    client = app.test_client()
    for _, path in pool[: args.warm]:
        client.get(path)
    gc.collect()
    gc.freeze()
    if args.gen0 is not None:
        gc.set_threshold(args.gen0, *gc.get_threshold()[1:])
    gen0 = gc.get_threshold()[0]

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(timed)
    latencies: list[float] = []
    began = time.perf_counter()
    try:
        for i in range(args.requests):
            path = pool[(args.warm + i) % len(pool)][1]
            start = time.perf_counter()
            client.get(path)
            latencies.append((time.perf_counter() - start) * 1000)
    finally:
        gc.callbacks.remove(timed)
    seconds = time.perf_counter() - began

    size = app.config.get("ROW_CACHE_SIZE")
    print(f"{args.requests} requests in {seconds:.1f} s (row cache {size}): "
          f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")
    for generation, spent in pauses.items():
        if spent:
            print(f"  generation {generation}: {len(spent):5} collections, {sum(spent):7.0f} ms in all, longest {max(spent):6.1f} ms")
    tracked = len(gc.get_objects())
    print(f"  objects tracked (not frozen) at the end: {tracked:,}")
    gc_ms = sum(sum(spent) for spent in pauses.values())
    print(
        f"RESULT gc_pauses: row_cache={size} gen0={gen0} requests={args.requests} ms_per_request={seconds * 1000 / args.requests:.2f} "
        f"p99_ms={percentile(latencies, 0.99):.1f} max_ms={max(latencies):.1f} gc_share={gc_ms / (seconds * 1000):.3f} "
        f"full_collections={len(pauses[2])} longest_full_ms={max(pauses[2], default=0.0):.1f} tracked={tracked}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
