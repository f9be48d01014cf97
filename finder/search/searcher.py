"""An open index: Whoosh readers for text, numpy arrays for everything else.

:class:`SearchIndex` is the handle kept in ``app.extensions["finder.search"]``.
It opens the build named by ``CURRENT`` lazily, checks the pointer at most once
a second, and opens the new build when it changed; a snapshot in use by a
request is closed only when the last user lets go of it.

:class:`Snapshot` answers the building blocks of a query: the documents (and
BM25F scores) matching one text concept, the rows within a radius of a point,
and the rows whose home-visit area covers it. Posting lists and concepts are
cached per snapshot: on this data most queries repeat a small set of terms.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finder.errors import FinderError, IndexDamaged, IndexMissing
from finder.geo.distance import EARTH_RADIUS_KM, bounding_box, haversine_km
from finder.search.analysis import MIN_PREFIX, Concept, Synonyms
from finder.search.indexer import builds_dir, current_build, read_meta
from finder.search.integrity import read_manifest, verify_build
from finder.search.schema import ENGLISH_FIELDS, FIELD_WEIGHTS

EXTENSION_KEY = "finder.search"
#: BM25 parameters (the usual defaults).
K1 = 1.2
B = 0.75
#: A name that only starts with the typed word scores this share of an exact match.
PREFIX_SHARE = 0.6
MAX_PREFIX_TERMS = 300
POSTINGS_CACHE_ENTRIES = 12_000_000  # docnums held across cached posting lists
CONCEPT_CACHE_SIZE = 512
MEMO_SIZE = 4096
#: Per-row arrays kept per build (referral routes per search context): one byte or so per row each.
ARRAY_MEMO_SIZE = 32

_EMPTY_DOCS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)


#: Grid cells for the spatial index, in degrees (about 5.5 km by 5.3 km in Great Britain).
LAT_CELL = 0.05
LON_CELL = 0.08
_LON_CELLS = 8192  # > 360 / LON_CELL
#: Upper bounds (km) of the home-visit radius bands; larger radii form a last band.
HV_BANDS_KM = (5.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)
_BAND_STRIDE = 1 << 40  # above every cell number


def grid_keys(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Row-major cell number of each point."""
    return np.floor(lats / LAT_CELL).astype(np.int64) * _LON_CELLS + np.floor((lons + 180.0) / LON_CELL).astype(np.int64)


def grid_candidates(keys: np.ndarray, *boxes: tuple[tuple[float, float, float, float], int]) -> np.ndarray:
    """Indices (into cell-sorted ``keys``) of the points in the cells the boxes touch.

    Each box comes with the base of its band of keys (0, or a home-visit band, see HV_BANDS_KM).
    """
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    spans = [(math.floor(box[0] / LAT_CELL), math.floor(box[2] / LAT_CELL)) for box, _ in boxes]
    if sum(last - first + 1 for first, last in spans) <= _FEW_ROWS:
        return _few_rows(keys, boxes, spans)
    lows, highs = [], []
    for (min_lat, min_lon, max_lat, max_lon), base in boxes:
        first_col = math.floor((max(min_lon, -180.0) + 180.0) / LON_CELL)
        last_col = math.floor((min(max_lon, 180.0) + 180.0) / LON_CELL)
        rows = np.arange(math.floor(min_lat / LAT_CELL), math.floor(max_lat / LAT_CELL) + 1, dtype=np.int64)
        rows = rows * _LON_CELLS + base
        lows.append(rows + first_col)
        highs.append(rows + last_col)
    low = np.concatenate(lows) if len(lows) > 1 else lows[0]
    high = np.concatenate(highs) if len(highs) > 1 else highs[0]
    starts = np.searchsorted(keys, low, side="left")
    lengths = np.searchsorted(keys, high, side="right") - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    # The concatenation of the ranges [start, start + length) without a Python loop.
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(total, dtype=np.int64) + offsets


#: Up to this many rows of cells, grid_candidates works out the ranges in Python (fewer numpy calls).
_FEW_ROWS = 24


def _few_rows(
    keys: np.ndarray, boxes: tuple[tuple[tuple[float, float, float, float], int], ...], spans: list[tuple[int, int]]
) -> np.ndarray:
    """grid_candidates for a few rows of cells: one searchsorted, one repeat."""
    bounds: list[int] = []
    for ((_, min_lon, _, max_lon), base), (first_row, last_row) in zip(boxes, spans, strict=True):
        first_col = math.floor((max(min_lon, -180.0) + 180.0) / LON_CELL)
        last_col = math.floor((min(max_lon, 180.0) + 180.0) / LON_CELL)
        for row in range(first_row, last_row + 1):
            cell = row * _LON_CELLS + base
            bounds += (cell + first_col, cell + last_col + 1)  # keys are integers: [first, last + 1)
    return _ranges(keys.searchsorted(np.array(bounds, dtype=np.int64)).tolist())


