"""GP surgeries from the NHS ODS practice file: the loader and what readers get.

* ``load_gp_surgeries`` upserts parsed epraccur rows by ODS code: validate
  everything first, all-or-nothing unless ``partial``, an unchanged row writes
  nothing, closed / dormant practices are kept and marked, a code missing from
  a complete file is marked as removed (never deleted); one IngestRun row
  (source "ods") records the change report.
* ``StoredGpSurgery`` is the read view pages use (``Store.gp_surgeries`` /
  ``Store.gp_surgery``): the surgery shown on a practitioner page for a
  ``gp_surgery`` location with an ``ods_code``, and the referring practice on a
  referral summary.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from finder.errors import InvalidValue, LocationError, NotFound
from finder.ingest import ChangeReport, PostcodeLookup
from finder.models import GpSurgery, IngestRun, utcnow
from finder.vocab import Vocabulary

if TYPE_CHECKING:
    from finder.db import Store
    from scrapers.nhs_ods import EpraccurFile, SurgeryRow

log = logging.getLogger(__name__)

SOURCE = "ods"

#: What an ODS status means for someone looking for the surgery.
SURGERY_STATUSES = Vocabulary(
    "surgery_status",
    "GP surgery status",
    {
        "open": "Open",
        "closed": "Closed",
        "dormant": "Dormant (not currently seeing patients)",
        "proposed": "Proposed (not open yet)",
    },
)

#: Labels for the classic numeric prescribing settings (ODS epraccur documentation).
PRESCRIBING_SETTINGS: dict[str, str] = {
    "0": "Other",
    "1": "Walk-in centre",
    "2": "Out of hours",
    "3": "Walk-in centre and out of hours",
    "4": "GP practice",
    "8": "Public health service",
    "9": "Community health service",
    "10": "Hospital service",
    "11": "Optometry service",
    "12": "Urgent and emergency care",
    "13": "Hospice",
    "14": "Care home / nursing home",
    "15": "Border Force",
    "16": "Young offender institution",
    "17": "Secure training centre",
    "18": "Secure children's home",
    "19": "Immigration removal centre",
    "20": "Court",
    "21": "Police custody",
    "22": "Sexual assault referral centre",
    "24": "Other justice estate",
    "25": "Prison",
    # The Data Search and Export report gives ODS role codes instead.
    "RO76": "GP practice",
}


_KEEP_UPPER = {"NHS", "GP", "GPS", "PCN", "UK", "OOH", "WIC", "HMP", "YOI", "MC", "II", "III", "IV"}
_SMALL = {"and", "of", "the", "on", "in", "at", "upon", "by"}


def display_case(text: str) -> str:
    """ODS names and addresses are upper case; show them in a readable case."""

    def word(w: str, first: bool) -> str:
        if w.upper() in _KEEP_UPPER or any(ch.isdigit() for ch in w):
            return w  # "NHS", "GP", "1A", "UNIT 4B" stay as written
        lower = w.lower()
        if not first and lower in _SMALL:
            return lower
        if re.match(r"^[a-z]'[a-z]{2,}$", lower):  # O'BRIEN -> O'Brien
            return lower[0].upper() + "'" + lower[2].upper() + lower[3:]
        return "-".join(part[:1].upper() + part[1:] for part in lower.split("-"))

    if text != text.upper():
        return text  # already mixed case: keep what the source wrote
    words = text.split(" ")
    return " ".join(word(w, i == 0) for i, w in enumerate(words))


@dataclass(frozen=True)
class StoredGpSurgery:
    """A GP surgery as pages and the API show it."""

    ods_code: str
    name: str
    address_lines: tuple[str, ...]
    postcode: str | None
    lat: float | None
    lon: float | None
    phone: str | None
    status: str
    status_code: str
    open_date: date | None
    close_date: date | None
    prescribing_setting: str | None
    is_gp_practice: bool
    updated_at: datetime
    removed_from_source_at: datetime | None

    @property
    def display_name(self) -> str:
        return display_case(self.name)

    @property
    def address(self) -> str:
        """One line: address lines (readable case) and the postcode."""
        parts = [display_case(line) for line in self.address_lines]
        if self.postcode:
            parts.append(self.postcode)
        return ", ".join(parts)

    @property
    def status_label(self) -> str:
        return SURGERY_STATUSES.label_of(self.status)

    @property
    def is_open(self) -> bool:
        return self.status == "open" and self.removed_from_source_at is None

    @property
    def prescribing_setting_label(self) -> str | None:
        if self.prescribing_setting is None:
            return None
        labels = [PRESCRIBING_SETTINGS.get(part.strip().upper(), part.strip()) for part in self.prescribing_setting.split("|")]
        return ", ".join(labels)

    def as_json(self) -> dict[str, object]:
        return {
            "ods_code": self.ods_code,
            "name": self.display_name,
            "address": self.address,
            "postcode": self.postcode,
            "lat": self.lat,
            "lon": self.lon,
            "phone": self.phone,
            "status": self.status,
            "status_label": self.status_label,
            "open_date": self.open_date.isoformat() if self.open_date else None,
            "close_date": self.close_date.isoformat() if self.close_date else None,
            "is_gp_practice": self.is_gp_practice,
            "listed_by_ods": self.removed_from_source_at is None,
        }


def to_stored_surgery(row: GpSurgery) -> StoredGpSurgery:
    return StoredGpSurgery(
        ods_code=row.ods_code,
        name=row.name,
        address_lines=tuple(row.address_lines or ()),
        postcode=row.postcode,
        lat=row.lat,
        lon=row.lon,
        phone=row.phone,
        status=row.status,
        status_code=row.status_code,
        open_date=row.open_date,
        close_date=row.close_date,
        prescribing_setting=row.prescribing_setting,
        is_gp_practice=row.is_gp_practice,
        updated_at=row.updated_at,
        removed_from_source_at=row.removed_from_source_at,
    )


def normalise_ods_code(code: str) -> str | None:
    """Upper-cased code, or None for text that cannot be an ODS code."""
    cleaned = re.sub(r"\s+", "", code or "").upper()
    return cleaned if re.match(r"^[A-Z0-9]{3,10}$", cleaned) else None


# ---------------------------------------------------------------------------
# Loading


@dataclass(kw_only=True)
class SitesReport(ChangeReport):
    """The change report of one ODS load."""

    skipped: int = 0
    not_geocoded: int = 0
    #: Practices whose postcode is not a valid UK postcode, kept as ODS published it.
    postcode_kept: int = 0
    #: Out-of-scope rows that had problems (they never stop a load; --all-settings validates them).
    skipped_with_problems: int = 0
    withdrawn_word = "no longer listed"

    def summary(self) -> str:
        line = self.counts_line()
        if self.skipped:
            line += f", skipped {self.skipped} that are not GP practices (out of scope; --all-settings loads them)"
        if self.postcode_kept:
            line += f", {self.postcode_kept} postcode(s) kept as published though not valid UK postcodes (no coordinates)"
        if self.not_geocoded:
            line += f", {self.not_geocoded} without coordinates (postcode not in Code-Point Open)"
        return line + self.nothing_written_note()

    def as_dict(self) -> dict[str, object]:
        """What the run's IngestRun row keeps (finder sources report reads it)."""
        return {
            "kind": "ods",
            "seen": self.read,
            "skipped": {"not a GP practice": self.skipped} if self.skipped else {},
            "skipped_with_problems": self.skipped_with_problems,
            "loaded": self.added + self.updated + self.unchanged,
            "rejected": {"invalid row": self.rejected} if self.rejected else {},
            "postcode_kept_as_published": self.postcode_kept,
            "without_coordinates": self.postcode_kept + self.not_geocoded,
        }


