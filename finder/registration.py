"""Verify stored HCPC registrations against the register (`finder verify-registrations`).

Rules that live here and nowhere else:

* who is due: a live listing with an HCPC number whose registration was never
  checked, or not within ``older_than_days``; fictional sample listings are
  left alone unless asked (their numbers are invented and may belong to a
  real person);
* a check is used only when the register page was understood: otherwise the
  stored status stays as it was, the reason is logged and kept as evidence,
  and the practitioner is tried again next run — nothing is guessed;
* a name that does not match ours is never accepted silently: the listing is
  set to ``unchecked`` with ``registration_needs_review`` saying what the
  register showed, so nobody is shown as registered on someone else's entry;
* every change sets ``updated_at`` (the search index picks changes up from it);
* each practitioner is saved as soon as they are checked, so an interrupted
  run resumes where it stopped; the run's summary is an IngestRun row
  (source "hcpc").
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, select
from tqdm import tqdm

from finder.errors import FinderError, RobotsDisallowed, SourceError
from finder.models import IngestRun, Practitioner, RegistrationCheck, utcnow
from finder.vocab import PRACTISING_STATUSES

if TYPE_CHECKING:
    from finder.db import Store
    from scrapers.hcpc import RegisterCheck

log = logging.getLogger(__name__)

SOURCE = "hcpc"

#: A register lookup: number -> what the register says (raises SourceError when unreachable).
Lookup = Callable[[str], "RegisterCheck"]

#: Stop a run after this many failures in a row: the register is down or has changed.
MAX_CONSECUTIVE_FAILURES = 5

#: Stop a run after this many stand-in pages in a row (a bot challenge, a login wall, an
#: error page, an empty page): the register is refusing us, and asking again is hammering.
MAX_BLOCKED_IN_A_ROW = 3

#: How long to leave the register alone after it refused us.
RETRY_AFTER = timedelta(hours=24)


def is_shown_as_registered(status: str | None, period_to: date | None, today: date | None = None) -> bool:
    """Whether a listing may be shown as registered: a practising status whose period has not ended.

    The register's own "Registered" is not enough once the registration period it
    showed us (``Period ... to <end>``) is over: a lapse may not have reached the
    register yet, and we never show a registration we know has run out.
    """
    if status not in PRACTISING_STATUSES:
        return False
    today = today or utcnow().date()
    return period_to is None or period_to >= today


def blocked_stop_message(count: int, kind: str, number: str, when: datetime) -> str:
    """The one message a run stopped by the register's stand-in pages prints."""
    retry = when + RETRY_AFTER
    return (
        f"the HCPC register answered {count} checks in a row with {kind} instead of the register "
        f"(last for {number}, at {when:%H:%M} UTC on {when:%d %b %Y}); no stored status was changed. "
        f"It is refusing automated checks for now: try again after {retry:%H:%M} UTC on {retry:%d %b %Y}, "
        "and if it keeps happening, check these numbers by hand on the register or ask the HCPC for access"
    )

_TITLES = {"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "sir", "dame", "rev"}
_POST_NOMINALS = {"mcsp", "fcsp", "bsc", "msc", "phd", "hons", "ba", "ma", "mphil", "ddm", "hcpc"}


def _name_tokens(name: str) -> list[str]:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"\([^)]*\)", " ", text)  # "(example)", "(née Smith)" are notes, not names
    tokens = [t for t in re.split(r"[^a-z']+", text.replace("’", "'")) if t]
    tokens = [t.strip("'") for t in tokens]
    return [t for t in tokens if t and t not in _TITLES and t not in _POST_NOMINALS]


def names_match(ours: str, register: str | None) -> tuple[bool, str | None]:
    """Whether the register's name is plausibly our practitioner, and why not.

    Accepted: the same surname and the same first name or initial, in any order
    ("Smith, Jane A" is "Jane Smith"); hyphenated and accented names compare by
    their letters. Anything else goes to a person to review.
    """
    if not register:
        return False, "the register shows no name"
    mine, theirs = _name_tokens(ours), _name_tokens(register)
    if not mine or not theirs:
        return False, f"cannot compare the names '{ours}' and '{register}'"
    surname = mine[-1]
    if surname not in theirs:
        return False, f"the register lists this number as '{register}', not '{ours}' (surname differs)"
    others = [t for t in theirs if t != surname]
    first = mine[0] if len(mine) > 1 else None
    if first is None:
        return True, None
    if first in others or any(len(t) == 1 and t == first[0] for t in others) or (len(first) == 1 and any(t.startswith(first) for t in others)):
        return True, None
    return False, f"the register lists this number as '{register}', not '{ours}' (first name differs)"


