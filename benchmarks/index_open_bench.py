"""What checking the checksums costs when a worker opens the index and the gazetteer.

    python benchmarks/index_open_bench.py --records 20000 [--seed 1] [--repeat 5]

Builds (once; cached under benchmarks/.cache/) a store of N FICTIONAL listings
and its index, then opens the index in fresh processes (so nothing is already
verified), with the manifest check and with it switched off, and the same for
the full gazetteer. Also times the checks alone: the full check (every byte
hashed), a second full check in the same process (files already verified: what
reopening after an update costs, as updates hard-link the segments), and the
size-only check a serving worker runs once a second.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import CACHE, ROOT, gazetteer_path, load_generated

from finder.db import Store

CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
import finder.search.searcher as searcher
from finder.search.indexer import builds_dir, current_build
if {off!r}:
    searcher.verify_build = lambda *a, **k: None
index_dir = Path({index_dir!r})
started = time.perf_counter()
snapshot = searcher.Snapshot(index_dir, current_build(index_dir))
print(time.perf_counter() - started)
"""

VERIFY_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from finder.search.indexer import builds_dir, current_build
from finder.search.integrity import verify_build
index_dir = Path({index_dir!r})
build = builds_dir(index_dir) / current_build(index_dir)
started = time.perf_counter()
verify_build(build)
print(time.perf_counter() - started)
"""

GAZ_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
import finder.geo.gazetteer as gazetteer
if {off!r}:
    gazetteer.verify_gazetteer = lambda path: "off"
started = time.perf_counter()
gazetteer.Gazetteer({path!r}).close()
print(time.perf_counter() - started)
"""


def child_seconds(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from finder.search import build_index
    from finder.search.indexer import build_bytes, builds_dir, current_build
    from finder.search.integrity import verify_build

    folder = CACHE / f"open-{args.records}-{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{folder / 'finder.db'}")
    index_dir = folder / "index"
    if not store.is_initialised() or store.count() < args.records:
        store.upgrade()
        load_generated(store, args.records, args.seed)
    from finder.errors import IndexMissing

    try:
        cached = current_build(index_dir)
        if cached is None:
            raise IndexMissing("no index yet")
        verify_build(builds_dir(index_dir) / cached)
    except IndexMissing:
        print("building the index (once) ...", flush=True)
        build_index(store, index_dir, workers=2)
    name = current_build(index_dir)
    assert name is not None
    build = builds_dir(index_dir) / name
    size_mb = build_bytes(build) / 1e6

    verified = child_seconds(CHILD.format(root=str(ROOT), off=False, index_dir=str(index_dir)), args.repeat)
    unverified = child_seconds(CHILD.format(root=str(ROOT), off=True, index_dir=str(index_dir)), args.repeat)

    full_check = child_seconds(VERIFY_CHILD.format(root=str(ROOT), index_dir=str(index_dir)), args.repeat)
    verify_build(build)
    started = time.perf_counter()
    verify_build(build)
    known_check = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        verify_build(build, digests=False)
    size_check = (time.perf_counter() - started) / 100

    gazetteer = gazetteer_path()
    if not Path(str(gazetteer) + ".sum").exists():
        from finder.geo.gazetteer import build_gazetteer

        print("rebuilding the cached gazetteer to get its checksum file ...", flush=True)
        build_gazetteer(gazetteer)
    gaz_mb = gazetteer.stat().st_size / 1e6
    gaz_on = child_seconds(GAZ_CHILD.format(root=str(ROOT), off=False, path=str(gazetteer)), args.repeat)
    gaz_off = child_seconds(GAZ_CHILD.format(root=str(ROOT), off=True, path=str(gazetteer)), args.repeat)
    store.dispose()

    print(f"index: {args.records:,} listings, {size_mb:.1f} MB")
    print(f"  open in a fresh process, manifest checked:   {verified * 1000:7.1f} ms (median of {args.repeat})")
    print(f"  open in a fresh process, no check:           {unverified * 1000:7.1f} ms")
    print(f"  full check alone, fresh process (all hashed): {full_check * 1000:7.1f} ms")
    print(f"  full check again (files already verified):   {known_check * 1000:7.1f} ms")
    print(f"  size check (once a second while serving):    {size_check * 1000:7.3f} ms")
    print(f"gazetteer: {gaz_mb:.1f} MB")
    print(f"  open, checksum checked:                       {gaz_on * 1000:7.1f} ms")
    print(f"  open, no check:                               {gaz_off * 1000:7.1f} ms")
    print(
        f"RESULT records={args.records} index_mb={size_mb:.1f} open_checked_ms={verified * 1000:.1f} "
        f"open_unchecked_ms={unverified * 1000:.1f} full_check_ms={full_check * 1000:.1f} "
        f"known_check_ms={known_check * 1000:.2f} size_check_ms={size_check * 1000:.3f} "
        f"gazetteer_mb={gaz_mb:.1f} gazetteer_open_checked_ms={gaz_on * 1000:.1f} gazetteer_open_unchecked_ms={gaz_off * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