#: Largest table of cell starts (entries) built at open; places spread wider use binary search.
MAX_CELL_TABLE = 500_000


@dataclass
class CellTable:
    """Where each grid cell's points start in cell-sorted keys, for every cell of the
    rectangle of rows and columns holding points: a box's ranges are then read from
    the table (a few entries) instead of found by binary search in the keys."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int
    starts: np.ndarray  # (rows x (columns + 1)), row-major; the extra column: the end of the row's last cell

    @classmethod
    def build(cls, keys: np.ndarray) -> CellTable | None:
        if not len(keys):
            return None
        rows, cols = np.divmod(keys, _LON_CELLS)
        first_row, last_row = int(rows[0]), int(rows[-1])
        first_col, last_col = int(cols.min()), int(cols.max())
        width = last_col - first_col + 2
        if (last_row - first_row + 1) * width > MAX_CELL_TABLE:
            return None
        cells = np.arange(first_row, last_row + 1, dtype=np.int64)[:, None] * _LON_CELLS + np.arange(
            first_col, first_col + width, dtype=np.int64
        )
        return cls(first_row, first_col, last_row, last_col, np.searchsorted(keys, cells.ravel()))

    def candidates(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """grid_candidates(keys, (box, 0)), from the table."""
        return _ranges(self.bounds(box))

    def bounds(self, box: tuple[float, float, float, float]) -> list[int]:
        """The ranges of points in the cells the box touches: [start, stop, start, stop, ...]."""
        min_lat, min_lon, max_lat, max_lon = box
        first_row = max(math.floor(min_lat / LAT_CELL), self.first_row)
        last_row = min(math.floor(max_lat / LAT_CELL), self.last_row)
        first_col = max(math.floor((max(min_lon, -180.0) + 180.0) / LON_CELL), self.first_col)
        last_col = min(math.floor((min(max_lon, 180.0) + 180.0) / LON_CELL), self.last_col)
        if first_row > last_row or first_col > last_col:
            return []
        width = self.last_col - self.first_col + 2
        at: list[int] = []
        for row in range(first_row - self.first_row, last_row - self.first_row + 1):
            at += (row * width + first_col - self.first_col, row * width + last_col - self.first_col + 1)
        return self.starts.take(at).tolist()  # type: ignore[no-any-return]


def _ranges(found: list[int]) -> np.ndarray:
    """The concatenation of the ranges [found[0], found[1]), [found[2], found[3]), ..."""
    offsets: list[int] = []
    lengths: list[int] = []
    total = 0
    for start, stop in zip(found[0::2], found[1::2], strict=True):
        offsets.append(start - total)
        lengths.append(stop - start)
        total += stop - start
    if not total:
        return np.zeros(0, dtype=np.int64)
    if offsets.count(offsets[0]) == len(offsets):  # one run
        return np.arange(offsets[0], offsets[0] + total, dtype=np.int64)
    return np.arange(total, dtype=np.int64) + np.repeat(np.array(offsets, dtype=np.int64), lengths)


def nearest_first(rows: np.ndarray, dist: np.ndarray, wanted: np.ndarray | None = None) -> np.ndarray:
    """An order sorting by row, then distance (to the millimetre): one integer sort, not a lexsort.

    With ``wanted`` (per point), a row's wanted points come before its others.
    """
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    mm = np.rint(dist * 1e6)
    if len(mm) and mm.max() >= 1 << 34:  # beyond 17,179 km (2^34 mm): capped below the row bits
        np.minimum(mm, (1 << 34) - 1, out=mm)
    key = mm.astype(np.int64)
    if wanted is None:
        key |= rows.astype(np.int64, copy=False) << 34
    else:
        key |= rows.astype(np.int64, copy=False) << 35
        key |= np.where(wanted, 0, 1 << 34)
    return key.argsort(kind="stable")


def sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted unique values of two int arrays (np.union1d is slow on small arrays)."""
    if not len(b):
        return a
    if not len(a):
        return b
    both = np.concatenate((a, b))
    both.sort()
    keep = np.empty(len(both), dtype=bool)
    keep[0] = True
    np.not_equal(both[1:], both[:-1], out=keep[1:])
    return both[keep]