@dataclass
class VerifyReport:
    """What one verify-registrations run did."""

    due: int = 0
    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped_sample: int = 0
    needs_review: int = 0
    #: Checks answered by a stand-in page (bot challenge, login wall, error page, empty page).
    blocked: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)
    run_id: int | None = None
    stopped: str | None = None

    def summary(self) -> str:
        line = f"checked {self.checked} of {self.due} due: changed {self.changed}, unchanged {self.unchanged}, failed {self.failed}"
        if self.statuses:
            line += " (" + ", ".join(f"{code} {n}" for code, n in sorted(self.statuses.items())) + ")"
        if self.needs_review:
            line += f"; {self.needs_review} flagged for review"
        if self.skipped_sample:
            line += f"; left {self.skipped_sample} fictional sample listings alone (--include-sample checks them)"
        if self.stopped:
            line += f"; stopped early: {self.stopped}"
        return line


@dataclass(frozen=True)
class _Due:
    id: int
    name: str
    number: str


def practitioners_due(
    store: Store,
    *,
    older_than_days: int = 30,
    limit: int | None = None,
    include_sample: bool = False,
    numbers: list[str] | None = None,
    today: date | None = None,
) -> tuple[list[_Due], int]:
    """Listings whose registration should be checked now (never-checked first), and how many samples were left out."""
    today = today or utcnow().date()
    cutoff = today - timedelta(days=max(0, older_than_days))
    with store.reader() as session:
        stmt = select(Practitioner.id, Practitioner.name, Practitioner.hcpc_number, Practitioner.is_sample).where(
            Practitioner.hcpc_number.is_not(None),
            Practitioner.withdrawn_at.is_(None),
            (Practitioner.registration_checked_on.is_(None)) | (Practitioner.registration_checked_on <= cutoff),
        )
        if numbers:
            stmt = stmt.where(Practitioner.hcpc_number.in_([re.sub(r"\s+", "", n).upper() for n in numbers]))
        stmt = stmt.order_by(
            case((Practitioner.registration_checked_on.is_(None), 0), else_=1),
            Practitioner.registration_checked_on,
            Practitioner.id,
        )
        due: list[_Due] = []
        samples = 0
        for pid, name, number, is_sample in session.execute(stmt):
            if is_sample and not include_sample:
                samples += 1
                continue
            due.append(_Due(pid, name, str(number)))
            if limit is not None and len(due) >= limit:
                break
    return due, samples


def _outcome(name: str, check: RegisterCheck) -> dict[str, object]:
    """The registration fields a usable check gives this practitioner."""
    if check.status == "not_found":
        return {
            "registration_status": "not_found",
            "registration_period_to": None,
            "registration_register_name": None,
            "registration_needs_review": f"{check.number} was not found on the HCPC register: check the number with the practitioner",
        }
    matches, why = names_match(name, check.register_name)
    if not matches:
        shown = check.register_status or check.status
        return {
            "registration_status": "unchecked",
            "registration_period_to": None,
            "registration_register_name": check.register_name,
            "registration_needs_review": f"{why}; register status '{shown}': confirm who holds this number"[:300],
        }
    return {
        "registration_status": check.status,
        "registration_period_to": check.period_to,
        "registration_register_name": check.register_name,
        "registration_needs_review": check.reason[:300] if check.reason else None,
    }


@dataclass(frozen=True)
class Applied:
    """What one usable check did to a listing."""

    changed: bool
    status: str
    needs_review: str | None


