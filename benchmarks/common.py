"""Data the benchmarks share: the cached gazetteer and generated fictional stores."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from finder.db import Store  # noqa: E402
from finder.ingest import SourceItem, ingest  # noqa: E402

#: Everything benchmarks build once lives here (git-ignored).
CACHE = Path(__file__).resolve().parent / ".cache"
INGEST_CHUNK = 20_000


def gazetteer_path() -> Path:
    """The full offline gazetteer, built once into the cache."""
    path = CACHE / "gazetteer.sqlite"
    if not path.exists():
        from finder.geo.gazetteer import build_gazetteer

        print("building the gazetteer (offline, once) ...", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        build_gazetteer(path)
    return path


def load_generated(store: Store, records: int, seed: int) -> float:
    """Generate ``records`` fictional listings and ingest them in chunks; returns seconds."""
    from finder.sample import generate_records

    started = time.perf_counter()
    print(f"generating and loading {records:,} fictional listings (once) ...", flush=True)
    chunk: list[SourceItem] = []
    loaded = 0
    for row, record in enumerate(generate_records(records, seed, gazetteer=gazetteer_path()), start=1):
        chunk.append(SourceItem(row=row, record=record))
        if len(chunk) >= INGEST_CHUNK:
            loaded += _ingest_chunk(store, chunk)
            print(f"  {loaded:,}", flush=True)
            chunk = []
    if chunk:
        _ingest_chunk(store, chunk)
    return time.perf_counter() - started


def _ingest_chunk(store: Store, chunk: list[SourceItem]) -> int:
    source = chunk[0].record.provenance.source  # type: ignore[union-attr]
    report = ingest(store, chunk, source=source)
    if not report.written:
        raise SystemExit(f"generated records were rejected: {report.problems[:3]}")
    return len(chunk)
