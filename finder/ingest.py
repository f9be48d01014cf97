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

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from finder.db import Store
from finder.errors import FinderError, Problem
from finder.models import IngestRun, Practitioner, SourceRecord, apply_record, utcnow
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


@dataclass
class IngestReport:
    source: str
    input_name: str | None
    mode: str
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: int = 0
    written: bool = False
    run_id: int | None = None
    problems: list[Problem] = field(default_factory=list)
    rejected_items: list[SourceItem] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return self.rejected == 0 and not self.problems

    def summary(self) -> str:
        parts = [
            f"read {self.read}",
            f"added {self.added}",
            f"updated {self.updated}",
            f"unchanged {self.unchanged}",
            f"withdrawn {self.withdrawn}",
            f"rejected {self.rejected}",
        ]
        line = ", ".join(parts)
        if not self.written and self.rejected and self.mode == "all-or-nothing":
            line += " — nothing was written (fix the problems, or use --partial to load the valid rows)"
        return line

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


def _existing(
    session: Session, records: list[Record], source: str
) -> tuple[dict[str, SourceRecord], dict[str, int | Practitioner]]:
    """Source records of this source, and practitioner ids by HCPC number, for these records."""
    source_ids = [r.provenance.source_id for r in records]
    numbers = [r.registration.number for r in records if r.registration.number]
    by_source_id: dict[str, SourceRecord] = {}
    for chunk in _chunks(source_ids):
        stmt = select(SourceRecord).where(SourceRecord.source == source, SourceRecord.source_id.in_(chunk))
        for link in session.scalars(stmt):
            by_source_id[link.source_id] = link
    by_number: dict[str, int | Practitioner] = {}
    for chunk in _chunks(numbers):
        stmt = select(Practitioner.hcpc_number, Practitioner.id).where(Practitioner.hcpc_number.in_(chunk))
        for number, pid in session.execute(stmt):
            by_number[number] = pid
    return by_source_id, by_number


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
    with store.session() as session:
        run = IngestRun(
            source=source, input_name=input_name, mode=report.mode, status="running", started_at=now, read=report.read
        )
        session.add(run)
        session.flush()
        by_source_id, by_number = _existing(session, records, source)
        touched: list[Practitioner] = []
        for n, record in enumerate(tqdm(records, desc="saving", unit=" records", disable=not progress, leave=False)):
            touched.extend(_upsert(session, record, source, now, by_source_id, by_number, report))
            if n % 1000 == 999:
                session.flush()
        if complete:
            report.withdrawn = _withdraw_missing(session, source, {r.provenance.source_id for r in records}, now)
        run.added, run.updated, run.unchanged = report.added, report.updated, report.unchanged
        run.withdrawn, run.rejected = report.withdrawn, report.rejected
        run.problems = [str(p) for p in report.problems[:500]]
        run.status = "completed"
        run.finished_at = utcnow()
        session.flush()
        report.run_id = run.id
        report.changed_ids = [p.id for p in touched]
    report.written = True
    log.info("ingest %s: %s", source, report.summary())
    return report


def _upsert(
    session: Session,
    record: Record,
    source: str,
    now: datetime,
    by_source_id: dict[str, SourceRecord],
    by_number: dict[str, int | Practitioner],
    report: IngestReport,
) -> list[Practitioner]:
    provenance = record.provenance
    digest = record.content_hash()
    link = by_source_id.get(provenance.source_id)
    row: Practitioner | None = None
    if link is not None:
        row = link.practitioner
    elif record.registration.number and record.registration.number in by_number:
        known = by_number[record.registration.number]
        row = known if isinstance(known, Practitioner) else session.get(Practitioner, known)

    if link is not None and row is not None and link.content_hash == digest and link.withdrawn_at is None and row.withdrawn_at is None:
        report.unchanged += 1
        return []

    added = row is None
    if row is None:
        row = Practitioner(created_at=now)
        session.add(row)
    else:
        merge_registration(row, record)
        number = record.registration.number
        other = by_number.get(number) if number and number != row.hcpc_number else None
        if other is not None and other is not row and other != row.id:
            # The record now claims a number that another listing holds.
            raise FinderError(
                f"source id '{provenance.source_id}' now has HCPC number {record.registration.number}, "
                "which another listing already holds; fix one of the two"
            )
    apply_record(row, record)
    row.updated_at = now
    row.withdrawn_at = None
    if link is None:
        link = SourceRecord(source=source, source_id=provenance.source_id, first_seen_at=now, practitioner=row)
        session.add(link)
        by_source_id[provenance.source_id] = link
    link.source_url = provenance.source_url
    link.fetched_at = provenance.fetched_at
    link.imported_at = now
    link.last_verified_on = provenance.last_verified_on
    link.content_hash = digest
    link.withdrawn_at = None
    if record.registration.number:
        by_number[record.registration.number] = row
    if added:
        report.added += 1
    else:
        report.updated += 1
    return [row]


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
