"""Two checkouts of the app, one request at a time each, in turn: which serves the mix quicker?

Usage::

    git worktree add /tmp/before <commit>
    python benchmarks/ab_pages.py /tmp/before [--requests 200] [--kind "api: search"] [--rounds 3]

This machine is a VM whose CPU speed moves by a third within minutes (``load.py``'s
speed probe), so two runs made one after the other compare the machine as much as the
code. Here each checkout serves the same requests through Flask's test client in its
own process (the data and mix of ``benchmarks/load.py``, read from this checkout's
cache), and the driver alternates: request i to A, then to B, then i+1 to B first, and
so on. Both see the same machine at the same moment; each times its own requests. For
every request kind it prints the median and mean per checkout and their ratio; the last
line starts ``RESULT``. Both checkouts must read the same store and index formats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Runs inside each checkout: reads request paths on stdin, answers the milliseconds each took.
_SERVER = r"""
import json, os, sys, time
sys.path.insert(0, os.getcwd())
for key in [k for k in os.environ if k.startswith("FINDER_")]:
    del os.environ[key]
from finder import create_app
folder, gazetteer = sys.argv[1], sys.argv[2]
app = create_app({
    "INSTANCE_PATH": folder, "DATABASE_URL": f"sqlite:///{folder}/finder.db", "INDEX_DIR": f"{folder}/index",
    "GAZETTEER_PATH": gazetteer, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "warning",
})
client = app.test_client()
print("ready", flush=True)
for line in sys.stdin:
    path = line.rstrip("\n")
    started = time.perf_counter()
    response = client.get(path)
    response.get_data()
    spent = (time.perf_counter() - started) * 1000
    print(json.dumps([response.status_code, spent]), flush=True)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="The other checkout (e.g. a git worktree at an older commit).")
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200, help="Requests per kind (after as many to warm up).")
    parser.add_argument("--kind", action="append", default=[], help="Only these request kinds (repeatable).")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from benchmarks.common import gazetteer_path
    from benchmarks.load import MIX, draw_places, ensure_data, request_paths

    folder = ensure_data(args.records, args.seed)
    pool = request_paths(draw_places(folder, args.seed), args.seed)
    servers = {}
    for name, checkout in (("before", args.before.resolve()), ("after", ROOT)):
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(folder), str(gazetteer_path())],
            cwd=checkout, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "ready", f"{name} did not start"
        servers[name] = process

    def ask(name: str, path: str) -> float:
        process = servers[name]
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(path + "\n")
        process.stdin.flush()
        status, spent = json.loads(process.stdout.readline())
        if status != 200:
            raise SystemExit(f"{name}: {path} answered {status}")
        return float(spent)

    kinds = args.kind or [kind for kind, _ in MIX]
    ratios: dict[str, float] = {}
    means: dict[str, tuple[float, float]] = {}
    print(f"{'kind':38} {'before p50':>10} {'after p50':>10} {'before mean':>12} {'after mean':>11} {'ratio':>6}")
    try:
        for kind in kinds:
            paths = [path for k, path in pool if k == kind][: args.requests]
            if not paths:
                continue
            for path in paths:  # warm-up, both
                ask("before", path)
                ask("after", path)
            times: dict[str, list[float]] = {"before": [], "after": []}
            for i, path in enumerate(paths):
                order = ("before", "after") if i % 2 == 0 else ("after", "before")
                for name in order:
                    times[name].append(ask(name, path))
            b50, a50 = statistics.median(times["before"]), statistics.median(times["after"])
            bm, am = statistics.fmean(times["before"]), statistics.fmean(times["after"])
            ratios[kind] = am / bm
            means[kind] = (bm, am)
            print(f"{kind:38} {b50:10.2f} {a50:10.2f} {bm:12.2f} {am:11.2f} {am / bm:6.2f}")
    finally:
        for process in servers.values():
            process.kill()
    weights = dict(MIX)
    shown = sum(weights[k] for k in means) or 1.0
    before_ms = sum(weights[k] * b for k, (b, _) in means.items()) / shown
    after_ms = sum(weights[k] * a for k, (_, a) in means.items()) / shown
    print(f"the mix, per request (weighted mean): before {before_ms:.2f} ms, after {after_ms:.2f} ms")
    print("RESULT ab_pages: after/before mean time, " + ", ".join(f"{k} {r:.2f}" for k, r in ratios.items())
          + f"; the mix {before_ms:.2f} -> {after_ms:.2f} ms ({after_ms / before_ms:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
