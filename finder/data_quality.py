"""The data-quality report: per source, its last run and what became of what it sent.

One read of the store (`finder sources report`, and the counts on the about page):
for every source that has run (an operator's file, each ORUK feed, ODS, the
HCPC register), the last run's time and outcome, counts by outcome (loaded,
added, updated, unchanged, withdrawn, skipped, rejected), the commonest reject
reasons, and how many of its live listings have no coordinates (so cannot be
found by distance). The run's own report (``IngestRun.details``, revision 0003)
adds what only that source knows: services recognised and by what, ODS rows
out of scope, postcodes kept as published.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from finder.models import GpSurgery, IngestRun, Practitioner, PractitionerLocation, SourceRecord

if TYPE_CHECKING:
    from finder.db import Store

#: How many reject reasons the report lists per source.
TOP_REASONS = 3


@dataclass(frozen=True)
class SourceQuality:
    """One source's last run and the state of what it loaded."""

    source: str
    last_run_at: datetime
    last_status: str
    input_name: str | None
    counts: dict[str, int]
    reject_reasons: list[tuple[str, int]]
    live: int
    without_coordinates: int
    notes: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "last_run_at": self.last_run_at.isoformat(),
            "last_status": self.last_status,
            "input": self.input_name,
            "counts": self.counts,
            "top_reject_reasons": [{"reason": r, "count": n} for r, n in self.reject_reasons],
            "live": self.live,
            "without_coordinates": self.without_coordinates,
            "notes": self.notes,
        }


def _reason_of(problem: str) -> str:
    """A problem line without where it was ("service 3: service abc: ...", "line 9, column X: ...")."""
    text = re.sub(r"^(service|row|line|listing entry|item) -?\d+(, column [^:]+)?: ", "", problem)
    text = re.sub(r"^service \S+:? ", "", text)
    text = re.sub(r"https?://\S+", "<address>", text)
    text = re.sub(r"'[^']{0,80}'", "'…'", text)
    return text[:120]


def _reject_reasons(run: IngestRun) -> list[tuple[str, int]]:
    details = run.details or {}
    rejected = details.get("rejected")
    if isinstance(rejected, dict) and rejected:
        counts = Counter({str(k): int(v) for k, v in rejected.items()})
    else:
        counts = Counter(_reason_of(str(p)) for p in run.problems or [])
    return counts.most_common(TOP_REASONS)


def _counts(run: IngestRun) -> dict[str, int]:
    details = run.details or {}
    counts = {
        "read": run.read,
        "added": run.added,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "withdrawn": run.withdrawn,
        "rejected": run.rejected,
    }
    skipped = details.get("skipped")
    if isinstance(skipped, dict):
        counts["skipped"] = sum(int(v) for v in skipped.values())
    recognised = details.get("recognised")
    if isinstance(recognised, dict):
        counts["recognised"] = sum(int(v) for v in recognised.values())
    return counts


def _notes(run: IngestRun) -> dict[str, int]:
    details = run.details or {}
    notes: dict[str, int] = {}
    for key in ("postcode_kept_as_published", "place_notes", "skipped_with_problems"):
        if int(details.get(key) or 0):
            notes[key] = int(details[key])
    recognised = details.get("recognised")
    if isinstance(recognised, dict):
        notes.update({f"recognised by {k}": int(v) for k, v in recognised.items()})
    return notes


def sources_report(store: Store) -> list[SourceQuality]:
    """Every source that has run, newest run first."""
    report: list[SourceQuality] = []
    with store.reader() as session:
        last_ids = select(func.max(IngestRun.id)).group_by(IngestRun.source)
        runs = list(session.scalars(select(IngestRun).where(IngestRun.id.in_(last_ids)).order_by(IngestRun.id.desc())))
        for run in runs:
            if run.source == "ods":
                live = session.scalar(select(func.count(GpSurgery.id)).where(GpSurgery.removed_from_source_at.is_(None))) or 0
                unplaced = session.scalar(
                    select(func.count(GpSurgery.id)).where(GpSurgery.removed_from_source_at.is_(None), GpSurgery.lat.is_(None))
                ) or 0
            else:
                links = select(SourceRecord.practitioner_id).where(SourceRecord.source == run.source, SourceRecord.withdrawn_at.is_(None))
                live = session.scalar(select(func.count(func.distinct(SourceRecord.practitioner_id))).where(
                    SourceRecord.source == run.source, SourceRecord.withdrawn_at.is_(None)
                )) or 0
                unplaced = session.scalar(
                    select(func.count(func.distinct(PractitionerLocation.practitioner_id)))
                    .join(Practitioner, Practitioner.id == PractitionerLocation.practitioner_id)
                    .where(
                        PractitionerLocation.practitioner_id.in_(links),
                        PractitionerLocation.lat.is_(None),
                        PractitionerLocation.setting != "online",
                        Practitioner.withdrawn_at.is_(None),
                    )
                ) or 0
            report.append(
                SourceQuality(
                    source=run.source,
                    last_run_at=run.finished_at or run.started_at,
                    last_status=run.status,
                    input_name=run.input_name,
                    counts=_counts(run),
                    reject_reasons=_reject_reasons(run),
                    live=int(live),
                    without_coordinates=int(unplaced),
                    notes=_notes(run),
                )
            )
    return report


def kept_sources_report(store: Store) -> list[SourceQuality]:
    """sources_report as kept by this process until any source loads or any listing changes
    (``Store.remember``): the about page shows it, and each web worker computes it while warming up."""
    return store.remember("sources_report", store.runs_key(), lambda: sources_report(store))


def format_report(sources: list[SourceQuality]) -> str:
    """The report as the CLI prints it."""
    if not sources:
        return "No source has run yet: load something with `finder ingest ...`."
    lines: list[str] = []
    for s in sources:
        counts = ", ".join(f"{k} {v:,}" for k, v in s.counts.items())
        lines.append(f"{s.source}  (last run {s.last_run_at:%Y-%m-%d %H:%M} UTC, {s.last_status}; {s.input_name or ''})")
        lines.append(f"  counts: {counts}")
        lines.append(f"  live listings: {s.live:,}; without coordinates: {s.without_coordinates:,}")
        if s.reject_reasons:
            lines.append("  top reject reasons: " + "; ".join(f"{n} × {r}" for r, n in s.reject_reasons))
        if s.notes:
            lines.append("  notes: " + ", ".join(f"{k} {v:,}" for k, v in s.notes.items()))
    return "\n".join(lines)
