"""Record stream -> store: validate, geocode, dedupe, upsert with provenance, report.

Every source (CSV/JSON import, ODS, Open Referral UK, ...) hands this module a
stream of :class:`SourceItem` values. Rules that live here and nowhere else:

* all-or-nothing by default: any rejected item means nothing is written;
  ``partial=True`` writes the valid items and returns the rejected ones;
* the same practitioner is matched by (source, source id), else HCPC number,
  and updated rather than duplicated; an unchanged item writes nothing;
* a registration checked against the HCPC register is not overwritten by an
  import that carries an older (or no) check;
* a ``complete`` run (the source's whole list) marks listings the source no
  longer has as withdrawn, never deleting them;
* everything happens in one transaction, so a crash leaves the store as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from finder.changes import record_change
from finder.db import Store
from finder.diskspace import disk_full, is_disk_full
from finder.errors import FinderError, Problem
from finder.hours import kept_as_note
from finder.models import (
    IngestRun,
    Practitioner,
    PractitionerLocation,
    SourceRecord,
    apply_record,
    location_columns,
    record_columns,
    utcnow,
)
from finder.records import Record

log = logging.getLogger(__name__)

#: A postcode -> (lat, lon) lookup; raises a LocationError subclass when unknown.
PostcodeLookup = Callable[[str], tuple[float, float]]


@dataclass
class SourceItem:
    """One unit from a source: a valid Record, or the problems that stopped it.

    ``row`` is where the operator finds it (a spreadsheet row number, a JSON item
    number, a feed id); ``raw`` is the original input, kept for a rejects file.
    """

    row: int | None
    record: Record | None = None
    problems: list[Problem] = field(default_factory=list)
    raw: dict[str, Any] | None = None
    unit: str = "row"
    #: Which problem columns belong to which row (continuation rows in CSV).
    column_rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.record is not None and not self.problems

    def reject(self, column: str | None, message: str, row: int | None = None) -> None:
        self.problems.append(
            Problem(row=row if row is not None else self.row, column=column, message=message, unit=self.unit)
        )


@dataclass(kw_only=True)
class ChangeReport:
    """The counters every load reports (listings here, GP surgeries in finder.sites)."""

    input_name: str | None
    mode: str  # "all-or-nothing" | "partial"
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: int = 0
    written: bool = False
    run_id: int | None = None
    problems: list[Problem] = field(default_factory=list)

    #: What a withdrawal is called in the summary.
    withdrawn_word = "withdrawn"

    def counts_line(self) -> str:
        return (
            f"read {self.read}, added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"{self.withdrawn_word} {self.withdrawn}, rejected {self.rejected}"
        )

    def nothing_written_note(self) -> str:
        if not self.written and self.rejected and self.mode == "all-or-nothing":
            return " — nothing was written (fix the problems, or use --partial to load the valid rows)"
        return ""


@dataclass(kw_only=True)
class IngestReport(ChangeReport):
    source: str
    withdrawal_skipped: bool = False
    rejected_items: list[SourceItem] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)
    #: Locations whose opening hours could not be read as times (kept word for word as a note).
    hours_as_note: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return self.rejected == 0 and not self.problems

    def summary(self) -> str:
        line = self.counts_line()
        if self.withdrawal_skipped:
            line += " — listings missing from the source were not withdrawn this run, because some rows were rejected"
        if self.hours_as_note:
            line += f"; opening hours at {self.hours_as_note} location(s) could not be read as times and were kept as written"
        return line + self.nothing_written_note()

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "input": self.input_name,
            "mode": self.mode,
            "read": self.read,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "withdrawn": self.withdrawn,
            "rejected": self.rejected,
            "hours_as_note": self.hours_as_note,
            "written": self.written,
            "problems": [str(p) for p in self.problems],
        }


def _geocode(item: SourceItem, lookup: PostcodeLookup) -> None:
    """Fill missing coordinates from postcodes; an unknown postcode rejects the item."""
    record = item.record
    assert record is not None
    for index, location in enumerate(record.locations):
        if location.postcode and location.lat is None:
            try:
                location.lat, location.lon = lookup(location.postcode)
            except FinderError as exc:
                item.reject("postcode", exc.detail, row=item.column_rows.get(f"locations.{index}"))
    home = record.home_visits
    if home is not None and home.lat is None:
        try:
            home.lat, home.lon = lookup(home.base_postcode)
        except FinderError as exc:
            item.reject("home_visits_postcode", exc.detail)


def _check_duplicates(items: list[SourceItem]) -> None:
    """The same key twice in one input is an error on the later row."""
    by_source_key: dict[tuple[str, str], SourceItem] = {}
    by_hcpc: dict[str, SourceItem] = {}
    for item in items:
        if not item.ok:
            continue
        record = item.record
        assert record is not None
        key = (record.provenance.source, record.provenance.source_id)
        if key in by_source_key:
            first = by_source_key[key]
            item.reject("source_id", f"source id '{key[1]}' is already used on {first.unit} {first.row}")
            continue
        number = record.registration.number
        if number and number in by_hcpc:
            first = by_hcpc[number]
            item.reject("hcpc_number", f"HCPC number {number} is already used on {first.unit} {first.row}")
            continue
        by_source_key[key] = item
        if number:
            by_hcpc[number] = item


def merge_registration(row: Practitioner, record: Record) -> None:
    """Keep a newer stored HCPC check over an import that carries an older or no check."""
    incoming = record.registration
    stored_date = row.registration_checked_on
    same_number = row.hcpc_number == incoming.number
    if same_number and stored_date is not None and (incoming.checked_on is None or incoming.checked_on < stored_date):
        record.registration = record.registration.model_copy(
            update={
                "status": row.registration_status,
                "checked_on": row.registration_checked_on,
                "period_to": row.registration_period_to,
                "register_name": row.registration_register_name,
                "needs_review": row.registration_needs_review,
            }
        )


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True)
class _Known:
    """What the store already holds for one (source, source id)."""

    link_id: int
    practitioner_id: int
    content_hash: str
    withdrawn: bool


def _existing(session: Session, records: list[Record], source: str) -> tuple[dict[str, _Known], dict[str, int]]:
    """Known source records of this source, and practitioner ids by HCPC number, for these records."""
    source_ids = [r.provenance.source_id for r in records]
    numbers = [r.registration.number for r in records if r.registration.number]
    by_source_id: dict[str, _Known] = {}
    for chunk in _chunks(source_ids):
        stmt = (
            select(
                SourceRecord.id,
                SourceRecord.source_id,
                SourceRecord.practitioner_id,
                SourceRecord.content_hash,
                SourceRecord.withdrawn_at,
                Practitioner.withdrawn_at,
            )
            .join(Practitioner, Practitioner.id == SourceRecord.practitioner_id)
            .where(SourceRecord.source == source, SourceRecord.source_id.in_(chunk))
        )
        for link_id, source_id, pid, digest, link_gone, practitioner_gone in session.execute(stmt):
            by_source_id[source_id] = _Known(link_id, pid, digest, link_gone is not None or practitioner_gone is not None)
    by_number: dict[str, int] = {}
    for chunk in _chunks(numbers):
        by_hcpc = select(Practitioner.hcpc_number, Practitioner.id).where(Practitioner.hcpc_number.in_(chunk))
        for number, pid in session.execute(by_hcpc):
            if number is not None:
                by_number[number] = pid
    return by_source_id, by_number


def _write(
    session: Session, records: list[Record], source: str, now: datetime, report: IngestReport, progress: bool
) -> list[int]:
    """Upsert the records; returns the ids of practitioners added or changed."""
    by_source_id, by_number = _existing(session, records, source)
    changed: list[int] = []
    additions: list[tuple[Record, str]] = []
    for record in tqdm(records, desc="saving", unit=" records", disable=not progress, leave=False):
        provenance = record.provenance
        digest = record.content_hash()
        known = by_source_id.get(provenance.source_id)
        if known is not None and known.content_hash == digest and not known.withdrawn:
            report.unchanged += 1
            continue
        number = record.registration.number
        practitioner_id = known.practitioner_id if known else (by_number.get(number) if number else None)
        if practitioner_id is None:
            additions.append((record, digest))
            continue
        if number and by_number.get(number, practitioner_id) != practitioner_id:
            raise FinderError(
                f"source id '{provenance.source_id}' now has HCPC number {number}, "
                "which another listing already holds; fix one of the two"
            )
        row = session.get(Practitioner, practitioner_id)
        assert row is not None
        merge_registration(row, record)
        apply_record(row, record)
        row.updated_at = now
        row.withdrawn_at = None
        link = session.get(SourceRecord, known.link_id) if known else None
        if link is None:
            link = SourceRecord(source=source, source_id=provenance.source_id, first_seen_at=now, practitioner=row)
            session.add(link)
        _set_link(link, record, digest, now)
        report.updated += 1
        changed.append(practitioner_id)
        if report.updated % 1000 == 0:
            session.flush()
    session.flush()
    changed.extend(_insert_new(session, additions, source, now))
    report.added += len(additions)
    return changed


def _set_link(link: SourceRecord, record: Record, digest: str, now: datetime) -> None:
    provenance = record.provenance
    link.source_url = provenance.source_url
    link.fetched_at = provenance.fetched_at
    link.imported_at = now
    link.last_verified_on = provenance.last_verified_on
    link.content_hash = digest
    link.withdrawn_at = None


def _insert_new(session: Session, additions: list[tuple[Record, str]], source: str, now: datetime) -> list[int]:
    """Insert new listings in batches (bulk INSERT ... RETURNING keeps big imports fast)."""
    new_ids: list[int] = []
    for batch in _chunks(additions, 1000):
        rows = [{**record_columns(record), "created_at": now, "updated_at": now} for record, _ in batch]
        ids = list(
            session.scalars(insert(Practitioner).returning(Practitioner.id, sort_by_parameter_order=True), rows)
        )
        locations = [
            {"practitioner_id": pid, **values}
            for pid, (record, _) in zip(ids, batch, strict=True)
            for values in location_columns(record)
        ]
        if locations:
            session.execute(insert(PractitionerLocation), locations)
        links = [
            {
                "practitioner_id": pid,
                "source": source,
                "source_id": record.provenance.source_id,
                "source_url": record.provenance.source_url,
                "fetched_at": record.provenance.fetched_at,
                "imported_at": now,
                "first_seen_at": now,
                "last_verified_on": record.provenance.last_verified_on,
                "content_hash": digest,
            }
            for pid, (record, digest) in zip(ids, batch, strict=True)
        ]
        session.execute(insert(SourceRecord), links)
        new_ids.extend(ids)
    return new_ids


def ingest(
    store: Store,
    items: Iterable[SourceItem],
    *,
    source: str,
    input_name: str | None = None,
    partial: bool = False,
    complete: bool = False,
    geocode: PostcodeLookup | None = None,
    progress: bool = False,
    now: datetime | None = None,
) -> IngestReport:
    """Load a stream of source items into the store and report what changed."""
    report = IngestReport(source=source, input_name=input_name, mode="partial" if partial else "all-or-nothing")
    now = now or utcnow()

    # 1. Read and validate everything before touching the store.
    collected: list[SourceItem] = []
    for item in tqdm(items, desc=f"reading {input_name or source}", unit=" rows", disable=not progress, leave=False):
        report.read += 1
        if item.ok and item.record is not None:
            if item.record.provenance.source != source:
                item.reject("source", f"expected source '{source}', got '{item.record.provenance.source}'")
            elif geocode is not None:
                _geocode(item, geocode)
        elif item.record is None and not item.problems:
            item.reject(None, "no record was produced")
        collected.append(item)
    _check_duplicates(collected)

    good = [item for item in collected if item.ok]
    bad = [item for item in collected if not item.ok]
    # File-level problems (no row) come from the reader and reject everything.
    report.rejected = sum(1 for item in bad if item.row is not None)
    report.rejected_items = bad
    report.problems = [p for item in bad for p in item.problems]
    if bad and not partial:
        return report
    if any(item.row is None for item in bad):
        return report

    # 2. Write, in one transaction.
    records = [item.record for item in good if item.record is not None]
    report.hours_as_note = sum(kept_as_note(loc.opening_hours) for r in records for loc in r.locations)
    try:
        _write_all(store, records, source, input_name, now, report, complete, progress)
    except Exception as exc:
        if is_disk_full(exc):
            # One line, never the statement or its rows: the transaction rolled back whole.
            raise disk_full(
                store.location(), len(records) * 4000, f"finder ingest {source} ... again", kept="nothing was changed"
            ) from None
        raise
    report.written = True
    log.info("ingest %s: %s", source, report.summary())
    return report


def _write_all(
    store: Store,
    records: list[Record],
    source: str,
    input_name: str | None,
    now: datetime,
    report: IngestReport,
    complete: bool,
    progress: bool,
) -> None:
    with store.session() as session:
        run = IngestRun(
            source=source, input_name=input_name, mode=report.mode, status="running", started_at=now, read=report.read
        )
        session.add(run)
        session.flush()
        report.changed_ids = _write(session, records, source, now, report, progress)
        if complete and report.rejected:
            # A rejected row is still listed by the source: withdrawing it would be wrong,
            # and we cannot always tell which listing it was. Skip withdrawal this run.
            report.withdrawal_skipped = True
        elif complete:
            report.withdrawn = _withdraw_missing(session, source, {r.provenance.source_id for r in records}, now)
        run.added, run.updated, run.unchanged = report.added, report.updated, report.unchanged
        run.withdrawn, run.rejected = report.withdrawn, report.rejected
        run.problems = [str(p) for p in report.problems[:500]]
        run.status = "completed"
        run.finished_at = utcnow()
        session.flush()
        report.run_id = run.id
        changed = report.added + report.updated + report.withdrawn
        if changed:
            record_change(session, command=f"ingest {source}", listings=changed, earliest=now)


def _withdraw_missing(session: Session, source: str, seen: set[str], now: datetime) -> int:
    """Mark listings this source no longer lists as withdrawn (kept, not deleted)."""
    withdrawn = 0
    stmt = select(SourceRecord).where(SourceRecord.source == source, SourceRecord.withdrawn_at.is_(None))
    for link in session.scalars(stmt):
        if link.source_id in seen:
            continue
        link.withdrawn_at = now
        withdrawn += 1
        practitioner = link.practitioner
        if all(s.withdrawn_at is not None for s in practitioner.sources):
            practitioner.withdrawn_at = now
            practitioner.updated_at = now
    return withdrawn