def union(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Union of (sorted docs, scores) lists; scores of the same doc add up."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _EMPTY_DOCS, _EMPTY_SCORES
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    order = np.argsort(docs, kind="stable")
    docs, scores = docs[order], scores[order]
    unique, first = np.unique(docs, return_index=True)
    return unique, np.add.reduceat(scores, first)


def intersect(sets: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Docs in every set (AND), with their scores summed; smallest set first."""
    sets = sorted(sets, key=lambda s: len(s[0]))
    docs, scores = sets[0]
    for other_docs, other_scores in sets[1:]:
        if not len(docs):
            break
        docs, scores, _ = lookup(other_docs, docs, scores, other_scores)
    return docs, scores


def lookup(
    sorted_docs: np.ndarray, docs: np.ndarray, scores: np.ndarray, add_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the ``docs`` present in ``sorted_docs``; add their scores there. Returns the kept mask too."""
    if not len(sorted_docs):
        keep = np.zeros(len(docs), dtype=bool)
        return docs[keep], scores[keep], keep
    pos = np.searchsorted(sorted_docs, docs)
    np.minimum(pos, len(sorted_docs) - 1, out=pos)
    keep = sorted_docs[pos] == docs
    return docs[keep], scores[keep] + add_scores[pos[keep]], keep


@dataclass
class GeoHits:
    """Rows near a point: nearest location distance, and home-visit coverage."""

    rows: np.ndarray  # sorted unique rows
    #: km: nearest in-range location (of a preferred setting, where they have one), else the home-visit base
    distance: np.ndarray
    #: bool: their home-visit area covers the point (None: not checked, see Snapshot.near)
    visits_you: np.ndarray | None
    location_index: np.ndarray  # which of the record's locations ``distance`` is to (-1: none in range)
    settings: np.ndarray  # setting bits of the in-range locations


class Snapshot:
    """One open build. Thread-safe for reading; caches are guarded by a lock."""

    def __init__(self, index_dir: Path, name: str) -> None:
        started = time.perf_counter()
        self.name = name
        self.path = builds_dir(index_dir) / name
        # Before anything reads a file: a truncated segment must be refused here,
        # not met by Whoosh (500s, or SIGBUS on a mapped file).
        self.manifest = read_manifest(self.path)
        verify_build(self.path, files=self.manifest)
        try:
            self._open(name)
        except FinderError:
            raise
        except Exception as exc:
            raise IndexDamaged(
                f"the search index build {name} could not be opened ({type(exc).__name__}): run `finder index build`"
            ) from exc
        self._lock = threading.RLock()
        self.open_seconds = time.perf_counter() - started

    def _open(self, name: str) -> None:
        from whoosh import index as whoosh_index
        from whoosh.reading import MultiReader
        from whoosh.searching import Searcher

        self.meta = read_meta(self.path)
        self._indexes = [whoosh_index.open_dir(str(self.path / shard)) for shard in self.meta["shards"]]
        # Leaf segment readers and where their docnums start, for reading posting blocks.
        self._segments: list[tuple[Any, int]] = []
        base = 0
        for ix in self._indexes:
            reader = ix.reader()
            for sub, offset in reader.leaf_readers():
                if sub.doc_count_all():
                    self._segments.append((sub, base + offset))
            base += reader.doc_count_all()
        leaves = [sub for sub, _ in self._segments]
        if not leaves:
            self._empty_reader = self._indexes[0].reader()
            leaves = [self._empty_reader]
        self.reader = leaves[0] if len(leaves) == 1 else MultiReader(leaves)
        self.searcher = Searcher(self.reader)

        with np.load(self.path / "arrays.npz") as loaded:
            a = {key: loaded[key] for key in loaded.files}
        self.rows = len(a["pid"])
        if base != self.rows:
            raise IndexMissing(f"the index build {name} is damaged ({base} documents, {self.rows} rows): run `finder index build`")
        self.pid = a["pid"]
        self.alive = a["alive"]
        self.documents = int(self.alive.sum())
        self.codes: dict[str, list[str]] = self.meta["codes"]
        self.bit_of = {facet: {code: i for i, code in enumerate(codes)} for facet, codes in self.codes.items()}
        self.bits = {facet: a[f"bits_{facet}"] for facet in self.codes}
        self.flags = {key[5:]: value for key, value in a.items() if key.startswith("flag_")}
        if "not_practising" not in self.flags:
            # An index built before the flag existed: hide everyone not known to be
            # practising (safe, if too strict) until `finder index build` runs.
            self.flags["not_practising"] = ~self.flags["registered"]
        # When the registration was last checked (date ordinal, 0: never); None in an older index.
        self.checked_day: np.ndarray | None = a.get("checked_day")
        self.period_end_day: np.ndarray | None = a.get("period_end_day")
        # Where each referral route applies (finder.safety.route_masks); None in an older index.
        routes = self.codes.get("referral_route", [])
        self.route_groups: dict[str, np.ndarray] | None = None
        self.route_excl: dict[str, np.ndarray] | None = None
        if routes and all(f"route_groups_{code}" in a for code in routes):
            self.route_groups = {code: a[f"route_groups_{code}"] for code in routes}
            self.route_excl = {code: a[f"route_excl_{code}"] for code in routes}
        self.name_rank = a["name_rank"]
        # Sort keys (NaN: not stated); an index built before they existed sorts everyone alike.
        self.nhs_wait = a.get("nhs_wait", np.full(self.rows, np.nan))
        self.fee = a.get("fee", np.full(self.rows, np.nan))
        self.lengths = {field: a[f"len_{field}"].astype(np.float32) for field in FIELD_WEIGHTS}
        self.avg_length = {
            field: max(1.0, float(lengths[self.alive].mean()) if self.documents else 1.0)
            for field, lengths in self.lengths.items()
        }
        # Locations sorted by grid cell (row-major): a radius search reads one
        # short slice per row of cells it touches.
        live = self.alive[a["loc_row"]] if len(a["loc_row"]) else np.zeros(0, dtype=bool)
        keys = grid_keys(a["loc_lat"][live], a["loc_lon"][live])
        order = np.argsort(keys, kind="stable")
        self.loc_key = keys[order]
        self.loc_cells = CellTable.build(self.loc_key)
        self.loc_lat = a["loc_lat"][live][order]
        self.loc_lon = a["loc_lon"][live][order]
        self.loc_row = a["loc_row"][live][order]
        self.loc_index = a["loc_index"][live][order]
        self.loc_setting = a["loc_setting"][live][order]
        # For distances (see _distance): radians and the cosine of the latitude.
        # What a radius search reads of each location, side by side in cell order (one
        # sequential read per range of cells): half latitude and half longitude in radians
        # and cosine of latitude (see _haversine), row, index in the record, setting bit.
        loc_phi = np.radians(self.loc_lat)
        self.loc_data = np.stack(
            [
                loc_phi / 2.0,
                np.radians(self.loc_lon) / 2.0,
                np.cos(loc_phi),
                self.loc_row.astype(np.float64),
                self.loc_index.astype(np.float64),
                self.loc_setting.astype(np.float64),
            ],
            axis=1,
        )
        radius_of_row = a["hv_radius"].copy()
        radius_of_row[np.isnan(radius_of_row) | ~self.alive] = 0.0
        # Per row, side by side (one cache line read per candidate): coverage radius (0: none),
        # and the base's latitude and longitude in radians and cosine of latitude (see _distance).
        hv_phi = np.radians(np.nan_to_num(a["hv_lat"]))
        self.hv_area_of_row = np.stack(
            [radius_of_row, hv_phi / 2.0, np.radians(np.nan_to_num(a["hv_lon"])) / 2.0, np.cos(hv_phi)], axis=1
        )
        # Home-visit bases in bands of coverage radius, each band cell-sorted: a
        # search looks around the point only as far as each band's largest radius.
        hv_rows = np.flatnonzero(~np.isnan(a["hv_lat"]) & self.alive)
        band = np.searchsorted(np.asarray(HV_BANDS_KM), a["hv_radius"][hv_rows], side="left")
        keys = grid_keys(a["hv_lat"][hv_rows], a["hv_lon"][hv_rows]) + band.astype(np.int64) * _BAND_STRIDE
        order = np.argsort(keys, kind="stable")
        self.hv_key = keys[order]
        self.hv_rows = hv_rows[order]
        self.hv_lat = a["hv_lat"][self.hv_rows]
        self.hv_lon = a["hv_lon"][self.hv_rows]
        self.hv_radius = a["hv_radius"][self.hv_rows]
        self.hv_bands = [
            (i * _BAND_STRIDE, float(self.hv_radius[band[order] == i].max()))
            for i in range(len(HV_BANDS_KM) + 1)
            if np.any(band == i)
        ]
        self.online_rows = np.flatnonzero(self.flags["online"] & self.alive)
        self.synonyms = Synonyms.load()
        self._facet_matrix(a)
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._postings_size = 0
        self._concepts: OrderedDict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._words: tuple[list[str], dict[str, int]] | None = None
        self._memo: OrderedDict[tuple[object, ...], Any] = OrderedDict()
        self._arrays: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
        self._registered: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None
        #: finder.search.query.count_plan per tuple of active filter names (a few small tables)
        self.count_plans: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._users = 0
        self._retired = False
        self.closed = False

    def _facet_matrix(self, a: dict[str, np.ndarray]) -> None:
        """Every facet's bits and the flags side by side, one byte row per document,
        so that one pass over the candidates counts every facet; rows padded to a
        multiple of 8 bytes (32 on the current vocabularies), so that a gathered row
        seldom straddles two cache lines: a query reads each candidate's row once."""
        from finder.search.indexer import facet_codes
        from finder.search.query import FACETS, FLAG_NAMES

        columns = []
        self.facet_offset: dict[str, int] = {}
        offset = 0
        for facet in FACETS:
            values = self.bits[facet].astype(self.bits[facet].dtype.newbyteorder("<"))
            width = values.dtype.itemsize
            columns.append(values.view(np.uint8).reshape(len(values), width))
            self.facet_offset[facet] = offset * 8
            if facet == "setting":
                if width != 1:
                    raise IndexMissing("the index's settings do not fit one byte: run `finder index build`")
                self.setting_column = offset
            offset += width
        self.flag_bit = {flag: i for i, flag in enumerate(FLAG_NAMES)}
        #: In the flag byte too (never counted): the register says they may not practise (H1).
        self.not_practising_bit = len(FLAG_NAMES)
        flag_byte = np.zeros(self.rows, dtype=np.uint8)
        for flag, bit in (*self.flag_bit.items(), ("not_practising", self.not_practising_bit)):
            flag_byte |= self.flags[flag].astype(np.uint8) << np.uint8(bit)
        columns.append(flag_byte.reshape(-1, 1))
        self.flag_column = offset
        self.flag_offset = offset * 8
        offset += 1
        self.used_width = offset
        if offset % 8:
            columns.append(np.zeros((self.rows, 8 - offset % 8), dtype=np.uint8))
        #: (facet, codes, first bit in the matrix), for reading the counts out
        self.facet_slices = [(facet, self.codes[facet], self.facet_offset[facet]) for facet in FACETS]
        self.matrix = np.ascontiguousarray(np.concatenate(columns, axis=1))
        setting_codes = self.codes["setting"]
        self.online_setting_bit = (1 << setting_codes.index("online")) if "online" in setting_codes else 0
        self.codes_current = facet_codes() == self.codes

    # ---- lifetime ------------------------------------------------------------

    def __del__(self) -> None:
        # A snapshot dropped without close() (an app torn down mid-request) must
        # still release Whoosh's files rather than leave them to the collector.
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.searcher.close()
            for ix in self._indexes:
                ix.close()
            self._postings.clear()
            self._concepts.clear()

    # ---- text ------------------------------------------------------------------

    def _read_postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """All (docnum, term frequency) of one term, read block by block."""
        from whoosh.reading import TermNotFound

        doc_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        tbytes = term.encode("utf-8")
        fmt = self.reader.schema[field].format
        for sub, offset in self._segments:
            try:
                matcher = sub._terms.matcher(field, tbytes, fmt)
            except (TermNotFound, KeyError):
                continue
            except AttributeError:  # pragma: no cover - another codec: the slow, public way
                matcher = sub.postings(field, term)
                ids, weights = [], []
                while matcher.is_active():
                    ids.append(matcher.id())
                    weights.append(matcher.weight())
                    matcher.next()
                doc_parts.append(np.asarray(ids, dtype=np.int64) + offset)
                tf_parts.append(np.asarray(weights, dtype=np.float32))
                continue
            # Whole posting blocks at a time: per-posting calls cost ~10x more.
            while matcher.is_active():
                matcher._read_ids()
                matcher._read_weights()
                doc_parts.append(np.asarray(matcher._ids, dtype=np.int64) + offset)
                tf_parts.append(np.asarray(matcher._weights, dtype=np.float32))
                matcher._next_block()
        if not doc_parts:
            return _EMPTY_DOCS, np.zeros(0, dtype=np.float32)
        docs = np.concatenate(doc_parts)
        tfs = np.concatenate(tf_parts)
        if len(doc_parts) > 1 and np.any(np.diff(docs) < 0):
            order = np.argsort(docs, kind="stable")
            docs, tfs = docs[order], tfs[order]
        return docs, tfs

    def term(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted docs containing ``term`` in ``field``, with their BM25 scores (weighted)."""
        key = (field, term)
        with self._lock:
            hit = self._postings.get(key)
            if hit is not None:
                self._postings.move_to_end(key)
                return hit
        docs, tfs = self._read_postings(field, term)
        if len(docs):
            live = self.alive[docs]
            docs, tfs = docs[live], tfs[live]
        df = len(docs)
        if df:
            idf = math.log(1.0 + (self.documents - df + 0.5) / (df + 0.5))
            norm = K1 * (1.0 - B + B * self.lengths[field][docs] / self.avg_length[field])
            scores = (FIELD_WEIGHTS[field] * idf) * tfs * (K1 + 1.0) / (tfs + norm)
            result = (docs, scores.astype(np.float64))
        else:
            result = (_EMPTY_DOCS, _EMPTY_SCORES)
        with self._lock:
            self._postings[key] = result
            self._postings_size += len(docs) + 1
            while self._postings_size > POSTINGS_CACHE_ENTRIES and len(self._postings) > 1:
                _, (old, _) = self._postings.popitem(last=False)
                self._postings_size -= len(old) + 1
        return result

    def _name_prefix(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [self.term("name", word)]
        if len(word) >= MIN_PREFIX:
            for n, found in enumerate(self.reader.expand_prefix("name", word)):
                if n >= MAX_PREFIX_TERMS:
                    break
                text = found.decode("utf-8") if isinstance(found, bytes) else found
                if text != word:
                    docs, scores = self.term("name", text)
                    parts.append((docs, scores * PREFIX_SHARE))
        return union(parts)

    def _phrase(self, field: str, words: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        from whoosh.query import Phrase

        matcher = Phrase(field, list(words)).matcher(self.searcher)
        found = np.fromiter(matcher.all_ids(), dtype=np.int64) if matcher.is_active() else _EMPTY_DOCS
        if not len(found):
            return _EMPTY_DOCS, _EMPTY_SCORES
        found = np.unique(found)
        found = found[self.alive[found]]
        scores = np.zeros(len(found), dtype=np.float64)
        for word in set(words):
            docs, term_scores = self.term(field, word)
            _, added, keep = lookup(docs, found, scores, term_scores)
            scores[keep] = added
        return found, scores

    def concept(self, concept: Concept) -> tuple[np.ndarray, np.ndarray]:
        """Docs matching one text concept, with scores (cached)."""
        key = concept.key
        with self._lock:
            hit = self._concepts.get(key)
            if hit is not None:
                self._concepts.move_to_end(key)
                return hit
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        if concept.kind == "group":
            parts = [self.term(field, token) for field in ENGLISH_FIELDS for token in concept.groups]
        elif concept.kind == "phrase":
            if len(concept.english) > 1:
                parts = [self._phrase(field, concept.english) for field in ENGLISH_FIELDS]
            elif concept.english:
                parts = [self.term(field, concept.english[0]) for field in ENGLISH_FIELDS]
            if len(concept.name) > 1:
                parts.append(self._phrase("name", concept.name))
        else:
            if concept.english:
                parts = [self.term(field, concept.english[0]) for field in ENGLISH_FIELDS]
            for word in concept.name:
                parts.append(self._name_prefix(word))
        result = union(parts)
        with self._lock:
            self._concepts[key] = result
            while len(self._concepts) > CONCEPT_CACHE_SIZE:
                self._concepts.popitem(last=False)
        return result

    def remember(self, key: tuple[object, ...], compute: Any) -> Any:
        """A small per-build memo for values that depend only on the index and the key."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return value

    def remember_array(self, key: tuple[object, ...], compute: Any) -> np.ndarray:
        """Like remember(), for per-row arrays (a few of them, each as long as the index)."""
        with self._lock:
            found = self._arrays.get(key)
            if found is not None:
                self._arrays.move_to_end(key)
                return found
        value: np.ndarray = compute()
        with self._lock:
            self._arrays[key] = value
            while len(self._arrays) > ARRAY_MEMO_SIZE:
                self._arrays.popitem(last=False)
        return value

    def registered_now(self, fresh_since: int, today: int) -> tuple[np.ndarray, np.ndarray]:
        """Per row: registered to practise, checked on or after ``fresh_since`` and with a
        registration period not ended before ``today`` (date ordinals; finder.safety's
        is_shown_as_registered); and the facet matrix with that as its "registered" flag.
        Kept for the last day asked (finder.search.query.registered_now says which day)."""
        found = self._registered
        if found is not None and found[0] == (fresh_since, today):
            return found[1], found[2]
        registered = self.flags["registered"]
        if self.checked_day is not None:
            registered = registered & (self.checked_day >= fresh_since)
        if self.period_end_day is not None:
            registered = registered & ((self.period_end_day == 0) | (self.period_end_day >= today))
        matrix = self.matrix.copy()
        bit = self.flag_bit["registered"]
        column = matrix[:, self.flag_column]
        column &= np.uint8(0xFF ^ (1 << bit))
        column |= registered.astype(np.uint8) << np.uint8(bit)
        self._registered = ((fresh_since, today), registered, matrix)
        return registered, matrix

    def spelling(self) -> tuple[list[str], dict[str, int]]:
        """Known words (sorted) and how many listings use each, loaded on first use."""
        with self._lock:
            if self._words is None:
                counts = json.loads((self.path / "words.json").read_text(encoding="utf-8"))
                self._words = (sorted(counts), counts)
            return self._words

    # ---- places ----------------------------------------------------------------

    @staticmethod
    def _haversine(lat: float, lon: float, half_phi: np.ndarray, half_lam: np.ndarray, cos: np.ndarray) -> np.ndarray:
        """finder.geo.distance.haversine_km to points given by half their latitude and longitude
        in radians and the cosine of their latitude: the same operations in the same order, so
        the same values (halving is exact, so (a - b) / 2 == a / 2 - b / 2)."""
        phi1 = math.radians(lat)
        dphi = half_phi - phi1 / 2.0
        np.sin(dphi, out=dphi)
        np.square(dphi, out=dphi)
        dlambda = half_lam - math.radians(lon) / 2.0
        np.sin(dlambda, out=dlambda)
        np.square(dlambda, out=dlambda)
        a = math.cos(phi1) * cos
        a *= dlambda
        a += dphi
        # a >= 0 (squares and cosines of latitudes): only the upper clip can bite
        np.minimum(a, 1.0, out=a)
        np.sqrt(a, out=a)
        np.arcsin(a, out=a)
        a *= 2.0 * EARTH_RADIUS_KM
        return a

    def visits_you_at(self, lat: float, lon: float, rows: np.ndarray) -> np.ndarray:
        """Per row: does their home-visit area cover the point?"""
        found = np.zeros(len(rows), dtype=bool)
        area = self.hv_area_of_row.take(rows, axis=0)
        has = (area[:, 0] > 0).nonzero()[0]
        if len(has):
            area = area.take(has, axis=0)
            d = self._haversine(lat, lon, area[:, 1], area[:, 2], area[:, 3])
            found[has[d <= area[:, 0]]] = True
        return found

    def near(
        self,
        lat: float,
        lon: float,
        radius_km: float,
        *,
        prefer_settings: int = 0,
        home_visits_beyond: bool = True,
    ) -> GeoHits:
        """Rows with a location within radius_km, or whose home-visit area covers the point.

        Every row returned is in the area: a location in range, or visits to the point.
        ``prefer_settings``: setting bits the user filters on; the distance (and
        location index) is then to the nearest in-range location with one of
        them, where there is one, so that a search for a community clinic shows
        the distance to the clinic.
        ``home_visits_beyond=False``: skip practitioners who only visit the
        point (no location in range); the caller knows none of them can match.
        Whether the others visit the point is then not checked (``visits_you``
        None): the caller asks visits_you_at() for the few rows it needs.
        """
        around = bounding_box(lat, lon, radius_km)
        # The locations in the cells around the point (see loc_data for the columns).
        if self.loc_cells is not None:
            found = self.loc_cells.bounds(around)
            parts = [self.loc_data[start:stop] for start, stop in zip(found[0::2], found[1::2], strict=True) if stop > start]
            near_data = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else self.loc_data[:0]
        else:
            near_data = self.loc_data.take(grid_candidates(self.loc_key, (around, 0)), axis=0)
        dist = self._haversine(lat, lon, near_data[:, 0], near_data[:, 1], near_data[:, 2])
        inside = (dist <= radius_km).nonzero()[0]
        near_data, dist = near_data.take(inside, axis=0), dist.take(inside)
        rows = near_data[:, 3].astype(np.int64)
        loc_settings = near_data[:, 5].astype(self.loc_setting.dtype)
        # Nearest location per row: sort by (row, distance), keep the first of each row;
        # with preferred settings, the row's locations of those settings first.
        wanted = (loc_settings & self.loc_setting.dtype.type(prefer_settings)) != 0 if prefer_settings else None
        order = nearest_first(rows, dist, wanted)
        rows_sorted = rows[order]
        index_sorted = near_data[:, 4].take(order)
        loc_settings = loc_settings[order]
        first = np.empty(len(order), dtype=bool)
        first[:1] = True
        np.not_equal(rows_sorted[1:], rows_sorted[:-1], out=first[1:])
        starts = first.nonzero()[0]
        near_rows = rows_sorted[starts]
        near_dist = dist[order[starts]]
        near_index = index_sorted.take(starts).astype(np.int64)
        # Setting bits of every in-range location of each row.
        if len(near_rows) == len(rows):  # one location in range each (and no location at all)
            settings = loc_settings
        else:
            settings = np.bitwise_or.reduceat(loc_settings, starts)

        if not home_visits_beyond:
            return GeoHits(near_rows, near_dist, None, near_index, settings)

        # Home visits: the point inside the practitioner's coverage circle.
        covered_rows = _EMPTY_DOCS
        covered_dist = _EMPTY_SCORES
        if len(self.hv_rows):
            sel = grid_candidates(
                self.hv_key, *[(bounding_box(lat, lon, radius), base) for base, radius in self.hv_bands]
            )
            d = haversine_km(lat, lon, self.hv_lat[sel], self.hv_lon[sel])
            ok = d <= self.hv_radius[sel]
            covered_rows, covered_dist = self.hv_rows[sel[ok]], d[ok]
            by_row = np.argsort(covered_rows)
            covered_rows, covered_dist = covered_rows[by_row], covered_dist[by_row]
        all_rows = sorted_union(near_rows, covered_rows)
        n = len(all_rows)
        distance = np.empty(n, dtype=np.float64)
        visits_you = np.zeros(n, dtype=bool)
        location_index = np.full(n, -1, dtype=np.int64)
        setting_bits = np.zeros(n, dtype=self.loc_setting.dtype)
        pos = np.searchsorted(all_rows, covered_rows)
        visits_you[pos] = True
        distance[pos] = covered_dist
        near_pos = np.searchsorted(all_rows, near_rows)
        distance[near_pos] = near_dist  # a location in range wins over the home-visit base
        location_index[near_pos] = near_index
        setting_bits[near_pos] = settings
        return GeoHits(all_rows, distance, visits_you, location_index, setting_bits)


class SearchIndex:
    """The index handle: opens lazily, follows the CURRENT pointer, refcounts snapshots."""

    def __init__(self, index_dir: Path | str, *, check_interval: float = 1.0) -> None:
        self.index_dir = Path(index_dir)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked_at = float("-inf")
        #: The build that failed to open and why: not hashed again until CURRENT names another.
        self._refused: tuple[str, FinderError] | None = None

    def _refresh(self) -> Snapshot:
        """The snapshot to use now (caller holds the lock)."""
        now = time.monotonic()
        if self._snapshot is not None and now - self._checked_at < self.check_interval:
            return self._snapshot
        self._checked_at = now
        # Read the pointer itself (a few bytes): file times are too coarse to
        # tell two quick switches apart.
        name = current_build(self.index_dir)
        if name is None:
            if self._snapshot is not None:
                return self._snapshot
            raise IndexMissing(
                "the search index has not been built yet: run `finder index build` "
                f"(index directory {self.index_dir})"
            )
        if self._refused is not None and self._refused[0] == name:
            raise self._refused[1]
        if self._snapshot is not None and self._snapshot.name == name:
            try:
                # A stat per file, once a check interval: a file truncated under
                # us takes this build out of service before Whoosh reads past its end.
                verify_build(self._snapshot.path, digests=False, files=self._snapshot.manifest)
            except IndexDamaged as exc:
                self._refused = (name, exc)
                self._retire()
                raise
            return self._snapshot
        try:
            fresh = Snapshot(self.index_dir, name)
        except IndexMissing as exc:
            self._refused = (name, exc)
            self._retire()
            raise
        self._refused = None
        self._retire()
        self._snapshot = fresh
        return self._snapshot

    def _retire(self) -> None:
        old, self._snapshot = self._snapshot, None
        if old is not None:
            old._retired = True
            if old._users == 0:
                old.close()

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """The current build, held open for the duration of the block."""
        with self._lock:
            snap = self._refresh()
            snap._users += 1
        try:
            yield snap
        finally:
            with self._lock:
                snap._users -= 1
                if snap._retired and snap._users == 0:
                    snap.close()

    def reopen(self) -> None:
        """Check the pointer now (after a build in this process, or in tests)."""
        with self._lock:
            self._checked_at = float("-inf")

    def close(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                self._snapshot._retired = True
                if self._snapshot._users == 0:
                    self._snapshot.close()
                self._snapshot = None
