"""Reports of problems with a listing: store, rate-limit, list and close (hazards H1, H6 in docs/clinical-safety.md).

A patient or GP who finds a listing wrong (closed, not registered, wrong
number) tells us through "Report a problem with this listing". Reports are kept
for operators only (``finder reports list`` / ``finder reports close``); no page
or API shows them. Plain functions over the store, called by the web form and the CLI.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from finder.db import Store
from finder.errors import InvalidParameters, NotFound
from finder.models import Practitioner, ProblemReport, utcnow

#: What can be wrong (closed list; the form shows the labels).
PROBLEM_KINDS: dict[str, str] = {
    "registration": "They are not registered, or the registration shown is wrong",
    "closed": "The service has closed, moved or stopped seeing patients",
    "contact": "The phone number, email, address or website is wrong",
    "referral": "How to be seen or referred is wrong",
    "waiting_or_fees": "The waiting time or fees are wrong",
    "other": "Something else",
}

MAX_DETAILS = 2000
MAX_CONTACT = 200
#: Reports one sender may send per hour, and per listing per day (spam and flooding).
DEFAULT_PER_HOUR = 5
DEFAULT_PER_LISTING_PER_DAY = 2


class TooManyReports(InvalidParameters):
    """The sender has sent as many reports as we take for now."""

    status = 429
    title = "Too many reports"


@dataclass(frozen=True)
class ReportView:
    id: int
    practitioner_id: int
    practitioner_name: str
    kind: str
    details: str
    contact: str
    created_at: datetime
    closed_at: datetime | None
    closed_note: str | None


def sender_key(address: str, secret: str) -> str:
    """A keyed hash of the sender's address: enough to count their reports, not to find them."""
    return hmac.new(secret.encode("utf-8"), address.encode("utf-8"), hashlib.sha256).hexdigest()


def check_report(kind: str, details: str, contact: str) -> tuple[str, str | None, str | None]:
    """Validate the form; InvalidParameters names each field and what is allowed."""
    problems: list[tuple[str, str]] = []
    kind = (kind or "").strip()
    details = (details or "").strip()
    contact = (contact or "").strip()
    if kind not in PROBLEM_KINDS:
        problems.append(("kind", "choose what is wrong from the list"))
    if len(details) > MAX_DETAILS:
        problems.append(("details", f"is {len(details):,} characters long; at most {MAX_DETAILS:,} are allowed"))
    elif kind == "other" and not details:
        problems.append(("details", "tell us what is wrong (up to 2,000 characters)"))
    if len(contact) > MAX_CONTACT:
        problems.append(("contact", f"is {len(contact):,} characters long; at most {MAX_CONTACT} are allowed"))
    if any(ord(c) < 32 and c not in "\r\n\t" for c in details + contact):
        problems.append(("details", "contains control characters: type plain text"))
    if problems:
        raise InvalidParameters(problems)
    return kind, details or None, contact or None


def add_report(
    store: Store,
    practitioner_id: int,
    kind: str,
    details: str,
    contact: str,
    *,
    sender: str,
    per_hour: int = DEFAULT_PER_HOUR,
    per_listing_per_day: int = DEFAULT_PER_LISTING_PER_DAY,
    now: datetime | None = None,
) -> int:
    """Store one report and return its id; TooManyReports over the sender's limits (0: no limit)."""
    kind, details_text, contact_text = check_report(kind, details, contact)
    now = now or utcnow()
    with store.session() as session:
        if session.get(Practitioner, practitioner_id) is None:
            raise NotFound(f"No practitioner has id {practitioner_id}.")
        if per_hour:
            recent = session.scalar(
                select(func.count())
                .select_from(ProblemReport)
                .where(ProblemReport.sender_key == sender, ProblemReport.created_at > now - timedelta(hours=1))
            )
            if (recent or 0) >= per_hour:
                raise TooManyReports([("report", f"we take at most {per_hour} reports an hour from one address: please try later")])
        if per_listing_per_day:
            same = session.scalar(
                select(func.count())
                .select_from(ProblemReport)
                .where(
                    ProblemReport.sender_key == sender,
                    ProblemReport.practitioner_id == practitioner_id,
                    ProblemReport.created_at > now - timedelta(days=1),
                )
            )
            if (same or 0) >= per_listing_per_day:
                raise TooManyReports([("report", "you have already told us about this listing today: thank you, we will look at it")])
        report = ProblemReport(
            practitioner_id=practitioner_id,
            kind=kind,
            details=details_text,
            contact=contact_text,
            sender_key=sender,
            created_at=now,
        )
        session.add(report)
        session.flush()
        return int(report.id)


def list_reports(store: Store, *, include_closed: bool = False, limit: int = 200) -> list[ReportView]:
    """Reports, newest first (open ones only unless include_closed)."""
    query = (
        select(ProblemReport, Practitioner.name)
        .join(Practitioner, Practitioner.id == ProblemReport.practitioner_id)
        .order_by(ProblemReport.created_at.desc(), ProblemReport.id.desc())
        .limit(limit)
    )
    if not include_closed:
        query = query.where(ProblemReport.closed_at.is_(None))
    with store.reader() as session:
        return [
            ReportView(
                id=r.id,
                practitioner_id=r.practitioner_id,
                practitioner_name=name or "",
                kind=r.kind,
                details=r.details or "",
                contact=r.contact or "",
                created_at=r.created_at,
                closed_at=r.closed_at,
                closed_note=r.closed_note,
            )
            for r, name in session.execute(query).all()
        ]


def close_report(store: Store, report_id: int, note: str = "") -> None:
    """Mark a report dealt with (NotFound for an unknown id; closing twice keeps the first close)."""
    with store.session() as session:
        report = session.get(ProblemReport, report_id)
        if report is None:
            raise NotFound(f"No report has id {report_id}.")
        if report.closed_at is None:
            report.closed_at = utcnow()
            report.closed_note = (note or "").strip()[:300] or None
