"""Profile the site's request kinds in one process: where does a search page's time go?

Usage::

    python benchmarks/profile_pages.py [--records 60000] [--seed 1] [--requests 300]
                                       [--kind "page search: postcode + text"] [--top 25]

The same data and request mix as ``benchmarks/load.py`` (built once, cached), served
by the app itself through Flask's test client (no gunicorn, no sockets: only the
application's own work). For each request kind it sends ``--requests`` warm-up
requests, then the same number under ``cProfile``, and prints:

* the mean server time per stage (``finder.web.timing``: place, understand,
  search, rows, views, map, render, other), measured without the profiler;
* the profiler's top functions by own time and by cumulative time.

The last line starts ``RESULT`` and gives the mean milliseconds per request kind.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import gazetteer_path  # noqa: E402
from benchmarks.load import (  # noqa: E402
    MIX,
    STAGE_COLUMNS,
    draw_places,
    ensure_data,
    parse_server_timing,
    request_paths,
)


def make_app(folder: Path, row_cache: int | None = None) -> object:
    for key in [k for k in os.environ if k.startswith("FINDER_")]:
        del os.environ[key]
    from finder import create_app

    return create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'finder.db'}",
            "INDEX_DIR": str(folder / "index"),
            "GAZETTEER_PATH": str(gazetteer_path()),
            "RATELIMIT_ENABLED": False,
            "SERVER_TIMING": True,
            "LOG_LEVEL": "warning",
            **({} if row_cache is None else {"ROW_CACHE_SIZE": row_cache}),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300, help="Requests per kind (warm-up, then timed, then profiled).")
    parser.add_argument("--kind", action="append", default=[], help="Only these request kinds (repeatable).")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument(
        "--row-cache", type=int, default=None,
        help="FINDER_ROW_CACHE_SIZE for this run (default: the app's). The warm-up sends the same requests, "
        "so with the cache on the timed run reads its rows from it; 0 reads every row from the store.",
    )
    args = parser.parse_args(argv)

    folder = ensure_data(args.records, args.seed)
    pool = request_paths(draw_places(folder, args.seed), args.seed)
    app = make_app(folder, args.row_cache)
    client = app.test_client()  # type: ignore[attr-defined]
    kinds = args.kind or [kind for kind, _ in MIX]
    means: dict[str, float] = {}
    for kind in kinds:
        paths = [path for k, path in pool if k == kind][: args.requests]
        if not paths:
            print(f"no requests of kind {kind!r} in the pool")
            continue
        for path in paths:  # warm-up: caches, lazily opened files
            client.get(path)
        stages: Counter[str] = Counter()
        started = time.perf_counter()
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            stages.update(parse_server_timing(response.headers.get("Server-Timing", "")))
        wall_ms = (time.perf_counter() - started) * 1000 / len(paths)
        means[kind] = wall_ms
        profiler = cProfile.Profile()
        profiler.enable()
        for path in paths:
            client.get(path)
        profiler.disable()
        n = len(paths)
        print(f"\n=== {kind}: {n} requests, {wall_ms:.2f} ms each (test client, no profiler)")
        print("  stages (mean ms): " + "  ".join(f"{name} {stages[name] / n:.2f}" for name in STAGE_COLUMNS))
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
            lines = out.getvalue().splitlines()
            start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
            print(f"  -- top {args.top} by {order} (profiled run, so slower than above)")
            for line in lines[start : start + args.top + 1]:
                print("  " + line[:160])
    print("\nRESULT profile_pages: " + ", ".join(f"{kind} {ms:.2f} ms" for kind, ms in means.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
