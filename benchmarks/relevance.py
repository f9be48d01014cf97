"""Relevance benchmark: how well search answers what people actually type.

Usage::

    python benchmarks/relevance.py [--queries tests/relevance/queries.yaml] [--only ID ...] [--show N]

Loads the FICTIONAL sample (data/sample/practitioners.csv) into a SQLite store
(cached under benchmarks/.cache/relevance/, keyed by the file's hash), builds
the search index afresh (so ranking changes are measured), then asks every query
of the relevance set through the JSON API (``/api/v1/search``: the same path as
the page, query understanding and place resolution included) and grades the
top 10 with the set's rules (see the header of tests/relevance/queries.yaml:
grades come from the listings' fields, never from the engine).

Prints a per-query table, the figures per kind of query, and as the last line::

    RESULT queries=92 ndcg10=0.xxx p5=0.xxx zero_rate=0.xxx

* nDCG@10: gains 2^grade - 1, log2 discount; the ideal ranking is every
  listing in the sample sorted by grade. A query that fails (4xx) or finds
  nothing scores 0.
* P@5: the share of the top 5 that are fully relevant (grade 2), out of
  min(5, fully relevant listings that exist).
* zero-result rate: the share of queries answered with no results or an error.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import CACHE, gazetteer_path  # noqa: E402
from finder.geo.distance import haversine_km  # noqa: E402
from finder.records import Record  # noqa: E402

SAMPLE = ROOT / "data" / "sample" / "practitioners.csv"
QUERIES = ROOT / "tests" / "relevance" / "queries.yaml"
DEFAULT_RADIUS_KM = 25.0
TOP = 10


# ---------------------------------------------------------------------------
# the judgements


@dataclass(frozen=True)
class Judged:
    """One query of the relevance set."""

    id: str
    kind: str
    q: str
    near: str = ""
    at: tuple[float, float] | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    want: dict[str, list[str]] = field(default_factory=dict)
    partial: dict[str, list[str]] = field(default_factory=dict)
    require: dict[str, Any] = field(default_factory=dict)


def load_queries(path: Path = QUERIES) -> list[Judged]:
    import yaml

    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    seen = set()
    for entry in entries:
        if entry["id"] in seen:
            raise SystemExit(f"duplicate query id {entry['id']}")
        seen.add(entry["id"])
        if entry.get("near") and not entry.get("at"):
            raise SystemExit(f"{entry['id']}: a query with `near` needs `at` (the real centre of the place)")
        out.append(
            Judged(
                id=entry["id"],
                kind=entry.get("kind", "other"),
                q=entry.get("q", ""),
                near=entry.get("near", ""),
                at=tuple(entry["at"]) if entry.get("at") else None,  # type: ignore[arg-type]
                radius_km=float(entry.get("radius_km", DEFAULT_RADIUS_KM)),
                want=entry.get("want") or {},
                partial=entry.get("partial") or {},
                require=entry.get("require") or {},
            )
        )
    return out


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def _matches(record: Record, spec: dict[str, list[str]]) -> bool:
    """Any listed code of the record (or a name) named in the spec."""
    for key, values in spec.items():
        if key == "condition" and set(values) & set(record.conditions):
            return True
        if key == "treatment" and set(values) & set(record.treatments):
            return True
        if key == "specialism" and set(values) & set(record.specialisms):
            return True
        if key == "name":
            names = _fold(f"{record.name} {record.practice_name or ''}")
            if any(_fold(v) in names for v in values):
                return True
    return False


def _in_area(record: Record, at: tuple[float, float], radius_km: float) -> bool:
    for loc in record.locations:
        if loc.lat is not None and loc.lon is not None and haversine_km(at[0], at[1], loc.lat, loc.lon) <= radius_km:
            return True
    hv = record.home_visits
    if hv is not None and hv.lat is not None and hv.lon is not None:
        return bool(haversine_km(at[0], at[1], hv.lat, hv.lon) <= hv.coverage_radius_km)
    return False


def _visits(record: Record, at: tuple[float, float] | None) -> bool:
    hv = record.home_visits
    if hv is None:
        return False
    if at is None:
        return True
    return hv.lat is not None and hv.lon is not None and bool(haversine_km(at[0], at[1], hv.lat, hv.lon) <= hv.coverage_radius_km)


def _meets(record: Record, query: Judged) -> bool:
    if query.at is not None and not _in_area(record, query.at, query.radius_km):
        return False
    require = query.require
    if query.at is not None and "online" not in require.get("setting", []) and not any(
        loc.setting != "online" for loc in record.locations
    ) and record.home_visits is None:
        return False
    checks = {
        "funding": record.funding,
        "gender": [record.gender] if record.gender else [],
        "language": record.languages,
        "setting": record.settings,
        "referral_route": record.route_codes,
    }
    for key, values in checks.items():
        if key in require and not set(require[key]) & set(values):
            return False
    if require.get("visits_home") and not _visits(record, query.at):
        return False
    if require.get("wheelchair") and not record.wheelchair_access:
        return False
    return not (require.get("accepting") and record.accepting_new_patients is not True)


def grade(record: Record, query: Judged) -> int:
    if not _meets(record, query):
        return 0
    if not query.want or _matches(record, query.want):
        return 2
    if query.partial and _matches(record, query.partial):
        return 1
    return 0


def dcg(grades: list[int]) -> float:
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades))


# ---------------------------------------------------------------------------
# the site under test


def _sample_app() -> Any:
    """A Flask app over the sample, with a fresh index."""
    from finder import create_app
    from finder.cli import postcode_lookup
    from finder.db import store_from
    from finder.ingest import ingest
    from finder.search.indexer import build_index
    from scrapers.csv_import import read_csv

    digest = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()[:12]
    folder = CACHE / "relevance"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"sample-{digest}.db"
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{db}",
            "GAZETTEER_PATH": str(gazetteer_path()),
            "INDEX_DIR": str(folder / "index"),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "relevance",
        }
    )
    store = store_from(app)
    if not db.exists() or store.count() == 0:
        print("loading the fictional sample (once) ...", flush=True)
        store.upgrade()
        with app.app_context():
            report = ingest(
                store, read_csv(SAMPLE, source="sample"), source="sample", complete=True,
                geocode=postcode_lookup(app, required=True),
            )
        if not report.written:
            raise SystemExit(f"the sample could not be loaded: {report.problems[:3]}")
    started = time.perf_counter()
    build_index(store, app.config["INDEX_DIR"])
    print(f"index built in {time.perf_counter() - started:.1f} s", flush=True)
    return app


@dataclass
class Outcome:
    query: Judged
    status: int
    total: int
    ids: list[int]
    ndcg: float
    p5: float
    grades: list[int]
    ideal_count: tuple[int, int]  # (grade-2 listings, grade-1 listings) that exist
    interpreted: Any = None


def run(queries: list[Judged], show: int = 0) -> list[Outcome]:
    from finder.db import store_from

    app = _sample_app()
    records = {s.id: s.record for s in store_from(app).iter_practitioners() if s.withdrawn_at is None}
    client = app.test_client()
    outcomes = []
    for query in queries:
        grades_all = {pid: grade(record, query) for pid, record in records.items()}
        ideal = sorted((g for g in grades_all.values() if g), reverse=True)
        full = sum(1 for g in ideal if g == 2)
        params = {"q": query.q, "per_page": str(TOP)}
        if query.near:
            params["near"] = query.near
            params["radius_km"] = f"{query.radius_km:g}"
        response = client.get("/api/v1/search", query_string=params)
        body = response.get_json(silent=True) or {}
        ids = [r["id"] for r in body.get("results", [])] if response.status_code == 200 else []
        total = int(body.get("total", 0)) if response.status_code == 200 else 0
        got = [grades_all.get(pid, 0) for pid in ids[:TOP]]
        best = dcg(ideal[:TOP])
        ndcg = dcg(got) / best if best else 0.0
        wanted = 2 if full else 1
        denominator = min(5, full if full else len(ideal))
        p5 = (sum(1 for g in got[:5] if g >= wanted) / denominator) if denominator else 0.0
        outcomes.append(
            Outcome(query, response.status_code, total, ids, ndcg, p5, got, (full, len(ideal) - full), body.get("interpreted"))
        )
        if show and query.id in show_ids:
            print(query.id, response.status_code, body.get("detail"), body.get("interpreted"))
    return outcomes


show_ids: set[str] = set()


def report(outcomes: list[Outcome]) -> dict[str, float]:
    print()
    print(f"{'id':26} {'q':34} {'near':14} {'http':>4} {'total':>6} {'ideal':>7} {'nDCG':>5} {'P@5':>5}  grades")
    for o in outcomes:
        q = o.query
        print(
            f"{q.id[:26]:26} {q.q[:34]:34} {q.near[:14]:14} {o.status:>4} {o.total:>6} "
            f"{o.ideal_count[0]:>3}/{o.ideal_count[1]:<3} {o.ndcg:5.2f} {o.p5:5.2f}  {''.join(map(str, o.grades))}"
        )
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.query.kind].append(o)
    print()
    print(f"{'kind':14} {'queries':>7} {'nDCG@10':>8} {'P@5':>6} {'zero':>6}")
    for kind, items in sorted(by_kind.items()):
        print(
            f"{kind:14} {len(items):>7} {sum(o.ndcg for o in items) / len(items):8.3f} "
            f"{sum(o.p5 for o in items) / len(items):6.3f} {sum(1 for o in items if o.total == 0) / len(items):6.3f}"
        )
    n = len(outcomes)
    figures = {
        "ndcg10": sum(o.ndcg for o in outcomes) / n,
        "p5": sum(o.p5 for o in outcomes) / n,
        "zero_rate": sum(1 for o in outcomes if o.total == 0) / n,
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--only", nargs="*", help="only these query ids")
    parser.add_argument("--show", nargs="*", default=[], help="print the API's detail and interpretation for these ids")
    args = parser.parse_args()
    queries = load_queries(args.queries)
    if args.only:
        queries = [q for q in queries if q.id in set(args.only)]
    show_ids.update(args.show)
    outcomes = run(queries, show=len(show_ids))
    empty = [o.query.id for o in outcomes if not o.ideal_count[0] and not o.ideal_count[1]]
    if empty:
        print(f"warning: no listing in the sample is relevant to: {', '.join(empty)}")
    figures = report(outcomes)
    print()
    print(
        f"RESULT queries={len(outcomes)} ndcg10={figures['ndcg10']:.3f} p5={figures['p5']:.3f} "
        f"zero_rate={figures['zero_rate']:.3f}"
    )


if __name__ == "__main__":
    main()
