"""Search benchmark: our engine (Whoosh text + numpy facets/geo) against a careful SQLite baseline.

Usage::

    python benchmarks/search_bench.py --records 60000 [--seed 1] [--rebuild-index]

Generates N FICTIONAL records with finder.sample, loads them into a SQLite store,
builds our index and a SQLite FTS5 + R*Tree baseline from the same store
(all cached under benchmarks/.cache/, git-ignored), then runs the same fixed
query mix on both in this process, interleaved, at 40 query points (75% near
towns):

  (a) text "multiple sclerosis" + specialism neurological + funding nhs, 25 km, distance order, top 20
  (b) specialism musculoskeletal + setting private_clinic, 10 km, top 20
  (b_full) our (b) again, against a baseline that also computes (b)'s total, every
       facet count (each with its own filter left out) and the flag counts
  (c) text "multiple sclerosis", relevance, top 20
  (c2) text "back pain" (a very common pair of words), relevance, top 20

It checks that both engines return the same top-20 ids for (a), (b) and b_full
(listings at exactly the same distance may be ordered differently within their
tie group: each engine breaks such ties by its own relevance score) and the same
total, facet and flag counts for b_full, prints a table and, as its last line,
the RESULT line.

The baseline is deliberately a strong one: FTS5 (porter, diacritics folded) with
bm25 column weights, the same synonym normalisation as our index (a column of
synonym-group words, so both engines match exactly the same listings), an
R*Tree over locations and over home-visit coverage boxes as the spatial
pre-filter, facet bitmask columns, and exact vectorised haversine distances; like
the engine, it leaves out listings the register says may not practise (H1).
Our engine is timed through finder.search.query(), which also computes the total
and every facet count; the baseline computes only the top 20, except for b_full.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import CACHE, load_generated  # noqa: E402
from finder.db import Store  # noqa: E402
from finder.geo import Location  # noqa: E402
from finder.geo.distance import EARTH_RADIUS_KM, bounding_box, haversine_km  # noqa: E402
from finder.safety import is_not_practising, max_check_age_days, referral_context, route_masks  # noqa: E402
from finder.search import SearchIndex, SearchQuery, build_index, query  # noqa: E402
from finder.search.analysis import GROUP_PREFIX, DocAnalyser, Synonyms  # noqa: E402
from finder.search.indexer import FACET_VALUES, current_build, facet_codes, read_meta, record_texts  # noqa: E402
from finder.search.query import FACETS, FLAG_NAMES  # noqa: E402
from finder.vocab import PRACTISING_STATUSES  # noqa: E402

POINTS = 40
TOP = 20
#: Bumped when the baseline's tables change (the cached baseline is then built again).
BASELINE_VERSION = 2
ROUTES = facet_codes()["referral_route"]

# Towns and cities (approximate centres) for the 75% of query points "near towns".
TOWNS = [
    ("London", 51.5074, -0.1278), ("Birmingham", 52.4862, -1.8904), ("Leeds", 53.8008, -1.5491),
    ("Glasgow", 55.8642, -4.2518), ("Sheffield", 53.3811, -1.4701), ("Manchester", 53.4808, -2.2426),
    ("Edinburgh", 55.9533, -3.1883), ("Liverpool", 53.4084, -2.9916), ("Bristol", 51.4545, -2.5879),
    ("Cardiff", 51.4816, -3.1791), ("Leicester", 52.6369, -1.1398), ("Coventry", 52.4068, -1.5197),
    ("Nottingham", 52.9548, -1.1581), ("Newcastle", 54.9783, -1.6178), ("Brighton", 50.8225, -0.1372),
    ("Hull", 53.7676, -0.3274), ("Plymouth", 50.3755, -4.1427), ("Stoke-on-Trent", 53.0027, -2.1794),
    ("Wolverhampton", 52.5862, -2.1288), ("Derby", 52.9225, -1.4746), ("Swansea", 51.6214, -3.9436),
    ("Southampton", 50.9097, -1.4044), ("Aberdeen", 57.1497, -2.0943), ("Norwich", 52.6309, 1.2974),
    ("York", 53.9600, -1.0873), ("Exeter", 50.7184, -3.5339), ("Cambridge", 52.2053, 0.1218),
    ("Oxford", 51.7520, -1.2577), ("Inverness", 57.4778, -4.2247), ("Carlisle", 54.8925, -2.9329),
    ("Harrogate", 53.9921, -1.5418), ("Lincoln", 53.2307, -0.5406), ("Truro", 50.2632, -5.0510),
    ("Dundee", 56.4620, -2.9707), ("Ipswich", 52.0567, 1.1482), ("Reading", 51.4543, -0.9781),
    ("Preston", 53.7632, -2.7031), ("Bangor", 53.2274, -4.1293), ("Shrewsbury", 52.7073, -2.7553),
    ("Canterbury", 51.2802, 1.0789),
]
#: Mainland Great Britain, roughly, for the 25% of points anywhere.
GB_BOX = (50.0, 58.6, -5.6, 1.7)


# ---------------------------------------------------------------------------
# data


def ensure_store(records: int, seed: int) -> tuple[Store, float]:
    """A SQLite store holding N generated records (generated once, then cached)."""

    path = CACHE / f"store-{records}-{seed}.sqlite"
    done = CACHE / f"store-{records}-{seed}.done"
    store = Store(f"sqlite:///{path}")
    if done.exists():
        return store, json.loads(done.read_text())["seconds"]
    if path.exists():
        path.unlink()
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    seconds = load_generated(store, records, seed)
    done.write_text(json.dumps({"seconds": seconds}))
    return store, seconds


def ensure_index(store: Store, records: int, seed: int, rebuild: bool) -> tuple[Path, float, bool]:
    index_dir = CACHE / f"index-{records}-{seed}"
    name = current_build(index_dir)
    if name is not None and not rebuild:
        meta = read_meta(index_dir / "builds" / name)
        if meta.get("kind") == "full build":
            return index_dir, float(meta["seconds"]), True
    report = build_index(store, index_dir, progress=sys.stderr.isatty())
    return index_dir, report.seconds, False


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# the SQLite baseline


def syn_word(token: str) -> str:
    """A synonym-group token (``~ms``) as a plain word FTS5 indexes (``zzsynms``)."""
    return "zzsyn" + re.sub(r"[^a-z0-9]", "x", token[len(GROUP_PREFIX):])


def build_baseline(store: Store, path: Path) -> float:
    """FTS5 + R*Tree + bitmask columns, from the same store."""
    if path.exists():
        path.unlink()
    started = time.perf_counter()
    con = sqlite3.connect(path)
    con.executescript(
        """
        PRAGMA journal_mode=OFF;
        PRAGMA synchronous=OFF;
        CREATE TABLE doc (
            id INTEGER PRIMARY KEY,
            specialism INTEGER, condition INTEGER, treatment INTEGER, setting INTEGER, funding INTEGER,
            referral_route INTEGER, language INTEGER, gender INTEGER, membership INTEGER,
            registered INTEGER, accepting INTEGER, wheelchair INTEGER, visits_home INTEGER, online INTEGER,
            not_practising INTEGER, checked_day INTEGER, ROUTE_GROUP_COLUMNS
        );
        CREATE TABLE loc (id INTEGER PRIMARY KEY, doc INTEGER, idx INTEGER, lat REAL, lon REAL, setting INTEGER);
        CREATE VIRTUAL TABLE loc_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon);
        CREATE TABLE hv (id INTEGER PRIMARY KEY, lat REAL, lon REAL, radius REAL);
        CREATE VIRTUAL TABLE hv_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon);
        CREATE VIRTUAL TABLE fts USING fts5(
            name, clinical, body, place, syn, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        """.replace("ROUTE_GROUP_COLUMNS", ", ".join(f"rg_{code} INTEGER" for code in ROUTES))
    )
    codes = facet_codes()
    bit_of = {facet: {code: i for i, code in enumerate(values)} for facet, values in codes.items()}
    analyser = DocAnalyser(Synonyms.load())
    loc_id = 0
    docs, locs, loc_boxes, hvs, hv_boxes, texts = [], [], [], [], [], []

    def flush() -> None:
        con.executemany(f"INSERT INTO doc VALUES ({', '.join('?' * (17 + len(ROUTES)))})", docs)
        con.executemany("INSERT INTO loc VALUES (?,?,?,?,?,?)", locs)
        con.executemany("INSERT INTO loc_rtree VALUES (?,?,?,?,?)", loc_boxes)
        con.executemany("INSERT INTO hv VALUES (?,?,?,?)", hvs)
        con.executemany("INSERT INTO hv_rtree VALUES (?,?,?,?,?)", hv_boxes)
        con.executemany("INSERT INTO fts (rowid, name, clinical, body, place, syn) VALUES (?,?,?,?,?,?)", texts)
        for batch in (docs, locs, loc_boxes, hvs, hv_boxes, texts):
            batch.clear()

    for stored in store.iter_practitioners(include_withdrawn=False):
        r = stored.record
        bits = []
        for facet, values in FACET_VALUES.items():
            b = 0
            for code in values(r):
                b |= 1 << bit_of[facet][code]
            bits.append(b)
        # where each referral route applies (finder.safety.route_masks): specialism groups as bits
        masks = route_masks(r, bit_of["specialism"], bit_of["condition"])
        checked = r.registration.checked_on
        docs.append(
            (stored.id, *bits, r.registration.status in PRACTISING_STATUSES, r.accepting_new_patients is True,
             bool(r.wheelchair_access), r.visits_home, "online" in r.settings,
             is_not_practising(r.registration.status), checked.toordinal() if checked else 0,
             *(masks.get(code, (0, 0))[0] for code in ROUTES))
        )
        for i, loc in enumerate(r.locations):
            if loc.lat is None or loc.lon is None:
                continue
            loc_id += 1
            locs.append((loc_id, stored.id, i, loc.lat, loc.lon, 1 << bit_of["setting"][loc.setting]))
            loc_boxes.append((loc_id, loc.lat, loc.lat, loc.lon, loc.lon))
        hv = r.home_visits
        if hv is not None and hv.lat is not None and hv.lon is not None:
            min_lat, min_lon, max_lat, max_lon = bounding_box(hv.lat, hv.lon, hv.coverage_radius_km)
            hvs.append((stored.id, hv.lat, hv.lon, hv.coverage_radius_km))
            hv_boxes.append((stored.id, min_lat, max_lat, min_lon, max_lon))
        fields = record_texts(stored)
        groups: set[str] = set()
        for field in ("clinical", "body", "place"):
            content, _ = analyser.field(fields[field])
            groups.update(t for t in content if t.startswith(GROUP_PREFIX))
        texts.append(
            (
                stored.id,
                " ".join(p for p in fields["name"] if p),
                " ".join(p for p in fields["clinical"] if p),
                " ".join(p for p in fields["body"] if p),
                " ".join(p for p in fields["place"] if p),
                " ".join(sorted(syn_word(g) for g in groups)),
            )
        )
        if len(docs) >= 5000:
            flush()
    flush()
    con.execute("CREATE INDEX ix_loc_lat_lon ON loc(lat, lon)")
    con.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - started


class Baseline:
    """The SQLite engine: bounding-box pre-filter in SQL, exact haversine in numpy."""

    WEIGHTS = "3.0, 2.0, 1.0, 1.0, 1.0"

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path, check_same_thread=False)
        self.con.execute("PRAGMA cache_size=-262144")
        self.con.execute("PRAGMA mmap_size=1073741824")
        self.con.execute("PRAGMA temp_store=MEMORY")
        # (b) in full: the candidate listings of one query, with their in-range settings.
        self.con.execute("CREATE TEMP TABLE cand (id INTEGER PRIMARY KEY, settings INTEGER, clinic REAL, visits INTEGER)")
        # Statistics for it (a few hundred rows, as a query holds): without them the planner
        # guesses a huge table and builds a Bloom filter over all of doc on every query.
        self.con.executemany("INSERT INTO cand VALUES (?, 0, 0, 0)", ((i,) for i in range(1, 301)))
        self.con.execute("ANALYZE temp")
        self.con.execute("DELETE FROM cand")
        self._b_full_statements: dict[int, str] = {}
        codes = facet_codes()
        self.bit_of = {facet: {code: i for i, code in enumerate(values)} for facet, values in codes.items()}

    def close(self) -> None:
        self.con.close()

    def _bits(self, facet: str, values: tuple[str, ...]) -> int:
        b = 0
        for code in values:
            b |= 1 << self.bit_of[facet][code]
        return b

    def near(
        self, lat: float, lon: float, radius: float, filters: dict[str, tuple[str, ...]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, distances) of listings within radius (or visiting the point) that pass the filters."""
        where, args = [], []
        setting_bits = None
        for facet, values in filters.items():
            if facet == "setting":
                setting_bits = self._bits(facet, values)
                continue
            where.append(f"(d.{facet} & ?) != 0")
            args.append(self._bits(facet, values))
        # Listings the register says may not practise are never found (finder.safety, H1).
        where.append("d.not_practising = 0")
        facet_sql = " AND " + " AND ".join(where)
        min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius)
        loc_setting_sql = " AND (l.setting & ?) != 0" if setting_bits is not None else ""
        loc_args = [setting_bits] if setting_bits is not None else []
        rows = self.con.execute(
            "SELECT l.doc, l.lat, l.lon FROM loc_rtree t JOIN loc l ON l.id = t.id JOIN doc d ON d.id = l.doc "
            "WHERE t.min_lat >= ? AND t.max_lat <= ? AND t.min_lon >= ? AND t.max_lon <= ?"
            + loc_setting_sql + facet_sql,
            [min_lat, max_lat, min_lon, max_lon, *loc_args, *args],
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        lats = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        lons = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
        dist = haversine_km(lat, lon, lats, lons)
        keep = dist <= radius
        ids, dist = ids[keep], dist[keep]
        order = np.lexsort((dist, ids))
        ids, dist = ids[order], dist[order]
        first = np.ones(len(ids), dtype=bool)
        first[1:] = ids[1:] != ids[:-1]
        near_ids, near_dist = ids[first], dist[first]
        if setting_bits is not None:
            # a setting filter asks for a place of that kind in range: home visits alone do not count
            return near_ids, near_dist
        rows = self.con.execute(
            "SELECT h.id, h.lat, h.lon, h.radius FROM hv_rtree t JOIN hv h ON h.id = t.id JOIN doc d ON d.id = h.id "
            "WHERE t.min_lat <= ? AND t.max_lat >= ? AND t.min_lon <= ? AND t.max_lon >= ?" + facet_sql,
            [lat, lat, lon, lon, *args],
        ).fetchall()
        if rows:
            hv = np.asarray([r[1:] for r in rows], dtype=np.float64)
            hv_ids = np.asarray([r[0] for r in rows], dtype=np.int64)
            d = haversine_km(lat, lon, hv[:, 0], hv[:, 1])
            ok = (d <= hv[:, 2]) & ~np.isin(hv_ids, near_ids)
            near_ids = np.concatenate([near_ids, hv_ids[ok]])
            near_dist = np.concatenate([near_dist, d[ok]])
        return near_ids, near_dist

    def a(self, lat: float, lon: float) -> tuple[list[int], list[float]]:
        ids, dist = self.near(lat, lon, 25.0, {"specialism": ("neurological",), "funding": ("nhs",)})
        if not len(ids):
            return [], []
        # FTS restricted to the nearby candidates (rowid seeks). No bm25() here: it
        # makes FTS5 read the whole posting list of the term on every call (about
        # 20 ms at 60,000 listings), and in distance order relevance only breaks
        # exact ties, which this baseline breaks by id instead (the check allows it).
        found = self.con.execute(
            "SELECT rowid FROM fts WHERE fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
            ["syn : zzsynms", json.dumps(ids.tolist())],
        ).fetchall()
        matched = {r[0] for r in found}
        keep = np.fromiter((i in matched for i in ids.tolist()), dtype=bool, count=len(ids))
        ids, dist = ids[keep], dist[keep]
        order = np.lexsort((ids, dist))[:TOP]
        return ids[order].tolist(), dist[order].tolist()

    def b(self, lat: float, lon: float) -> tuple[list[int], list[float]]:
        ids, dist = self.near(lat, lon, 10.0, {"specialism": ("musculoskeletal",), "setting": ("private_clinic",)})
        order = np.lexsort((ids, dist))[:TOP]
        return ids[order].tolist(), dist[order].tolist()

    # ---- (b) in full: what the search page needs, all in SQL ----

    #: Great-circle distance (km) from the query point (:phi, :lam radians, :cosphi) to (lat, lon), as
    #: finder.geo.distance.haversine_km computes it.
    HAVERSINE = (
        f"(2.0 * {EARTH_RADIUS_KM!r} * asin(sqrt(min(1.0, max(0.0, "
        "pow(sin((radians({lat}) - :phi) / 2.0), 2) "
        "+ :cosphi * cos(radians({lat})) * pow(sin((radians({lon}) - :lam) / 2.0), 2))))))"
    )

    @staticmethod
    def _lanes(column: str | list[str], size: int, width: int, per: int) -> list[str]:
        """SUMs counting ``per`` bits each: the bits (of a bitmask column, or 0/1 expressions) are
        spread by one multiplication into lanes of ``width`` bits of a 64-bit integer, so that one
        SUM adds up ``per`` counters at once."""
        spread = sum(1 << ((width - 1) * j) for j in range(per))
        lanes = sum(1 << (width * j) for j in range(per))
        out = []
        for start in range(0, size, per):
            if isinstance(column, str):
                packed = f"({column} >> {start}) & {(1 << per) - 1}"
            else:
                group = column[start : start + per]
                packed = " | ".join(f"(({e}) << {j})" if j else f"({e})" for j, e in enumerate(group))
            out.append(f"SUM((({packed}) * {spread}) & {lanes})")
        return out

    def _b_full_sql(self, rows: int) -> tuple[str, int, int]:
        """One aggregate pass over the candidates for (b): every facet bit and flag summed (in
        lanes), each facet over the rows passing every filter but its own (aggregate FILTER
        clauses: sp is the specialism filter, st the setting filter)."""
        width, per = (16, 4) if rows <= 32_767 else (21, 3)
        cached = self._b_full_statements.get(width)
        if cached is not None:
            return cached, width, per
        sp, st = "(d.specialism & :sp) != 0", "(c.settings & :st) != 0"
        sums: list[str] = [f"COUNT(*) FILTER (WHERE {sp} AND {st})"]
        for facet in FACETS:
            size = len(self.bit_of[facet])
            if facet == "setting":
                # the settings of their places in range (and online), the setting filter left out
                sums += [f"{s} FILTER (WHERE {sp})" for s in self._lanes("c.settings", size, width, per)]
            elif facet == "specialism":
                sums += [f"{s} FILTER (WHERE {st})" for s in self._lanes("d.specialism", size, width, per)]
            elif facet == "referral_route":
                # the routes that apply to the searched specialism (finder.safety.route_applies)
                routes = [f"(d.rg_{code} & :groups) != 0" for code in ROUTES]
                sums += [f"{s} FILTER (WHERE {sp} AND {st})" for s in self._lanes(routes, size, width, per)]
            else:
                sums += [f"{s} FILTER (WHERE {sp} AND {st})" for s in self._lanes(f"d.{facet}", size, width, per)]
        flags = ["c.visits", "d.registered AND d.checked_day >= :fresh", "d.accepting", "d.wheelchair"]
        sums += [f"{s} FILTER (WHERE {sp} AND {st})" for s in self._lanes(flags, len(flags), width, per)]
        # CROSS JOIN: the candidates drive (the planner would otherwise scan doc)
        statement = "SELECT " + ", ".join(sums) + " FROM cand c CROSS JOIN doc d ON d.id = c.id"
        self._b_full_statements[width] = statement
        return statement, width, per

    def b_full(self, lat: float, lon: float) -> tuple[list[int], list[float], int, dict[str, dict[str, int]]]:
        """(b) as the search page needs it: the top 20, the total, every facet count with its own
        filter left out (as finder.search.query counts them) and the flag counts."""
        radius = 10.0
        sp_bits = self._bits("specialism", ("musculoskeletal",))
        st_bits = self._bits("setting", ("private_clinic",))
        min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius)
        point = {"phi": math.radians(lat), "lam": math.radians(lon), "cosphi": math.cos(math.radians(lat))}
        # 1. The listings with a location in range (R*Tree box, then exact distance), each with the
        #    settings of its locations in range (one bit per location: SUM(DISTINCT) is their OR) and
        #    the distance to its nearest private clinic. No facet filter here: each facet is counted
        #    with its own filter left out.
        self.con.execute("DELETE FROM cand")
        #    Listings that may not practise are left out; online is added to the settings; and
        #    whether their home-visit area covers the point.
        inserted = self.con.execute(
            "INSERT INTO cand (id, settings, clinic, visits) "
            "SELECT n.doc, n.settings | (d.setting & :online), n.clinic, "
            "  h.id IS NOT NULL AND " + self.HAVERSINE.format(lat="h.lat", lon="h.lon") + " <= h.radius "
            "FROM ("
            "  SELECT doc, SUM(DISTINCT setting) AS settings, MIN(CASE WHEN setting & :st THEN dist END) AS clinic FROM ("
            "    SELECT l.doc AS doc, l.setting AS setting, " + self.HAVERSINE.format(lat="l.lat", lon="l.lon") + " AS dist"
            "    FROM loc_rtree t CROSS JOIN loc l ON l.id = t.id"
            "    WHERE t.min_lat >= :min_lat AND t.max_lat <= :max_lat AND t.min_lon >= :min_lon AND t.max_lon <= :max_lon"
            "  ) WHERE dist <= :radius GROUP BY doc"
            ") n CROSS JOIN doc d ON d.id = n.doc LEFT JOIN hv h ON h.id = n.doc WHERE d.not_practising = 0",
            {**point, "st": st_bits, "radius": radius, "online": 1 << self.bit_of["setting"]["online"],
             "min_lat": min_lat, "max_lat": max_lat, "min_lon": min_lon, "max_lon": max_lon},
        )
        # 2. Counts: one aggregate pass (see _b_full_sql).
        statement, width, per = self._b_full_sql(inserted.rowcount)
        fresh = (date.today() - timedelta(days=max_check_age_days())).toordinal()
        # the searched specialism is the context that decides which referral routes apply
        groups = self._bits("specialism", referral_context("", {"specialism": ("musculoskeletal",)}).groups)
        row = self.con.execute(statement, {"sp": sp_bits, "st": st_bits, "groups": groups, "fresh": fresh}).fetchone()
        total, sums = row[0], [s or 0 for s in row[1:]]  # a SUM over no rows is NULL
        lane_mask = (1 << width) - 1
        facets: dict[str, dict[str, int]] = {}
        at = 0
        for facet in (*FACETS, "flags"):
            codes = list(self.bit_of[facet]) if facet != "flags" else list(FLAG_NAMES)
            mine = sums[at : at + -(-len(codes) // per)]
            at += len(mine)
            facets[facet] = {code: (mine[i // per] >> (width * (i % per))) & lane_mask for i, code in enumerate(codes)}
        # 3. The top 20 by distance to the nearest private clinic in range, ties by id.
        top = self.con.execute(
            "SELECT c.id, c.clinic FROM cand c CROSS JOIN doc d ON d.id = c.id "
            "WHERE (d.specialism & :sp) != 0 AND (c.settings & :st) != 0 "
            f"ORDER BY c.clinic, c.id LIMIT {TOP}",
            {"sp": sp_bits, "st": st_bits},
        ).fetchall()
        return [r[0] for r in top], [r[1] for r in top], total, facets

    def text(self, match: str) -> list[int]:
        rows = self.con.execute(
            f"SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts, {self.WEIGHTS}), rowid LIMIT {TOP}", [match]
        ).fetchall()
        return [r[0] for r in rows]

    def c(self) -> list[int]:
        return self.text("syn : zzsynms")

    def c2(self) -> list[int]:
        # the same meaning as our word concepts: the stemmed word in the text fields, or a name starting with it
        return self.text("({clinical body place} : back OR name : back*) AND ({clinical body place} : pain OR name : pain*)")


# ---------------------------------------------------------------------------
# our engine


class Ours:
    def __init__(self, index_dir: Path) -> None:
        self.handle = SearchIndex(index_dir)

    def open(self) -> float:
        started = time.perf_counter()
        with self.handle.snapshot():
            pass
        return time.perf_counter() - started

    def close(self) -> None:
        self.handle.close()

    def _run(self, **kwargs: Any) -> Any:
        return query(SearchQuery(per_page=TOP, **kwargs), index=self.handle)

    def a(self, lat: float, lon: float) -> tuple[list[int], list[float]]:
        res = self._run(
            text="multiple sclerosis", location=Location("p", lat, lon, "point", "latlon"), radius_km=25,
            filters={"specialism": ("neurological",), "funding": ("nhs",)},
            # Distance order, as documented ('auto' now blends match and distance when words are given).
            sort="distance",
        )
        return [h.id for h in res.hits], [h.distance_km for h in res.hits]

    def b(self, lat: float, lon: float) -> tuple[list[int], list[float], int, dict[str, dict[str, int]]]:
        res = self._run(
            location=Location("p", lat, lon, "point", "latlon"), radius_km=10,
            filters={"specialism": ("musculoskeletal",), "setting": ("private_clinic",)},
        )
        return [h.id for h in res.hits], [h.distance_km for h in res.hits], res.total, res.facets

    def c(self) -> list[int]:
        return [h.id for h in self._run(text="multiple sclerosis").hits]

    def c2(self) -> list[int]:
        return [h.id for h in self._run(text="back pain").hits]


# ---------------------------------------------------------------------------
# running


def query_points(seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed * 7919 + 1)
    points = []
    for i in range(POINTS):
        if i % 4 != 3:  # 75% near towns: within about 8 km of a centre
            _, lat, lon = TOWNS[rng.randrange(len(TOWNS))]
            bearing = rng.uniform(0, 2 * math.pi)
            km = rng.uniform(0, 8)
            lat += km / 111.2 * math.cos(bearing)
            lon += km / (111.2 * math.cos(math.radians(lat))) * math.sin(bearing)
        else:
            lat, lon = rng.uniform(GB_BOX[0], GB_BOX[1]), rng.uniform(GB_BOX[2], GB_BOX[3])
        points.append((lat, lon))
    return points


def same_top(ours: tuple[list[int], list[float]], theirs: tuple[list[int], list[float]]) -> bool:
    """Same ids in the same distance order; within a group of equal distances either order will do,
    and a tie group cut off at the end may hold different members."""
    ids_a, dist_a = ours
    ids_b, dist_b = theirs
    if ids_a == ids_b:
        return True
    if len(ids_a) != len(ids_b):
        return False
    if any(abs(x - y) > 1e-3 for x, y in zip(dist_a, dist_b, strict=True)):
        return False

    def groups(ids: list[int], dist: list[float]) -> list[set[int]]:
        out: list[set[int]] = []
        last = None
        for i, d in zip(ids, dist, strict=True):
            key = round(d, 3)
            if key != last:
                out.append(set())
                last = key
            out[-1].add(i)
        return out

    ga, gb = groups(ids_a, dist_a), groups(ids_b, dist_b)
    return ga[:-1] == gb[:-1]


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = func()
    return (time.perf_counter() - started) * 1000.0, result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild-index", action="store_true", help="Build our index again even if cached.")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)

    store, load_s = ensure_store(args.records, args.seed)
    documents = store.count()
    index_dir, build_s, cached = ensure_index(store, args.records, args.seed, args.rebuild_index)
    baseline_path = CACHE / f"baseline-v{BASELINE_VERSION}-{args.records}-{args.seed}.sqlite"
    baseline_done = baseline_path.with_suffix(".done")
    if baseline_done.exists():
        baseline_s = json.loads(baseline_done.read_text())["seconds"]
    else:
        print("building the SQLite baseline (once) ...", flush=True)
        baseline_s = build_baseline(store, baseline_path)
        baseline_done.write_text(json.dumps({"seconds": baseline_s}))
    store.dispose()

    ours = Ours(index_dir)
    open_s = ours.open()
    base = Baseline(baseline_path)
    build_name = current_build(index_dir)
    assert build_name is not None
    index_bytes = _dir_size(index_dir / "builds" / build_name)

    names = ("a", "b", "b_full", "c", "c2")
    times: dict[str, dict[str, list[float]]] = {q: {"ours": [], "sqlite": []} for q in names}
    first: dict[str, float] = {}
    mismatches = 0
    hits_a: list[int] = []
    for n, (lat, lon) in enumerate(query_points(args.seed)):
        jobs: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
            ("a", lambda lat=lat, lon=lon: ours.a(lat, lon), lambda lat=lat, lon=lon: base.a(lat, lon)),
            ("b", lambda lat=lat, lon=lon: ours.b(lat, lon), lambda lat=lat, lon=lon: base.b(lat, lon)),
            # the same query (b) of ours again, against a baseline doing the same work (total and counts)
            ("b_full", lambda lat=lat, lon=lon: ours.b(lat, lon), lambda lat=lat, lon=lon: base.b_full(lat, lon)),
            ("c", ours.c, base.c),
            ("c2", ours.c2, base.c2),
        ]
        for name, run_ours, run_base in jobs:
            # alternate which engine goes first, so neither always gets the warmer cache
            if n % 2:
                t_base, r_base = timed(run_base)
                t_ours, r_ours = timed(run_ours)
            else:
                t_ours, r_ours = timed(run_ours)
                t_base, r_base = timed(run_base)
            times[name]["ours"].append(t_ours)
            times[name]["sqlite"].append(t_base)
            first.setdefault(name, t_ours)
            if name in ("a", "b", "b_full") and not same_top(r_ours[:2], r_base[:2]):
                mismatches += 1
                print(f"MISMATCH {name} at ({lat:.5f}, {lon:.5f}):\n  ours   {r_ours[:2]}\n  sqlite {r_base[:2]}", file=sys.stderr)
            if name == "b_full" and r_ours[2:] != r_base[2:]:
                mismatches += 1
                print(f"MISMATCH {name} counts at ({lat:.5f}, {lon:.5f}):", file=sys.stderr)
                print(f"  total: ours {r_ours[2]} sqlite {r_base[2]}", file=sys.stderr)
                for facet, counts in r_ours[3].items():
                    theirs = r_base[3].get(facet)
                    if counts != theirs:
                        print(f"  {facet}: ours {counts}\n  {' ' * len(facet)}  sqlite {theirs}", file=sys.stderr)
            if name == "a":
                hits_a.append(len(r_ours[0]))
    ours.close()
    base.close()

    print(f"\nrecords={args.records:,} (store holds {documents:,} listings; seed {args.seed}); {POINTS} query points")
    print(f"store load {load_s:.1f} s (cached) | our index build {build_s:.1f} s{' (cached)' if cached else ''} "
          f"| SQLite baseline build {baseline_s:.1f} s | our index size {index_bytes / 1e6:.1f} MB "
          f"| searcher open {open_s * 1000:.0f} ms")
    print(f"(a) found a full top 20 at {sum(h == TOP for h in hits_a)} of {POINTS} points")
    print(f"\n{'query':<7}{'ours p50':>9}{'ours p95':>10}{'sqlite p50':>12}{'sqlite p95':>12}{'ratio p50':>11}{'ours 1st':>10}")
    result: dict[str, float] = {}
    for name in names:
        o, s = times[name]["ours"], times[name]["sqlite"]
        o50, o95, s50, s95 = statistics.median(o), pct(o, 0.95), statistics.median(s), pct(s, 0.95)
        ratio = o50 / s50 if s50 else float("inf")
        result[f"{name}_p50_ms"], result[f"{name}_p95_ms"], result[f"{name}_ratio"] = o50, o95, ratio
        result[f"{name}_sqlite_p50_ms"], result[f"{name}_sqlite_p95_ms"] = s50, s95
        print(f"{name:<7}{o50:>9.2f}{o95:>10.2f}{s50:>12.2f}{s95:>12.2f}{ratio:>11.2f}{first[name]:>10.1f}")
    print("(times in ms; 'ours 1st' is the first, cold-cache run; ours includes total + all facet counts;\n"
          " b_full: our query (b) again, against a baseline that also computes the total and every count)")
    print(
        f"RESULT records={args.records} a_p50_ms={result['a_p50_ms']:.2f} a_p95_ms={result['a_p95_ms']:.2f} "
        f"b_p50_ms={result['b_p50_ms']:.2f} b_p95_ms={result['b_p95_ms']:.2f} "
        f"b_full_p50_ms={result['b_full_sqlite_p50_ms']:.2f} b_full_p95_ms={result['b_full_sqlite_p95_ms']:.2f} "
        f"c_p50_ms={result['c_p50_ms']:.2f} c_p95_ms={result['c_p95_ms']:.2f} "
        f"c2_p50_ms={result['c2_p50_ms']:.2f} c2_p95_ms={result['c2_p95_ms']:.2f} "
        f"a_ratio={result['a_ratio']:.2f} b_ratio={result['b_ratio']:.2f} b_full_ratio={result['b_full_ratio']:.2f} "
        f"c_ratio={result['c_ratio']:.2f} "
        f"c2_ratio={result['c2_ratio']:.2f} build_s={build_s:.1f} open_s={open_s:.3f} mismatches={mismatches}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