def _columns(row: SurgeryRow) -> dict[str, object]:
    return {
        "name": row.name,
        "address_lines": list(row.address_lines),
        "postcode": row.postcode,
        "phone": row.phone,
        "status_code": row.status_code,
        "status": row.status,
        "open_date": row.open_date,
        "close_date": row.close_date,
        "prescribing_setting": row.prescribing_setting,
        "is_gp_practice": row.is_gp_practice,
        "commissioner_code": row.commissioner_code,
        "provider_code": row.provider_code,
        "content_hash": row.content_hash(),
    }


#: Data-quality notes on a stored practice (the report counts them).
NOTE_POSTCODE_KEPT = "postcode kept as ODS published it; it is not a valid UK postcode, so the practice has no coordinates"
NOTE_NOT_IN_CODEPOINT = "postcode not in Code-Point Open (new, retired or outside Great Britain), so the practice has no coordinates"


def _locate(postcode: str | None, geocode: PostcodeLookup | None) -> tuple[float | None, float | None] | None:
    """Coordinates for a postcode; None when we cannot look it up now."""
    if postcode is None or geocode is None:
        return None
    try:
        lat, lon = geocode(postcode)
    except LocationError:
        return None
    return lat, lon


def load_gp_surgeries(
    store: Store,
    parsed: EpraccurFile,
    *,
    input_name: str | None = None,
    partial: bool = False,
    complete: bool = True,
    include_all_settings: bool = False,
    geocode: PostcodeLookup | None = None,
    progress: bool = False,
    now: datetime | None = None,
) -> SitesReport:
    """Upsert parsed practices by ODS code and report what changed."""
    now = now or utcnow()
    report = SitesReport(input_name=input_name, mode="partial" if partial else "all-or-nothing")
    problems = list(parsed.problems)
    out_of_scope_lines = len({p.row for p in parsed.out_of_scope_problems})
    if include_all_settings:
        problems += parsed.out_of_scope_problems
    report.read = len(parsed.rows) + parsed.rejected + out_of_scope_lines
    report.rejected = len({p.row for p in problems})
    report.problems = problems
    if problems and not partial:
        return report
    rows = [r for r in parsed.rows if include_all_settings or r.is_gp_practice]
    report.skipped = len(parsed.rows) - len(rows) + (0 if include_all_settings else out_of_scope_lines)
    report.skipped_with_problems = 0 if include_all_settings else out_of_scope_lines

    with store.session() as session:
        run = IngestRun(source=SOURCE, input_name=input_name, mode=report.mode, status="running", started_at=now, read=report.read)
        session.add(run)
        session.flush()
        existing = {s.ods_code: s for s in session.scalars(select(GpSurgery))}
        for row in tqdm(rows, desc="saving surgeries", unit=" surgeries", disable=not progress, leave=False):
            _upsert(session, existing, row, geocode, run.id, now, report)
        if complete:
            listed = {r.ods_code for r in rows} | parsed.rejected_codes | parsed.out_of_scope_codes
            if not include_all_settings:
                # Codes skipped as "not a GP practice" are still listed by ODS.
                listed |= {r.ods_code for r in parsed.rows}
            for code, surgery in existing.items():
                if code not in listed and surgery.removed_from_source_at is None:
                    surgery.removed_from_source_at = now
                    surgery.updated_at = now
                    surgery.ingest_run_id = run.id
                    report.withdrawn += 1
        run.added, run.updated, run.unchanged = report.added, report.updated, report.unchanged
        run.withdrawn, run.rejected = report.withdrawn, report.rejected
        run.problems = [str(p) for p in report.problems[:500]]
        run.details = report.as_dict()
        run.status = "completed"
        run.finished_at = utcnow()
        session.flush()
        report.run_id = run.id
    report.written = True
    log.info("ods: %s", report.summary())
    return report


