"""Index lifecycle: build from the store into a new directory, switch atomically, update, status.

Layout of ``INDEX_DIR``::

    CURRENT                 name of the build that serves (replaced atomically)
    build.lock              held while a build or update runs
    builds/<name>/          one complete, immutable build:
        meta.json           when, from which store state, how many listings
        arrays.npz          facets, flags, coordinates, lengths (numpy)
        names.json          name sort keys (for re-ranking on update)
        words.json          word -> listings, for spelling suggestions
        shard0/ shard1/     Whoosh indexes (text only); docnums run across shards
    builds/.tmp-<name>/     a build in progress (a crash leaves only this behind)

Docnums are rows of the numpy arrays: shard 0's documents first, then shard 1's,
in the order each worker added them. An update copies the current build (hard
links: Whoosh segment files are never rewritten), marks changed rows dead,
appends the new versions to the last shard as a new segment, and switches.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import json
import logging
import multiprocessing
import os
import queue
import shutil
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from finder.db import Store
from finder.diskspace import disk_full, is_disk_full
from finder.errors import FinderError, IndexBusy, IndexDamaged
from finder.models import StoredPractitioner
from finder.safety import is_not_practising, route_masks
from finder.search.analysis import DocAnalyser, Synonyms, fold
from finder.search.integrity import verify_build, write_manifest
from finder.vocab import (
    CONDITIONS,
    FUNDING,
    LANGUAGES,
    MEMBERSHIPS,
    PRACTISING_STATUSES,
    SETTINGS,
    SPECIALISMS,
    TREATMENTS,
    VOCABULARIES,
)

log = logging.getLogger(__name__)

#: 2: NHS wait and first-appointment fee columns (sorting);
#: 3: specialism labels indexed by name only (an older index still matches their examples as text);
#: 4: flag_not_practising, checked_day and the per-route arrays (route_groups_*, route_excl_*) of finder.safety;
#: 5: period_end_day (the registration period's end: "registered only" follows the badge's rule).
FORMAT_VERSION = 5
CURRENT = "CURRENT"
BUILDS = "builds"
TMP_PREFIX = ".tmp-"
#: Builds kept besides the current one (a web worker may still be reading one).
KEEP_OLD_BUILDS = 2
#: Below this many listings one process is quicker than starting workers.
PARALLEL_THRESHOLD = 5000
#: Memory (Whoosh's estimate; the process uses about twice that) each writer's
#: posting pool may take before it spills sorted runs to disk.
WRITER_LIMIT_MB = 1024
#: An update rebuilds from scratch when this share of rows is dead.
MAX_DEAD_SHARE = 0.25
MAX_SEGMENTS = 24

#: Facets filtered through per-document bit sets; bit i = i-th code of the
#: vocabulary when the index was built (kept in meta, so a vocabulary change
#: cannot shift bits under an old index).
FACET_VALUES: dict[str, Any] = {
    "specialism": lambda r: r.specialisms,
    "condition": lambda r: r.conditions,
    "treatment": lambda r: r.treatments,
    "setting": lambda r: r.settings,
    "funding": lambda r: r.funding,
    "referral_route": lambda r: r.route_codes,
    "language": lambda r: r.languages,
    "gender": lambda r: [r.gender] if r.gender else [],
    "membership": lambda r: r.memberships,
}
FLAGS = ("visits_home", "registered", "accepting", "wheelchair", "online", "not_practising")


def bit_dtype(size: int) -> np.dtype[Any]:
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if size <= np.dtype(dtype).itemsize * 8:
            return np.dtype(dtype)
    raise FinderError(f"a facet with {size} values does not fit the index's 64-bit sets")


def facet_codes() -> dict[str, list[str]]:
    return {name: list(VOCABULARIES[name]) for name in FACET_VALUES}


# ---------------------------------------------------------------------------
# reports


@dataclass
class BuildReport:
    build: str
    documents: int
    seconds: float
    path: Path
    workers: int = 1

    def summary(self) -> str:
        rate = self.documents / self.seconds if self.seconds else 0
        return (
            f"Built index {self.build}: {self.documents} listings in {self.seconds:.1f} s "
            f"({rate:.0f}/s, {self.workers} process{'es' if self.workers > 1 else ''}); now serving."
        )


@dataclass
class UpdateReport:
    build: str | None
    added: int = 0
    updated: int = 0
    withdrawn: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    reason: str = ""

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.withdrawn

    def summary(self) -> str:
        if self.rebuilt:
            return f"Rebuilt the whole index ({self.reason}): build {self.build} now serving."
        if self.build is None:
            return "The index is up to date with the store; nothing to do."
        return (
            f"Updated index: added {self.added}, updated {self.updated}, removed {self.withdrawn} "
            f"in {self.seconds:.1f} s; build {self.build} now serving."
        )


@dataclass
class Status:
    exists: bool
    path: Path
    build: str | None = None
    documents: int = 0
    built_at: datetime | None = None
    build_seconds: float | None = None
    kind: str | None = None
    indexed_through: datetime | None = None
    store_latest_change: datetime | None = None
    store_documents: int | None = None
    indexed_seq: int = 0
    store_seq: int = 0
    #: Seconds since the oldest write the index lacks (0 when level).
    lag_seconds: float = 0.0
    behind: bool = False
    rebuild_needed: str | None = None
    dead_rows: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def age_seconds(self) -> float | None:
        return (self.now - self.built_at).total_seconds() if self.built_at else None

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "exists": self.exists,
            "path": str(self.path),
            "build": self.build,
            "documents": self.documents,
            "built_at": iso(self.built_at),
            "build_seconds": self.build_seconds,
            "age_seconds": self.age_seconds,
            "kind": self.kind,
            "indexed_through": iso(self.indexed_through),
            "store_latest_change": iso(self.store_latest_change),
            "store_documents": self.store_documents,
            "indexed_seq": self.indexed_seq,
            "store_seq": self.store_seq,
            "lag_seconds": round(self.lag_seconds, 1),
            "behind": self.behind,
            "rebuild_needed": self.rebuild_needed,
        }

    def summary(self) -> str:
        if not self.exists:
            return f"No search index at {self.path}: run `finder index build`."
        age = self.age_seconds or 0
        lines = [
            f"Index {self.build} at {self.path}",
            f"  listings:  {self.documents}" + (f" (store has {self.store_documents})" if self.store_documents is not None else ""),
            (
                f"  built:     {self.built_at:%Y-%m-%d %H:%M:%S} UTC ({_age(age)} ago, {self.kind}"
                + (f", took {self.build_seconds:.1f} s)" if self.build_seconds is not None else ")")
                if self.built_at is not None
                else "  built:     unknown"
            ),
        ]
        if self.behind:
            lag = f" by {self.store_seq - self.indexed_seq} write(s), {_age(self.lag_seconds)}" if self.store_seq > self.indexed_seq else ""
            lines.append(f"  state:     BEHIND the store{lag}: run `finder index update`")
        else:
            lines.append("  state:     up to date with the store")
        if self.rebuild_needed:
            lines.append(f"  rebuild:   {self.rebuild_needed}: run `finder index build`")
        return "\n".join(lines)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# ---------------------------------------------------------------------------
# directory handling


def builds_dir(index_dir: Path) -> Path:
    return Path(index_dir) / BUILDS


def current_build(index_dir: Path) -> str | None:
    """Name of the build the CURRENT pointer names, if it exists."""
    try:
        name = (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name or not (builds_dir(index_dir) / name / "meta.json").is_file():
        return None
    return name


def read_meta(build_path: Path) -> dict[str, Any]:
    return json.loads((build_path / "meta.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def switch_current(index_dir: Path, name: str) -> None:
    """Point CURRENT at a finished build: one atomic rename."""
    index_dir = Path(index_dir)
    tmp = index_dir / f"{CURRENT}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / "build.lock").open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(
                f"another `finder index build` or `update` is running on {index_dir}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _new_build_name() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"


def build_bytes(build_path: Path) -> int:
    """Bytes a build takes (for "needs about ... MB" when the disk is full)."""
    try:
        return sum(p.stat().st_size for p in build_path.rglob("*") if p.is_file())
    except OSError:
        return 0


def _needed_bytes(index_dir: Path, store: Store) -> int:
    name = current_build(index_dir)
    if name is not None:
        size = build_bytes(builds_dir(index_dir) / name)
        if size:
            return size
    return store.count() * 4000  # about what a build takes per listing


@contextlib.contextmanager
def _writing(tmp: Path, index_dir: Path, store: Store, then: str) -> Iterator[None]:
    """A failed build removes its temporary directory at once; a full disk is one clear line."""
    try:
        yield
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):
            kept = "the old index keeps serving" if current_build(index_dir) else "no index was switched"
            raise disk_full(index_dir, _needed_bytes(index_dir, store), then, kept=kept) from None
        raise


def clean_temporary(index_dir: Path) -> list[Path]:
    """Remove what killed builds and updates left (call with the build lock held); returns what went."""
    index_dir = Path(index_dir)
    removed = []
    root = builds_dir(index_dir)
    for path in root.iterdir() if root.is_dir() else ():
        if path.name.startswith(TMP_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for path in index_dir.glob(f"{CURRENT}.*.tmp"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _clean_up(index_dir: Path, keep: str) -> None:
    """Remove abandoned temporary builds and all but the newest few old builds."""
    clean_temporary(index_dir)
    root = builds_dir(index_dir)
    old = []
    for path in root.iterdir():
        if path.is_dir() and path.name != keep and not path.name.startswith(TMP_PREFIX):
            old.append(path)
    old.sort(key=lambda p: p.name, reverse=True)
    for path in old[KEEP_OLD_BUILDS:]:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------
# documents


def record_texts(stored: StoredPractitioner) -> dict[str, list[str | None]]:
    """The text of a listing, per index field (see schema.FIELD_WEIGHTS)."""
    r = stored.record
    clinical: list[str | None] = [
        # Only the specialism's name: its label's examples ("Neurological (MS, stroke,
        # Parkinson's)") would make every neuro listing match "stroke" as if it said so.
        *(SPECIALISMS.label_of(c).split(" (", 1)[0] for c in r.specialisms),
        *(CONDITIONS.label_of(c) for c in r.conditions),
        *(TREATMENTS.label_of(c) for c in r.treatments),
        *(MEMBERSHIPS.label_of(c) for c in r.memberships),
    ]
    # Referral notes and route labels are left out on purpose: they are about the
    # process, and mention conditions a service does NOT take ("for MS, ask your
    # GP"), so matching on them sent MS searches to musculoskeletal-only clinics.
    # Routes are a filter facet instead.
    body: list[str | None] = (
        [r.practice_name, r.bio]
        + [SETTINGS.label_of(c) for c in r.settings]
        + [FUNDING.label_of(c) for c in r.funding]
        + [LANGUAGES.label_of(c) for c in r.languages]
        + (["Home visits"] if r.visits_home else [])
    )
    place: list[str | None] = []
    for loc in r.locations:
        place.extend((loc.name, loc.address, loc.town, loc.postcode))
    if r.home_visits is not None:
        place.append(r.home_visits.base_postcode)
    return {"name": [r.name, r.practice_name], "clinical": clinical, "body": body, "place": place}


class ShardData:
    """Per-document side data collected while documents are added (in docnum order)."""

    def __init__(self, codes: dict[str, list[str]]) -> None:
        self.codes = codes
        self.bit_of = {name: {code: i for i, code in enumerate(values)} for name, values in codes.items()}
        self.pid: list[int] = []
        self.bits: dict[str, list[int]] = {name: [] for name in codes}
        self.flags: dict[str, list[bool]] = {name: [] for name in FLAGS}
        # Where each referral route applies (finder.safety.route_masks): condition groups, excluded conditions.
        self.route_groups: dict[str, list[int]] = {code: [] for code in codes["referral_route"]}
        self.checked_day: list[int] = []
        self.period_end_day: list[int] = []
        self.route_excl: dict[str, list[int]] = {code: [] for code in codes["referral_route"]}
        self.hv: list[tuple[float, float, float]] = []
        # Sort keys for "shortest NHS wait" and "lowest fee" (NaN: not stated, sorted last).
        self.nhs_wait: list[float] = []
        self.fee: list[float] = []
        self.lengths: dict[str, list[int]] = {f: [] for f in ("name", "clinical", "body", "place")}
        self.names: list[str] = []
        self.loc_row: list[int] = []
        self.loc_index: list[int] = []
        self.loc_lat: list[float] = []
        self.loc_lon: list[float] = []
        self.loc_setting: list[int] = []
        self.words: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.pid)

    def add(self, stored: StoredPractitioner, lengths: dict[str, int], words: Iterable[str]) -> None:
        r = stored.record
        row = len(self.pid)
        self.pid.append(stored.id)
        for name, values in FACET_VALUES.items():
            bit_of = self.bit_of[name]
            bits = 0
            for code in values(r):
                index = bit_of.get(code)
                if index is not None:
                    bits |= 1 << index
            self.bits[name].append(bits)
        settings = r.settings
        self.flags["visits_home"].append(r.visits_home)
        self.flags["registered"].append(r.registration.status in PRACTISING_STATUSES)
        self.flags["accepting"].append(r.accepting_new_patients is True)
        self.flags["wheelchair"].append(bool(r.wheelchair_access))
        self.flags["online"].append("online" in settings)
        self.flags["not_practising"].append(is_not_practising(r.registration.status))
        checked = r.registration.checked_on
        self.checked_day.append(checked.toordinal() if checked else 0)
        period_to = r.registration.period_to
        self.period_end_day.append(period_to.toordinal() if period_to else 0)
        masks = route_masks(r, self.bit_of["specialism"], self.bit_of["condition"])
        for code in self.codes["referral_route"]:
            groups, excluded = masks.get(code, (0, 0))
            self.route_groups[code].append(groups)
            self.route_excl[code].append(excluded)
        hv = r.home_visits
        if hv is not None and hv.lat is not None and hv.lon is not None:
            self.hv.append((hv.lat, hv.lon, float(hv.coverage_radius_km)))
        else:
            self.hv.append((np.nan, np.nan, np.nan))
        self.nhs_wait.append(np.nan if r.nhs_waiting_weeks is None else float(r.nhs_waiting_weeks))
        self.fee.append(np.nan if r.fee_initial_gbp is None else float(r.fee_initial_gbp))
        for name, length in lengths.items():
            self.lengths[name].append(min(length, 65535))
        self.names.append(fold(r.name or ""))
        setting_bit = self.bit_of["setting"]
        for i, loc in enumerate(r.locations):
            if loc.lat is None or loc.lon is None:
                continue
            self.loc_row.append(row)
            self.loc_index.append(i)
            self.loc_lat.append(loc.lat)
            self.loc_lon.append(loc.lon)
            self.loc_setting.append(1 << setting_bit[loc.setting] if loc.setting in setting_bit else 0)
        self.words.update(set(words))

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"pid": np.asarray(self.pid, dtype=np.int64)}
        for name, values in self.bits.items():
            out[f"bits_{name}"] = np.asarray(values, dtype=bit_dtype(len(self.codes[name])))
        for name, flags in self.flags.items():
            out[f"flag_{name}"] = np.asarray(flags, dtype=bool)
        for code in self.codes["referral_route"]:
            out[f"route_groups_{code}"] = np.asarray(self.route_groups[code], dtype=bit_dtype(len(self.codes["specialism"])))
            out[f"route_excl_{code}"] = np.asarray(self.route_excl[code], dtype=bit_dtype(len(self.codes["condition"])))
        out["checked_day"] = np.asarray(self.checked_day, dtype=np.int32)
        out["period_end_day"] = np.asarray(self.period_end_day, dtype=np.int32)
        hv = np.asarray(self.hv, dtype=np.float64).reshape(-1, 3)
        out["hv_lat"], out["hv_lon"], out["hv_radius"] = hv[:, 0].copy(), hv[:, 1].copy(), hv[:, 2].copy()
        out["nhs_wait"] = np.asarray(self.nhs_wait, dtype=np.float64)
        out["fee"] = np.asarray(self.fee, dtype=np.float64)
        for name, lengths in self.lengths.items():
            out[f"len_{name}"] = np.asarray(lengths, dtype=np.uint16)
        out["loc_row"] = np.asarray(self.loc_row, dtype=np.int64)
        out["loc_index"] = np.asarray(self.loc_index, dtype=np.int16)
        out["loc_lat"] = np.asarray(self.loc_lat, dtype=np.float64)
        out["loc_lon"] = np.asarray(self.loc_lon, dtype=np.float64)
        out["loc_setting"] = np.asarray(self.loc_setting, dtype=bit_dtype(len(self.codes["setting"])))
        return out


def analyse(analyser: DocAnalyser, stored: StoredPractitioner) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """Whoosh document fields (pre-analysed), field lengths, and the words for spelling."""
    texts = record_texts(stored)
    doc: dict[str, Any] = {"pid": str(stored.id)}
    lengths: dict[str, int] = {}
    words: list[str] = []
    for name, pieces in texts.items():
        content, length = analyser.field(pieces, names=name == "name", spelling=words)
        lengths[name] = length
        if content:
            doc[name] = content
    return doc, lengths, words


def _write_shard(
    shard_path: Path,
    practitioners: Iterable[StoredPractitioner],
    codes: dict[str, list[str]],
    tick: Any = None,
) -> ShardData:
    """Index practitioners into a new Whoosh index at ``shard_path``; return their side data."""
    from whoosh import index as whoosh_index

    from finder.search.schema import build_schema

    shard_path.mkdir(parents=True)
    ix = whoosh_index.create_in(str(shard_path), build_schema())
    analyser = DocAnalyser(Synonyms.load())
    data = ShardData(codes)
    writer = ix.writer(limitmb=WRITER_LIMIT_MB)
    # Millions of posting tuples are alive until the commit: the cyclic garbage
    # collector would walk them all again and again, for nothing (they hold no cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        pending = 0
        for stored in practitioners:
            if stored.withdrawn_at is not None:
                continue
            doc, lengths, words = analyse(analyser, stored)
            writer.add_document(**doc)
            data.add(stored, lengths, words)
            pending += 1
            if tick is not None and pending >= 250:
                tick(pending)
                pending = 0
        if tick is not None and pending:
            tick(pending)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    finally:
        if collecting:
            gc.enable()
        ix.close()
    return data


def _exit_with_parent() -> None:
    """End this worker at once if the build process dies (kill -9, OOM killer).

    Otherwise an orphaned worker finishes its shard and then blocks for ever
    putting the result on a queue nobody reads, holding its memory.
    """
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _shard_worker(url: str, shard: int, shards: int, shard_path: str, codes: dict[str, list[str]], results: Any) -> None:
    """Worker process: read one shard of the store, index it, send back its side data."""
    _exit_with_parent()
    try:
        store = Store(url)
        try:
            data = _write_shard(
                Path(shard_path),
                store.iter_practitioners(include_withdrawn=False, shard=(shard, shards)),
                codes,
                tick=lambda n: results.put(("progress", shard, n)),
            )
        finally:
            store.dispose()
        results.put(("done", shard, (data.arrays(), data.names, dict(data.words))))
    except BaseException as exc:
        # The parent reports one line (and a full disk as such); the traceback goes to the log.
        log.error("index worker %s failed:\n%s", shard, traceback.format_exc())
        results.put(("error", shard, (is_disk_full(exc), f"{type(exc).__name__}: {str(exc)[:200]}")))


# ---------------------------------------------------------------------------
# combining shards and saving side data


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    offset = 0
    pieces: dict[str, list[np.ndarray]] = {key: [] for key in parts[0]}
    for part in parts:
        for key, value in part.items():
            pieces[key].append(value + offset if key == "loc_row" else value)
        offset += len(part["pid"])
    for key, values in pieces.items():
        out[key] = np.concatenate(values)
    return out


def _name_rank(names: list[str]) -> np.ndarray:
    order = sorted(range(len(names)), key=lambda i: names[i])
    rank = np.empty(len(names), dtype=np.int32)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(names), dtype=np.int32)
    return rank


def _save(build_path: Path, arrays: dict[str, np.ndarray], names: list[str], words: dict[str, int], meta: dict[str, Any]) -> None:
    arrays = dict(arrays)
    arrays["name_rank"] = _name_rank(names)
    with (build_path / "arrays.npz").open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    (build_path / "names.json").write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
    (build_path / "words.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    meta = dict(meta)
    meta["rows"] = int(len(arrays["pid"]))
    meta["documents"] = int(arrays["alive"].sum())
    (build_path / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    write_manifest(build_path)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# ---------------------------------------------------------------------------
# build


def build_index(store: Store, index_dir: Path | str, *, progress: bool = False, workers: int | None = None) -> BuildReport:
    """Build a complete index from the store in a new directory, then switch to it."""
    index_dir = Path(index_dir)
    started = time.perf_counter()
    with build_lock(index_dir):
        root = builds_dir(index_dir)
        root.mkdir(parents=True, exist_ok=True)
        _clean_up(index_dir, keep=current_build(index_dir) or "")
        name = _new_build_name()
        tmp = root / (TMP_PREFIX + name)
        with _writing(tmp, index_dir, store, "finder index build"):
            final = _build_into(store, index_dir, tmp, name, started, progress, workers)
        switch_current(index_dir, name)
        _clean_up(index_dir, keep=name)
        meta = read_meta(final)
    report = BuildReport(
        build=name, documents=int(meta["documents"]), seconds=time.perf_counter() - started, path=final, workers=int(meta["workers"])
    )
    log.info("%s", report.summary())
    return report


def _build_into(
    store: Store, index_dir: Path, tmp: Path, name: str, started: float, progress: bool, workers: int | None
) -> Path:
    root = tmp.parent
    tmp.mkdir()
    # Taken before reading: anything that changes while we read is picked
    # up by the next `finder index update` (re-applying it is harmless).
    store_seq = store.change_seq()
    store_mark = store.latest_change()
    total = store.count()
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if total >= PARALLEL_THRESHOLD else 1
    codes = facet_codes()
    bar = tqdm(total=total, desc="indexing", unit=" listings", disable=not progress, leave=False)
    try:
        if workers <= 1:
            data = _write_shard(
                tmp / "shard0", store.iter_practitioners(include_withdrawn=False), codes, tick=bar.update
            )
            parts = [(data.arrays(), data.names, dict(data.words))]
        else:
            parts = _parallel_shards(store.url, tmp, workers, codes, bar)
    finally:
        bar.close()
    arrays = _concat([p[0] for p in parts])
    arrays["alive"] = np.ones(len(arrays["pid"]), dtype=bool)
    names = [n for p in parts for n in p[1]]
    words: Counter[str] = Counter()
    for p in parts:
        words.update(p[2])
    seconds = time.perf_counter() - started
    meta = {
        "format": FORMAT_VERSION,
        "name": name,
        "kind": "full build",
        "built_at": datetime.now(UTC).isoformat(),
        "store_mark": _iso(store_mark),
        "store_seq": store_seq,
        "shards": [f"shard{i}" for i in range(len(parts))],
        "codes": codes,
        "synonyms": Synonyms.load().digest,
        "seconds": round(seconds, 3),
        "workers": workers,
    }
    _save(tmp, arrays, names, dict(words), meta)
    final = root / name
    os.replace(tmp, final)
    _fsync_dir(root)
    return final


def _start_method() -> str:
    """spawn, not fork: the parent may hold database connections and threads.

    spawn re-imports the parent's main script; when that is not a real file
    (``python -`` reading stdin) fall back to fork, which needs no script.
    """
    import sys

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is not None and not Path(main_file).is_file():
        return "fork"
    return "spawn"


def _parallel_shards(
    url: str, tmp: Path, workers: int, codes: dict[str, list[str]], bar: Any
) -> list[tuple[dict[str, np.ndarray], list[str], dict[str, int]]]:
    context: Any = multiprocessing.get_context(_start_method())
    results = context.Queue()
    processes = [
        context.Process(
            target=_shard_worker,
            args=(url, k, workers, str(tmp / f"shard{k}"), codes, results),
            name=f"finder-index-shard{k}",
            daemon=True,
        )
        for k in range(workers)
    ]
    for process in processes:
        process.start()
    done: dict[int, Any] = {}
    try:
        while len(done) < workers:
            try:
                kind, shard, payload = results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise FinderError(f"an index worker died (exit code {dead[0].exitcode}); the old index keeps serving") from None
                continue
            if kind == "progress":
                bar.update(payload)
            elif kind == "error":
                full, what = payload
                if full:
                    raise OSError(errno.ENOSPC, f"index worker {shard}: no space left on device")
                raise FinderError(f"index worker {shard} failed ({what}); the old index keeps serving")
            else:
                done[shard] = payload
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()
        results.close()
        results.join_thread()
    return [done[k] for k in range(workers)]


# ---------------------------------------------------------------------------
# update


def _copy_build(source: Path, target: Path) -> None:
    """Copy a build; Whoosh files are hard-linked (they are never modified in place)."""

    def link_or_copy(src: str, dst: str) -> None:
        if Path(src).name.endswith("LOCK"):
            return
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    for shard in sorted(p for p in source.iterdir() if p.is_dir()):
        shutil.copytree(shard, target / shard.name, copy_function=link_or_copy)


def update_index(store: Store, index_dir: Path | str, *, progress: bool = False) -> UpdateReport:
    """Apply the listings added, changed or withdrawn since the current build; then switch."""
    index_dir = Path(index_dir)
    started = time.perf_counter()
    name = current_build(index_dir)
    if name is None:
        built = build_index(store, index_dir, progress=progress)
        return UpdateReport(build=built.build, rebuilt=True, reason="there was no index yet", seconds=built.seconds)
    source = builds_dir(index_dir) / name
    try:
        verify_build(source)
        meta = read_meta(source)
        reason = _rebuild_reason(meta)
    except IndexDamaged as exc:
        meta, reason = {}, f"the current build is damaged: {exc.detail.split(': run')[0]}"
    if reason is None:
        with np.load(source / "arrays.npz") as loaded:
            rows = len(loaded["pid"])
            dead = rows - int(loaded["alive"].sum())
        if rows and dead / rows > MAX_DEAD_SHARE:
            reason = f"{dead} of {rows} rows are old versions"
    if reason is not None:
        built = build_index(store, index_dir, progress=progress)
        return UpdateReport(build=built.build, rebuilt=True, reason=reason, seconds=built.seconds)

    with build_lock(index_dir):
        if current_build(index_dir) != name:
            raise IndexBusy("the index was switched while this update started; run `finder index update` again")
        clean_temporary(index_dir)
        # Both read before the listings: anything committed later is numbered
        # higher and picked up by the next update (re-applying it is harmless).
        store_seq = store.change_seq()
        store_mark = store.latest_change()
        indexed_seq = int(meta.get("store_seq", 0))
        since = _parse_iso(meta.get("store_mark"))
        pending = store.pending_changes(indexed_seq)
        if since is not None and pending.earliest is not None and pending.earliest <= since:
            # A write that committed after the one this index read last, with
            # older timestamps (it started first): read from its start.
            since = pending.earliest - timedelta(microseconds=1)
        changed = list(store.iter_practitioners(changed_since=since, include_withdrawn=True)) if since else list(
            store.iter_practitioners(include_withdrawn=True)
        )
        if not changed and store_seq == indexed_seq:
            return UpdateReport(build=None, seconds=time.perf_counter() - started)
        new_name = _new_build_name()
        root = builds_dir(index_dir)
        tmp = root / (TMP_PREFIX + new_name)
        with _writing(tmp, index_dir, store, "finder index update"):
            tmp.mkdir()
            _copy_build(source, tmp)
            with np.load(source / "arrays.npz") as loaded:
                arrays = {key: loaded[key] for key in loaded.files}
            arrays.pop("name_rank", None)
            names = json.loads((source / "names.json").read_text(encoding="utf-8"))
            words = Counter(json.loads((source / "words.json").read_text(encoding="utf-8")))

            report = UpdateReport(build=new_name)
            pid = arrays["pid"]
            alive = arrays["alive"].copy()
            known = {int(p): i for i, p in enumerate(pid) if alive[i]}
            for stored in changed:
                row = known.get(stored.id)
                if row is not None:
                    alive[row] = False
                if stored.withdrawn_at is not None:
                    report.withdrawn += row is not None
                elif row is not None:
                    report.updated += 1
                else:
                    report.added += 1
            arrays["alive"] = alive

            from whoosh import index as whoosh_index

            codes = meta["codes"]
            shard_names = meta["shards"]
            data = ShardData(codes)
            # Whoosh deletions keep its own statistics honest; our alive mask is what filters.
            # Nothing to write when only the change number moved (a write whose rows
            # an earlier update already read): the new build then differs in meta only.
            for shard in shard_names if changed else ():
                ix = whoosh_index.open_dir(str(tmp / shard))
                try:
                    writer = ix.writer(limitmb=WRITER_LIMIT_MB)
                    try:
                        for stored in changed:
                            writer.delete_by_term("pid", str(stored.id))
                        if shard == shard_names[-1]:
                            analyser = DocAnalyser(Synonyms.load())
                            for stored in tqdm(changed, desc="updating", unit=" listings", disable=not progress, leave=False):
                                if stored.withdrawn_at is not None:
                                    continue
                                doc, lengths, doc_words = analyse(analyser, stored)
                                writer.add_document(**doc)
                                data.add(stored, lengths, doc_words)
                        # merge=False: existing documents keep their numbers, so the
                        # side arrays only grow at the end.
                        writer.commit(merge=False)
                    except BaseException:
                        writer.cancel()
                        raise
                finally:
                    ix.close()
            new = data.arrays()
            new["alive"] = np.ones(len(new["pid"]), dtype=bool)
            arrays = _concat([arrays, new]) if len(new["pid"]) else arrays
            names.extend(data.names)
            words.update(data.words)
            seconds = time.perf_counter() - started
            new_meta = dict(meta)
            new_meta.update(
                {
                    "name": new_name,
                    "kind": "update",
                    "parent": name,
                    "built_at": datetime.now(UTC).isoformat(),
                    "store_mark": _iso(store_mark),
                    "store_seq": store_seq,
                    "seconds": round(seconds, 3),
                    "segments": int(meta.get("segments", len(shard_names))) + (1 if changed else 0),
                }
            )
            _save(tmp, arrays, names, dict(words), new_meta)
            os.replace(tmp, root / new_name)
            _fsync_dir(root)
        switch_current(index_dir, new_name)
        _clean_up(index_dir, keep=new_name)
    report.seconds = time.perf_counter() - started
    return report


def _rebuild_reason(meta: dict[str, Any]) -> str | None:
    if meta.get("format") != FORMAT_VERSION:
        return "the index format changed"
    if meta.get("synonyms") != Synonyms.load().digest:
        return "the synonyms list changed"
    if meta.get("codes") != facet_codes():
        return "a vocabulary changed"
    if int(meta.get("segments", 0)) > MAX_SEGMENTS:
        return "too many small updates"
    return None


# ---------------------------------------------------------------------------
# status


def index_status(store: Store, index_dir: Path | str) -> Status:
    """Document count, build time, age, and whether the index is behind the store."""
    index_dir = Path(index_dir)
    name = current_build(index_dir)
    if name is None:
        return Status(exists=False, path=index_dir)
    try:
        meta = read_meta(builds_dir(index_dir) / name)
    except (OSError, ValueError):
        return Status(exists=True, path=index_dir, build=name, behind=True, rebuild_needed="the build's meta.json is damaged")
    latest = store.latest_change()
    through = _parse_iso(meta.get("store_mark"))
    indexed_seq = int(meta.get("store_seq", 0))
    pending = store.pending_changes(indexed_seq)
    behind = pending.count > 0 or (latest is not None and (through is None or latest > through))
    return Status(
        indexed_seq=indexed_seq,
        store_seq=pending.seq,
        lag_seconds=pending.age_seconds(),
        exists=True,
        path=index_dir,
        build=name,
        documents=int(meta.get("documents", 0)),
        built_at=_parse_iso(meta.get("built_at")),
        build_seconds=meta.get("seconds"),
        kind=meta.get("kind"),
        indexed_through=through,
        store_latest_change=latest,
        store_documents=store.count(),
        behind=behind,
        rebuild_needed=_rebuild_reason(meta),
        dead_rows=int(meta.get("rows", 0)) - int(meta.get("documents", 0)),
    )
