"""The store announces its changes: a numbered row per committed write to the listings.

Every command that adds, changes or withdraws listings calls :func:`record_change`
inside its own transaction, so the announcement commits (or rolls back) with the
write itself. Each search index records the highest ``seq`` it holds
(``store_seq`` in its meta), which makes three things simple and clock-free:

* "is this index behind?" is ``store.change_seq() > index seq``, whatever
  happened to the command that wrote (killed after its commit, disk full during
  its index update, a rerun that finds everything "unchanged");
* "by how much?" is the age of the oldest change the index lacks (``/readyz``);
* which listings to re-read: those with ``updated_at`` at or after the oldest
  pending change's ``earliest`` (so a slow transaction that committed after a
  quicker one is never skipped).

Numbers follow commit order: on PostgreSQL the writer takes a transaction-scoped
advisory lock before numbering, held until it commits; SQLite has one writer at a
time anyway. On PostgreSQL the write also sends ``NOTIFY finder_store_changes``
(delivered at commit) for ``finder index follow`` on other hosts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from finder.models import StoreChange, utcnow

#: The PostgreSQL channel ``finder index follow`` listens on.
CHANNEL = "finder_store_changes"
#: Any fixed 64-bit key: serialises the numbering of concurrent writers ("finder" in ASCII).
_ADVISORY_KEY = 0x66696E646572


def record_change(session: Session, *, command: str, listings: int, earliest: datetime) -> int:
    """Number this write (in commit order) and announce it; returns its ``seq``.

    Call last in the writing transaction: on PostgreSQL the numbering lock is held
    until commit, so keeping it short keeps concurrent writers moving.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})
    seq = int(session.scalar(select(func.coalesce(func.max(StoreChange.seq), 0))) or 0) + 1
    session.add(StoreChange(seq=seq, changed_at=utcnow(), command=command[:64], listings=listings, earliest=earliest))
    session.flush()
    if postgres:
        session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": str(seq)})
    return seq