def _place(surgery: GpSurgery, row: SurgeryRow, geocode: PostcodeLookup | None, report: SitesReport, *, retry: bool) -> bool:
    """Coordinates and the data-quality note for this row's postcode; True when either changed."""
    before = (surgery.lat, surgery.lon, surgery.data_quality_note)
    if row.postcode is not None and not row.postcode_valid:
        # Kept as published: never looked up, so never placed at a guess.
        surgery.lat = surgery.lon = None
        surgery.data_quality_note = NOTE_POSTCODE_KEPT
        report.postcode_kept += 1
    elif row.postcode is None:
        surgery.data_quality_note = None
    elif surgery.lat is None or retry:
        point = _locate(row.postcode, geocode)
        if point is not None:
            surgery.lat, surgery.lon = point
            surgery.data_quality_note = None
        elif geocode is not None:
            surgery.lat = surgery.lon = None
            surgery.data_quality_note = NOTE_NOT_IN_CODEPOINT
            report.not_geocoded += 1
        elif surgery.lat is None:
            report.not_geocoded += 1
    return (surgery.lat, surgery.lon, surgery.data_quality_note) != before


def _upsert(
    session: Session,
    existing: dict[str, GpSurgery],
    row: SurgeryRow,
    geocode: PostcodeLookup | None,
    run_id: int,
    now: datetime,
    report: SitesReport,
) -> None:
    columns = _columns(row)
    surgery = existing.get(row.ods_code)
    if surgery is None:
        surgery = GpSurgery(ods_code=row.ods_code, first_seen_at=now, updated_at=now, ingest_run_id=run_id, **columns)
        surgery.lat = surgery.lon = None
        _place(surgery, row, geocode, report, retry=True)
        session.add(surgery)
        existing[row.ods_code] = surgery
        report.added += 1
        return
    changed = surgery.content_hash != columns["content_hash"] or surgery.removed_from_source_at is not None
    postcode_moved = False
    if changed:
        postcode_moved = surgery.postcode != row.postcode
        for name, value in columns.items():
            setattr(surgery, name, value)
        surgery.removed_from_source_at = None
        if postcode_moved:
            # Old coordinates belong to the old postcode; never keep them for a new one.
            surgery.lat = surgery.lon = None
    changed = _place(surgery, row, geocode, report, retry=postcode_moved) or changed
    if changed:
        surgery.updated_at = now
        surgery.ingest_run_id = run_id
        report.updated += 1
    else:
        report.unchanged += 1


def surgeries_by_code(session: Session, codes: Iterable[str]) -> dict[str, StoredGpSurgery]:
    """Stored surgeries for these codes (unknown or malformed codes are left out)."""
    wanted = sorted({c for c in (normalise_ods_code(code) for code in codes) if c})
    found: dict[str, StoredGpSurgery] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in session.scalars(select(GpSurgery).where(GpSurgery.ods_code.in_(chunk))):
            found[row.ods_code] = to_stored_surgery(row)
    return found


def require_surgery(store: Store, code: str) -> StoredGpSurgery:
    """The surgery for an ODS code, or a clear error (for the referral summary's practice field)."""
    normalised = normalise_ods_code(code)
    if normalised is None:
        raise InvalidValue(f"'{code[:20]}' is not an NHS ODS code (3 to 10 letters and digits, e.g. B86001)")
    surgery = store.gp_surgery(normalised)
    if surgery is None:
        raise NotFound(f"no GP surgery with ODS code {normalised} is loaded (run `finder ingest ods`)")
    return surgery
