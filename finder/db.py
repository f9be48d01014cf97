"""Engine, sessions, migrations and the read API of the store.

``Store`` is the one way into the database. The web layer gets it from
``app.extensions["finder.store"]``; CLI commands and tests build one from a URL.
"""

from __future__ import annotations

import collections
import copy
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from sqlalchemy import Engine, bindparam, create_engine, event, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from finder.models import (
    IngestRun,
    Practitioner,
    PractitionerLocation,
    SourceRecord,
    StoredPractitioner,
    stored_of,
    to_stored,
)

if TYPE_CHECKING:
    from flask import Flask

    from finder.models import RegistrationCheck
    from finder.sites import StoredGpSurgery

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
EXTENSION_KEY = "finder.store"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers keep reading the last committed state while an ingest writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass(frozen=True)
class PendingChanges:
    """Writes an index has not applied yet: how many, the newest number, when the first was made."""

    count: int
    seq: int
    first_at: datetime | None
    earliest: datetime | None

    def age_seconds(self, now: datetime | None = None) -> float:
        if self.first_at is None:
            return 0.0
        return max(0.0, ((now or datetime.now(UTC)) - self.first_at).total_seconds())


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back a naive (UTC) value or even text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _read_many_statements() -> tuple[Any, Any, Any]:
    """Store._read_many's three queries, built once: practitioners by id, then their places and
    their sources (``ids``: an expanding parameter, a list of any length)."""
    practitioners = Practitioner.__table__
    places = PractitionerLocation.__table__
    sources = SourceRecord.__table__
    ids: Any = bindparam("ids", expanding=True)
    return (
        select(practitioners).where(practitioners.c.id.in_(ids)),
        select(places).where(places.c.practitioner_id.in_(ids)).order_by(places.c.practitioner_id, places.c.position),
        select(sources).where(sources.c.practitioner_id.in_(ids)).order_by(sources.c.id),
    )


_READ_MANY = _read_many_statements()


def read_json(text: str | bytes) -> Any:
    """A JSON column's value: orjson first (about 8 columns a listing, a fifth of the standard
    library's time), the standard library for what orjson refuses and json.dumps writes (NaN,
    Infinity, integers beyond 64 bits, say in an ingest run's problems), so nothing stored
    becomes unreadable. Writing stays with the standard library."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class RowCache:
    """Practitioners as last read, kept while the store has not changed since.

    Every committed write to the listings numbers itself in ``store_changes``
    (finder.changes), in the same transaction as the write. A reader asks for
    the newest number first and then for rows: rows kept under an older number
    are dropped before anything is served, and rows read while a newer write was
    committing are only kept under the number read before them (a later reader
    who sees the newer number drops them). So nothing served is older than the
    store at the moment the request asked. Least recently used rows go first
    beyond ``size``; the objects are shared, so callers must not change them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.seq: int | None = None
        self._rows: collections.OrderedDict[int, StoredPractitioner] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup(self, seq: int, ids: Sequence[int]) -> tuple[dict[int, StoredPractitioner], list[int]]:
        """(rows kept for ``ids``, ids to read) as of change number ``seq``."""
        with self._lock:
            if seq != self.seq:
                self._rows.clear()
                self.seq = seq
            found: dict[int, StoredPractitioner] = {}
            missing: list[int] = []
            for practitioner_id in ids:
                row = self._rows.get(practitioner_id)
                if row is None:
                    missing.append(practitioner_id)
                else:
                    self._rows.move_to_end(practitioner_id)
                    found[practitioner_id] = row
            self.hits += len(found)
            self.misses += len(missing)
            return found, missing

    def keep(self, seq: int, rows: Iterable[StoredPractitioner]) -> None:
        with self._lock:
            if seq != self.seq:
                return  # the store moved on while these were read: never keep them under a newer number
            for row in rows:
                self._rows[row.id] = row
                self._rows.move_to_end(row.id)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


