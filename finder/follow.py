"""Keeping a host's index level with a shared store, and putting a host's files right.

``finder index follow`` runs :func:`follow`: one long-running process per web
host (not a thread in a web worker: the web layer never writes the index,
gunicorn recycles and times out workers mid-request, several workers would have
to elect one, and a rebuild's CPU and memory belong outside the processes that
answer patients). It waits for the store's announcements (PostgreSQL
``LISTEN finder_store_changes``, see finder.changes) and polls as well, so a
missed notification, SQLite, or a database that restarted only delays it by one
poll. Each wake-up compares the store's change number with the index's and runs
:func:`finder.search.update_index` when they differ. Database errors are
retried with backoff (0.5 s doubling to 30 s), each logged once as one line.

:func:`doctor` is ``finder doctor``: removes what killed commands left
(temporary builds, half-written gazetteers), verifies every checksum of the
serving index and gazetteer, and reports the index's lag.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finder.changes import CHANNEL
from finder.db import Store
from finder.errors import FinderError, IndexBusy
from finder.search.indexer import UpdateReport, builds_dir, current_build, read_meta, update_index

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


def index_seq(index_dir: Path) -> int | None:
    """The store change number the serving build holds (None: no index, or unreadable)."""
    name = current_build(index_dir)
    if name is None:
        return None
    try:
        return int(read_meta(builds_dir(index_dir) / name).get("store_seq", 0))
    except (OSError, ValueError):
        return None


def catch_up(store: Store, index_dir: Path) -> UpdateReport | None:
    """Update the index when the store has writes it lacks (or there is no usable index); None when level."""
    from finder.search.integrity import verify_build

    held = index_seq(index_dir)
    if held is not None and store.change_seq() <= held:
        name = current_build(index_dir)
        try:
            if name is not None:
                verify_build(builds_dir(index_dir) / name, digests=False)
            return None
        except FinderError:
            pass  # damaged since it was built: update_index rebuilds it
    return update_index(store, index_dir)


class _Listener:
    """A PostgreSQL connection LISTENing on the change channel (psycopg), or nothing on other stores."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.connection: Any = None

    @property
    def available(self) -> bool:
        return self.store.backend == "postgresql"

    def connect(self) -> None:
        if not self.available or self.connection is not None:
            return
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.store.url).set(drivername="postgresql")
        self.connection = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5)
        self.connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Until a notification arrives, ``timeout`` passes, or ``stop`` is set."""
        if self.connection is None:
            stop.wait(timeout)
            return
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            # Short slices, so a stop request is noticed within half a second.
            for _ in self.connection.notifies(timeout=min(left, 0.5), stop_after=1):
                return

    def close(self) -> None:
        if self.connection is not None:
            # A dead connection may fail to close; it is gone either way.
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None


def follow(
    store: Store,
    index_dir: Path | str,
    *,
    poll_seconds: float = 5.0,
    stop: threading.Event | None = None,
    report: Callable[[str], None] = print,
) -> None:
    """Keep the index at ``index_dir`` level with ``store`` until ``stop`` is set (or for ever)."""
    index_dir = Path(index_dir)
    stop = stop or threading.Event()
    listener = _Listener(store)
    backoff = 0.5
    failing: str | None = None
    report(
        f"Following the store ({'LISTEN/NOTIFY and ' if listener.available else ''}polling every {poll_seconds:g} s) "
        f"for the index at {index_dir}"
    )
    while not stop.is_set():
        try:
            # Listen before looking, so a write committed in between still wakes us.
            listener.connect()
            updated = catch_up(store, index_dir)
            if failing is not None:
                report("The store answers again; following.")
                failing = None
            if updated is not None:
                report(updated.summary())
            backoff = 0.5
            listener.wait(poll_seconds, stop)
        except IndexBusy:
            # `finder index build` or an ingest's own update holds the lock: look again shortly.
            stop.wait(1.0)
        except Exception as exc:  # noqa: BLE001 - a follower outlives database restarts and full disks
            listener.close()
            what = exc.detail if isinstance(exc, FinderError) else f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            if what != failing:
                report(f"Cannot follow the store ({what}); retrying in {backoff:g} s (and backing off up to {MAX_BACKOFF_SECONDS:g} s).")
                log.debug("follow failed", exc_info=True)
                failing = what
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
    listener.close()


@dataclass
class DoctorReport:
    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def ok(self, line: str) -> None:
        self.lines.append(f"ok       {line}")

    def fixed(self, line: str) -> None:
        self.lines.append(f"fixed    {line}")

    def problem(self, line: str) -> None:
        self.problems += 1
        self.lines.append(f"PROBLEM  {line}")

    def summary(self) -> str:
        return "\n".join(self.lines)


def doctor(store: Store, index_dir: Path | str, gazetteer_path: Path | str, *, max_lag_seconds: float) -> DoctorReport:
    """Remove leftovers of killed commands, verify checksums, report the index's lag."""
    from finder.geo.gazetteer import clean_temporary as clean_gazetteer
    from finder.geo.gazetteer import verify_gazetteer
    from finder.search.indexer import build_lock, clean_temporary
    from finder.search.integrity import verify_build

    index_dir = Path(index_dir)
    gazetteer_path = Path(gazetteer_path)
    out = DoctorReport()
    try:
        with build_lock(index_dir):
            removed = clean_temporary(index_dir)
        if removed:
            out.fixed(f"removed {len(removed)} temporary file(s) left by killed index builds or updates")
    except IndexBusy:
        out.ok("an index build or update is running; its temporary files were left alone")
    name = current_build(index_dir)
    if name is None:
        out.problem(f"no search index at {index_dir}: run `finder index build`")
    else:
        try:
            verify_build(builds_dir(index_dir) / name)
            out.ok(f"index build {name}: every file matches its checksum")
        except FinderError as exc:
            out.problem(exc.detail)
        held = index_seq(index_dir) or 0
        pending = store.pending_changes(held)
        if pending.count:
            lag = pending.age_seconds()
            line = f"the index lacks {pending.count} store write(s), the oldest {lag:.0f} s ago: run `finder index update`"
            if lag > max_lag_seconds:
                out.problem(line)
            else:
                out.ok(line + " (within the allowed lag)")
        else:
            out.ok("the index is level with the store")
    removed_gazetteer = clean_gazetteer(gazetteer_path)
    if removed_gazetteer:
        out.fixed(f"removed {len(removed_gazetteer)} temporary file(s) left by killed `finder geo build`s")
    if not gazetteer_path.exists():
        out.problem(f"no gazetteer at {gazetteer_path}: run `finder geo build`")
    else:
        try:
            state = verify_gazetteer(gazetteer_path)
            if state == "verified":
                out.ok(f"gazetteer {gazetteer_path}: matches its checksum")
            else:
                out.ok(f"gazetteer {gazetteer_path}: no checksum file (built by an older version); `finder geo build` writes one")
        except FinderError as exc:
            out.problem(exc.detail)
    return out