def apply_check(
    store: Store, practitioner_id: int, check: RegisterCheck, *, run_id: int | None, today: date, now: datetime
) -> Applied | None:
    """Record one check as evidence and, when usable, on the listing; None when it was not usable."""
    with store.session() as session:
        row = session.get(Practitioner, practitioner_id)
        if row is None or row.hcpc_number != check.number:
            return None  # removed or renumbered while we were checking: nothing to record
        evidence = RegistrationCheck(
            practitioner_id=row.id,
            hcpc_number=check.number,
            checked_at=now,
            outcome=check.status,
            register_status=check.register_status,
            register_name=check.register_name,
            period_from=check.period_from,
            period_to=check.period_to,
            data_valid_on=check.data_valid_on,
            reason=check.reason,
            source_url=check.source_url,
            ingest_run_id=run_id,
        )
        session.add(evidence)
        if not check.recognised:
            return None
        values = _outcome(row.name, check)
        changed = any(getattr(row, column) != value for column, value in values.items())
        for column, value in values.items():
            setattr(row, column, value)
        if changed or row.registration_checked_on != today:
            row.registration_checked_on = today
            # The check date is news to readers ("checked on ..."), so the index must see it.
            row.updated_at = now
        evidence.changed = changed
        evidence.outcome = str(values["registration_status"])
        review = row.registration_needs_review
        if review and not evidence.reason:
            evidence.reason = review
        return Applied(changed=changed, status=row.registration_status, needs_review=review)


def verify_registrations(
    store: Store,
    lookup: Lookup,
    *,
    older_than_days: int = 30,
    limit: int | None = None,
    include_sample: bool = False,
    numbers: list[str] | None = None,
    today: date | None = None,
    progress: bool = False,
    max_blocked_in_a_row: int = MAX_BLOCKED_IN_A_ROW,
) -> VerifyReport:
    """Check due practitioners on the register, one by one, and report what changed."""
    today = today or utcnow().date()
    if limit is not None and limit < 1:
        raise FinderError("--limit must be 1 or more")
    due, samples = practitioners_due(
        store, older_than_days=older_than_days, limit=limit, include_sample=include_sample, numbers=numbers, today=today
    )
    report = VerifyReport(due=len(due), skipped_sample=samples)
    with store.session() as session:
        run = IngestRun(source=SOURCE, input_name="HCPC online register", mode="verify", status="running", started_at=utcnow(), read=0)
        session.add(run)
        session.flush()
        report.run_id = run.id
    status = "completed"
    consecutive_failures = 0
    blocked_in_a_row = 0
    try:
        for item in tqdm(due, desc="checking the HCPC register", unit=" checks", disable=not progress):
            now = utcnow()
            try:
                check = lookup(item.number)
            except RobotsDisallowed as exc:
                report.stopped = exc.detail
                report.problems.append(f"{item.number}: {exc.detail}")
                status = "failed"
                break
            except SourceError as exc:
                check = _failed_check(item.number, exc.detail)
            result = apply_check(store, item.id, check, run_id=report.run_id, today=today, now=now)
            report.checked += 1
            if result is None:
                report.failed += 1
                consecutive_failures += 1
                blocked_in_a_row = blocked_in_a_row + 1 if check.blocked else 0
                report.blocked += check.blocked is not None
                report.problems.append(f"{item.number} ({item.name}): {check.reason or 'not usable'}")
                if check.blocked and blocked_in_a_row >= max(1, max_blocked_in_a_row):
                    report.stopped = blocked_stop_message(blocked_in_a_row, check.blocked, item.number, now)
                    status = "failed"
                    break
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                    report.stopped = (
                        f"{consecutive_failures} checks in a row failed (last: {check.reason}); "
                        "the register may be down or its pages may have changed"
                    )
                    status = "failed"
                    break
                continue
            consecutive_failures = 0
            blocked_in_a_row = 0
            report.statuses[result.status] += 1
            if result.changed:
                report.changed += 1
                report.changed_ids.append(item.id)
            else:
                report.unchanged += 1
            report.needs_review += result.needs_review is not None
    except BaseException:
        status = "interrupted"
        raise
    finally:
        _finish_run(store, report, status)
    log.info("verify-registrations: %s", report.summary())
    return report


def _failed_check(number: str, reason: str) -> RegisterCheck:
    from scrapers.hcpc import RegisterCheck, blocked_by

    return RegisterCheck(
        number=number, status="unchecked", reason=f"could not fetch the register page: {reason}", blocked=blocked_by(reason)
    )


def _finish_run(store: Store, report: VerifyReport, status: str) -> None:
    with store.session() as session:
        run = session.get(IngestRun, report.run_id)
        if run is None:
            return
        run.read = report.checked
        run.updated = report.changed
        run.unchanged = report.unchanged
        run.rejected = report.failed
        run.problems = report.problems[:500] + ([f"stopped early: {report.stopped}"] if report.stopped else [])
        run.status = status
        run.finished_at = utcnow()