class Store:
    """A database of practitioner listings at one SQLAlchemy URL."""

    def __init__(self, url: str, *, echo: bool = False, row_cache_size: int = 0) -> None:
        self.url = url
        parsed = make_url(url)
        # hide_parameters: a failed statement's message (disk full, a constraint)
        # must never carry row data into an error, a traceback or a log.
        kwargs: dict[str, Any] = {
            "echo": echo, "future": True, "hide_parameters": True, "json_deserializer": read_json,
        }
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._stats_cache: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        #: The web app keeps recently shown listings (RowCache); commands read the database every time.
        self.row_cache = RowCache(row_cache_size) if row_cache_size > 0 else None
        self._remembered: dict[str, tuple[Any, Any]] = {}

    def location(self) -> str:
        """Where the data lives, safe to print: the SQLite file, or the PostgreSQL database's name (no host, no credentials)."""
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            return str(Path(parsed.database or ":memory:").absolute())
        return f"the {parsed.get_backend_name()} database {parsed.database or ''}".rstrip()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- sessions and schema -------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
        finally:
            # close() ends the transaction and detaches objects with their loaded state intact.
            session.close()

    def _alembic_config(self, connection: Any) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["connection"] = connection
        return config

    def upgrade(self) -> None:
        """Create or migrate the schema to the latest revision (idempotent)."""
        from alembic import command

        with self.engine.begin() as connection:
            command.upgrade(self._alembic_config(connection), "head")

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        with self.engine.connect() as connection:
            return ScriptDirectory.from_config(self._alembic_config(connection)).get_current_head()

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("practitioners")

    # ---- reads -----------------------------------------------------------------

    def get(self, practitioner_id: int, *, seq: int | None = None) -> StoredPractitioner | None:
        found = self.get_many([practitioner_id], seq=seq)
        return found[0] if found else None

    def get_many(self, ids: Sequence[int], *, seq: int | None = None) -> list[StoredPractitioner]:
        """Practitioners in the order of ``ids`` (missing ids are skipped).

        ``seq``: the store's change number, read by the caller before this call
        (a web request reads it once); read here when not given.
        """
        if not ids:
            return []
        cache = self.row_cache
        if cache is None:
            by_id = self._read_many(ids)
        else:
            if seq is None:
                seq = self.change_seq()  # first: see RowCache
            by_id, missing = cache.lookup(seq, ids)
            if missing:
                read = self._read_many(missing)
                cache.keep(seq, read.values())
                by_id.update(read)
        return [by_id[i] for i in ids if i in by_id]

    def _read_many(self, ids: Sequence[int]) -> dict[int, StoredPractitioner]:
        """Three plain queries (rows, their places, their sources) read as columns: no ORM objects,
        identity map or relationship loading, which cost more than the queries on every page."""
        rows_by_id, places_of, sources_of = _READ_MANY
        with self.engine.connect() as connection:
            rows = connection.execute(rows_by_id, {"ids": list(ids)}).all()
            if not rows:
                return {}
            found = [row.id for row in rows]
            located: dict[int, list[Any]] = {i: [] for i in found}
            for place in connection.execute(places_of, {"ids": found}):
                located[place.practitioner_id].append(place)
            provenance: dict[int, list[Any]] = {i: [] for i in found}
            for link in connection.execute(sources_of, {"ids": found}):
                provenance[link.practitioner_id].append(link)
        return {row.id: stored_of(row, located[row.id], provenance[row.id]) for row in rows}

    def iter_practitioners(
        self,
        *,
        changed_since: datetime | None = None,
        batch_size: int = 2000,
        include_withdrawn: bool = True,
        shard: tuple[int, int] | None = None,
    ) -> Iterator[StoredPractitioner]:
        """Every practitioner (optionally only those changed since a time), in id order.

        ``shard=(k, n)`` yields only ids with ``id % n == k``, so that n processes
        (the index builder's workers) can read the store in parallel.
        """
        last_id = 0
        while True:
            with self.reader() as session:
                stmt = select(Practitioner).where(Practitioner.id > last_id)
                if shard is not None:
                    stmt = stmt.where(Practitioner.id % shard[1] == shard[0])
                if changed_since is not None:
                    stmt = stmt.where(Practitioner.updated_at > changed_since)
                if not include_withdrawn:
                    stmt = stmt.where(Practitioner.withdrawn_at.is_(None))
                rows = session.scalars(stmt.order_by(Practitioner.id).limit(batch_size)).all()
                batch = [to_stored(row) for row in rows]
            if not batch:
                return
            yield from batch
            last_id = batch[-1].id

    def listing_page(self, offset: int, limit: int) -> list[StoredPractitioner]:
        """Current (not withdrawn) practitioners in id order, ``limit`` from ``offset``: a feed's pages."""
        with self.reader() as session:
            stmt = (
                select(Practitioner)
                .where(Practitioner.withdrawn_at.is_(None))
                .order_by(Practitioner.id)
                .offset(offset)
                .limit(limit)
            )
            return [to_stored(row) for row in session.scalars(stmt).all()]

    def listing_keys(self) -> list[tuple[int, str, str, int]]:
        """(practitioner id, first source, its source id, number of locations) for every practitioner.

        The first source names a listing for ever: published ids (Open Referral UK) derive from it.
        """
        with self.reader() as session:
            first = (
                select(SourceRecord.practitioner_id, func.min(SourceRecord.id).label("first_id"))
                .group_by(SourceRecord.practitioner_id)
                .subquery()
            )
            places = (
                select(PractitionerLocation.practitioner_id, func.count(PractitionerLocation.id).label("n"))
                .group_by(PractitionerLocation.practitioner_id)
                .subquery()
            )
            stmt = (
                select(SourceRecord.practitioner_id, SourceRecord.source, SourceRecord.source_id, func.coalesce(places.c.n, 0))
                .join(first, first.c.first_id == SourceRecord.id)
                .outerjoin(places, places.c.practitioner_id == SourceRecord.practitioner_id)
            )
            return [(int(pid), source, source_id, int(n)) for pid, source, source_id, n in session.execute(stmt)]

    def change_key(self) -> tuple[Any, ...]:
        """Moves whenever a listing is added, changed or withdrawn (both parts come from indexes)."""
        with self.reader() as session:
            return tuple(session.execute(select(func.count(Practitioner.id), func.max(Practitioner.updated_at))).one())

    def count(self, *, include_withdrawn: bool = False) -> int:
        with self.reader() as session:
            stmt = select(func.count(Practitioner.id))
            if not include_withdrawn:
                stmt = stmt.where(Practitioner.withdrawn_at.is_(None))
            return int(session.scalar(stmt) or 0)

    def latest_change(self) -> datetime | None:
        """When any practitioner last changed (added, updated or withdrawn)."""
        with self.reader() as session:
            return session.scalar(select(func.max(Practitioner.updated_at)))

    def change_seq(self) -> int:
        """The number of the newest committed write to the listings (0: none yet); see finder.changes."""
        from finder.models import StoreChange

        # A bare connection (no ORM session): the row cache asks this on every page.
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.coalesce(func.max(StoreChange.seq), 0))) or 0)

    def pending_changes(self, after: int) -> PendingChanges:
        """The writes numbered above ``after`` (what an index holding ``after`` lacks)."""
        from finder.models import StoreChange

        with self.reader() as session:
            count, last, first_at, earliest = session.execute(
                select(
                    func.count(StoreChange.seq),
                    func.max(StoreChange.seq),
                    func.min(StoreChange.changed_at),
                    func.min(StoreChange.earliest),
                ).where(StoreChange.seq > after)
            ).one()
        return PendingChanges(
            count=int(count or 0), seq=int(last or after), first_at=_aware(first_at), earliest=_aware(earliest)
        )

    def has_sample_records(self, *, seq: int | None = None) -> bool:
        """Whether any current listing is fictional sample data; kept per change number ``seq`` when given."""
        if seq is None:
            return self._any_sample()
        return self.remember("has_sample_records", seq, self._any_sample)

    def _any_sample(self) -> bool:
        with self.reader() as session:
            stmt = select(Practitioner.id).where(
                Practitioner.is_sample.is_(True), Practitioner.withdrawn_at.is_(None)
            )
            return session.scalar(stmt.limit(1)) is not None

    def ingest_runs(self, limit: int = 10) -> list[IngestRun]:
        with self.reader() as session:
            stmt = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
            return list(session.scalars(stmt).all())

    def runs_key(self) -> tuple[int, int]:
        """(newest ingest run, newest change number): moves with every load of any source, and
        with every write to the listings (GP practice loads write no change number, but a run)."""
        from finder.models import StoreChange

        with self.engine.connect() as connection:
            row = connection.execute(
                select(
                    select(func.coalesce(func.max(IngestRun.id), 0)).scalar_subquery(),
                    select(func.coalesce(func.max(StoreChange.seq), 0)).scalar_subquery(),
                )
            ).one()
        return int(row[0]), int(row[1])

    def remember(self, name: str, key: Any, compute: Callable[[], T]) -> T:
        """``compute()`` kept under ``name`` until ``key`` changes (a deep copy is returned each time)."""
        cached = self._remembered.get(name)
        if cached is None or cached[0] != key:
            cached = (key, compute())
            self._remembered[name] = cached
        return copy.deepcopy(cached[1])  # type: ignore[no-any-return]

    def last_refreshed(self) -> datetime | None:
        with self.reader() as session:
            stmt = select(func.max(IngestRun.finished_at)).where(IngestRun.status == "completed")
            return session.scalar(stmt)

    def stats(self) -> dict[str, Any]:
        """Counts of current (not withdrawn) listings by specialism, setting, funding, status.

        Kept until the listings change: the counts need a pass over every listing
        (about 0.6 s at 60,000), and the about page asks on every visit. Any
        add, update or withdrawal moves the newest ``updated_at`` or the row
        count, which both come from indexes.
        """
        with self.reader() as session:
            key = tuple(session.execute(select(func.count(Practitioner.id), func.max(Practitioner.updated_at))).one())
        cached = self._stats_cache
        if cached is not None and cached[0] == key:
            return copy.deepcopy(cached[1])
        value = self._scan_stats()
        self._stats_cache = (key, value)
        return copy.deepcopy(value)

    def _scan_stats(self) -> dict[str, Any]:
        counts: dict[str, collections.Counter[str]] = {
            "specialism": collections.Counter(),
            "setting": collections.Counter(),
            "funding": collections.Counter(),
            "registration_status": collections.Counter(),
        }
        total = 0
        sample = 0
        home = 0
        with self.reader() as session:
            stmt = select(
                Practitioner.id,
                Practitioner.specialisms,
                Practitioner.funding,
                Practitioner.registration_status,
                Practitioner.is_sample,
                Practitioner.home_visit_radius_km,
            ).where(Practitioner.withdrawn_at.is_(None))
            for _id, specialisms, funding, status, is_sample, radius in session.execute(stmt):
                total += 1
                sample += bool(is_sample)
                home += radius is not None
                counts["specialism"].update(specialisms or [])
                counts["funding"].update(funding or [])
                counts["registration_status"][status] += 1
            setting_stmt = (
                select(PractitionerLocation.setting, func.count(func.distinct(PractitionerLocation.practitioner_id)))
                .join(Practitioner)
                .where(Practitioner.withdrawn_at.is_(None))
                .group_by(PractitionerLocation.setting)
            )
            for setting, n in session.execute(setting_stmt):
                counts["setting"][setting] = int(n)
        return {
            "total": total,
            "sample": sample,
            "home_visits": home,
            **{name: dict(counter.most_common()) for name, counter in counts.items()},
        }

    # ---- real sources: GP surgeries (NHS ODS) and HCPC register checks ---------

    def gp_surgeries(self, codes: Iterable[str]) -> dict[str, StoredGpSurgery]:
        """Loaded GP surgeries by ODS code (codes not loaded, or malformed, are left out)."""
        from finder.sites import surgeries_by_code

        with self.reader() as session:
            return surgeries_by_code(session, codes)

    def gp_surgery(self, code: str) -> StoredGpSurgery | None:
        """One loaded GP surgery by ODS code (any case, spaces ignored), or None."""
        return next(iter(self.gp_surgeries([code]).values()), None)

    def registration_checks(self, practitioner_id: int, limit: int = 5) -> list[RegistrationCheck]:
        """The latest HCPC register checks for a practitioner, newest first."""
        from finder.models import RegistrationCheck

        with self.reader() as session:
            stmt = (
                select(RegistrationCheck)
                .where(RegistrationCheck.practitioner_id == practitioner_id)
                .order_by(RegistrationCheck.checked_at.desc(), RegistrationCheck.id.desc())
                .limit(limit)
            )
            return list(session.scalars(stmt).all())


def store_from(app: Flask) -> Store:
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
