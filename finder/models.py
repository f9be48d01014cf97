"""The store: typed SQLAlchemy 2.x models, and the one mapping between rows and Records.

The schema itself is created and migrated by Alembic (``finder/migrations``);
these classes must match the latest revision (a test checks that they do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from finder.hours import Interval, OpeningHours
from finder.records import (
    HomeVisits,
    Location,
    Provenance,
    Record,
    ReferralRoute,
    Registration,
    trusted,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Practitioner(Base):
    """One practitioner listing. List-valued vocab fields are JSON arrays of codes."""

    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    practice_name: Mapped[str | None] = mapped_column(String(300))
    gender: Mapped[str | None] = mapped_column(String(32))
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    memberships: Mapped[list[Any]] = mapped_column(JSON, default=list)
    bio: Mapped[str | None] = mapped_column(Text)

    hcpc_number: Mapped[str | None] = mapped_column(String(12), unique=True)
    registration_status: Mapped[str] = mapped_column(String(32), default="unchecked", index=True)
    registration_checked_on: Mapped[date | None] = mapped_column(Date)
    registration_period_to: Mapped[date | None] = mapped_column(Date)
    registration_register_name: Mapped[str | None] = mapped_column(String(300))
    registration_needs_review: Mapped[str | None] = mapped_column(String(300))

    specialisms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    treatments: Mapped[list[Any]] = mapped_column(JSON, default=list)

    home_visit_postcode: Mapped[str | None] = mapped_column(String(8))
    home_visit_radius_km: Mapped[float | None] = mapped_column(Float)
    home_visit_lat: Mapped[float | None] = mapped_column(Float)
    home_visit_lon: Mapped[float | None] = mapped_column(Float)

    funding: Mapped[list[Any]] = mapped_column(JSON, default=list)
    referral_routes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    referral_notes: Mapped[str | None] = mapped_column(Text)
    referral_email: Mapped[str | None] = mapped_column(String(300))
    referral_phone: Mapped[str | None] = mapped_column(String(300))
    nhs_waiting_weeks: Mapped[int | None] = mapped_column(Integer)
    session_limit: Mapped[int | None] = mapped_column(Integer)
    fee_initial_gbp: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    fee_follow_up_gbp: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    fees_note: Mapped[str | None] = mapped_column(String(300))
    accepting_new_patients: Mapped[bool | None] = mapped_column(Boolean)

    phone: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300))
    website: Mapped[str | None] = mapped_column(Text)
    booking_url: Mapped[str | None] = mapped_column(Text)

    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    locations: Mapped[list[PractitionerLocation]] = relationship(
        back_populates="practitioner",
        order_by="PractitionerLocation.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    sources: Mapped[list[SourceRecord]] = relationship(
        back_populates="practitioner",
        order_by="SourceRecord.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class PractitionerLocation(Base):
    __tablename__ = "practitioner_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str | None] = mapped_column(String(300))
    setting: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(300))
    town: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(8), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    ods_code: Mapped[str | None] = mapped_column(String(10), index=True)
    wheelchair_access: Mapped[bool | None] = mapped_column(Boolean)
    parking: Mapped[bool | None] = mapped_column(Boolean)
    #: finder.hours.OpeningHours as JSON: {"intervals": [{day, opens, closes}], "note"} (revision 0004).
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(300))

    practitioner: Mapped[Practitioner] = relationship(back_populates="locations")


class SourceRecord(Base):
    """Provenance: one row per (source, source id) that contributed to a practitioner."""

    __tablename__ = "source_records"
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_source_records_source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(200))
    source_url: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_verified_on: Mapped[date | None] = mapped_column(Date)
    last_seen_run_id: Mapped[int | None] = mapped_column(Integer)
    # What this source last said, hashed: an unchanged re-import writes nothing.
    content_hash: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    practitioner: Mapped[Practitioner] = relationship(back_populates="sources")


class IngestRun(Base):
    """One ingest run and its change report (shown as "last refreshed")."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    input_name: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The source's own run report beyond the counts (what was seen, recognised,
    #: skipped and rejected by reason, data-quality notes); revision 0003.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


Index("ix_locations_lat_lon", PractitionerLocation.lat, PractitionerLocation.lon)


# ---------------------------------------------------------------------------
# The one mapping between a Record and rows.


def record_columns(record: Record) -> dict[str, Any]:
    """The practitioner-table columns for a Record (locations are separate rows)."""
    reg = record.registration
    hv = record.home_visits
    return {
        "name": record.name,
        "practice_name": record.practice_name,
        "gender": record.gender,
        "languages": list(record.languages),
        "memberships": list(record.memberships),
        "bio": record.bio,
        "hcpc_number": reg.number,
        "registration_status": reg.status,
        "registration_checked_on": reg.checked_on,
        "registration_period_to": reg.period_to,
        "registration_register_name": reg.register_name,
        "registration_needs_review": reg.needs_review,
        "specialisms": list(record.specialisms),
        "conditions": list(record.conditions),
        "treatments": list(record.treatments),
        "home_visit_postcode": hv.base_postcode if hv else None,
        "home_visit_radius_km": hv.coverage_radius_km if hv else None,
        "home_visit_lat": hv.lat if hv else None,
        "home_visit_lon": hv.lon if hv else None,
        "funding": list(record.funding),
        "referral_routes": [r.model_dump(mode="json") for r in record.referral_routes],
        "referral_notes": record.referral_notes,
        "referral_email": record.referral_email,
        "referral_phone": record.referral_phone,
        "nhs_waiting_weeks": record.nhs_waiting_weeks,
        "session_limit": record.session_limit,
        "fee_initial_gbp": record.fee_initial_gbp,
        "fee_follow_up_gbp": record.fee_follow_up_gbp,
        "fees_note": record.fees_note,
        "accepting_new_patients": record.accepting_new_patients,
        "phone": record.phone,
        "email": record.email,
        "website": record.website,
        "booking_url": record.booking_url,
        "is_sample": record.is_sample,
    }


def location_columns(record: Record) -> list[dict[str, Any]]:
    return [{"position": i, **loc.model_dump(mode="json")} for i, loc in enumerate(record.locations)]


#: OpeningHours are frozen, and most listings share a few weekly patterns: one object per pattern
#: (reading 20 rows built about 130 Interval objects, a third of the read's time).
_HOURS: dict[tuple[tuple[tuple[str, str, str], ...], str | None], OpeningHours] = {}
_HOURS_MAX = 4096


def stored_hours(value: dict[str, Any] | None) -> OpeningHours | None:
    """The hours column back as OpeningHours (validated on the way in, so not again here)."""
    if not value:
        return None
    intervals = tuple((i["day"], i["opens"], i["closes"]) for i in value.get("intervals") or ())
    key = (intervals, value.get("note"))
    hours = _HOURS.get(key)
    if hours is None:
        hours = trusted(OpeningHours,
            intervals=tuple(trusted(Interval, day=day, opens=opens, closes=closes) for day, opens, closes in intervals),
            note=key[1],
        )
        if len(_HOURS) >= _HOURS_MAX:
            _HOURS.clear()
        _HOURS[key] = hours
    return hours


def apply_record(row: Practitioner, record: Record) -> None:
    """Copy every Record field onto a practitioner row (locations replaced)."""
    for column, value in record_columns(record).items():
        setattr(row, column, value)
    row.locations = [PractitionerLocation(**values) for values in location_columns(record)]


def _source_of(sources: Sequence[Any]) -> Any:
    live = [s for s in sources if s.withdrawn_at is None] or list(sources)
    if not live:
        return None
    return max(live, key=lambda s: (s.imported_at, s.id))


def to_record(row: Practitioner) -> Record:
    """Rebuild the Record a row was made from (provenance: its latest source)."""
    return record_of(row, row.locations, row.sources)


def record_of(row: Any, locations: Sequence[Any], sources: Sequence[Any]) -> Record:
    """The Record from a practitioners row and its locations (in position order) and sources:
    ORM objects or plain rows with the same column names (Store.get_many reads plain rows)."""
    src = _source_of(sources)
    provenance = trusted(Provenance,
        source=src.source if src else "unknown",
        source_id=src.source_id if src else str(row.id),
        source_url=src.source_url if src else None,
        fetched_at=src.fetched_at if src else None,
        last_verified_on=src.last_verified_on if src else None,
    )
    home = None
    if row.home_visit_postcode and row.home_visit_radius_km:
        home = trusted(HomeVisits,
            base_postcode=row.home_visit_postcode,
            coverage_radius_km=row.home_visit_radius_km,
            lat=row.home_visit_lat,
            lon=row.home_visit_lon,
        )
    # trusted(): the row was validated on the way in; re-validating every
    # read would cost time on every page and index build for nothing.
    return trusted(Record,
        name=row.name,
        practice_name=row.practice_name,
        gender=row.gender,
        languages=list(row.languages or []),
        memberships=list(row.memberships or []),
        bio=row.bio,
        registration=trusted(Registration,
            number=row.hcpc_number,
            status=row.registration_status,
            checked_on=row.registration_checked_on,
            period_to=row.registration_period_to,
            register_name=row.registration_register_name,
            needs_review=row.registration_needs_review,
        ),
        specialisms=list(row.specialisms or []),
        conditions=list(row.conditions or []),
        treatments=list(row.treatments or []),
        locations=[
            trusted(Location,
                name=loc.name,
                setting=loc.setting,
                address=loc.address,
                town=loc.town,
                postcode=loc.postcode,
                lat=loc.lat,
                lon=loc.lon,
                ods_code=loc.ods_code,
                wheelchair_access=loc.wheelchair_access,
                parking=loc.parking,
                opening_hours=stored_hours(loc.opening_hours),
                phone=loc.phone,
            )
            for loc in locations
        ],
        home_visits=home,
        funding=list(row.funding or []),
        referral_routes=[
            trusted(ReferralRoute,
                route=r["route"], only_for=list(r.get("only_for") or []), not_for=list(r.get("not_for") or [])
            )
            for r in (row.referral_routes or [])
        ],
        referral_notes=row.referral_notes,
        referral_email=row.referral_email,
        referral_phone=row.referral_phone,
        nhs_waiting_weeks=row.nhs_waiting_weeks,
        session_limit=row.session_limit,
        fee_initial_gbp=row.fee_initial_gbp,
        fee_follow_up_gbp=row.fee_follow_up_gbp,
        fees_note=row.fees_note,
        accepting_new_patients=row.accepting_new_patients,
        phone=row.phone,
        email=row.email,
        website=row.website,
        booking_url=row.booking_url,
        provenance=provenance,
        is_sample=row.is_sample,
    )


@dataclass(frozen=True)
class StoredPractitioner:
    """What readers (index builder, pages, API) get from the store."""

    id: int
    record: Record
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None
    sources: tuple[Provenance, ...]

    @property
    def last_updated(self) -> datetime:
        return self.updated_at


def to_stored(row: Practitioner) -> StoredPractitioner:
    return stored_of(row, row.locations, row.sources)


def stored_of(row: Any, locations: Sequence[Any], sources: Sequence[Any]) -> StoredPractitioner:
    """What readers get, from a practitioners row with its locations and sources (see record_of)."""
    return StoredPractitioner(
        id=row.id,
        record=record_of(row, locations, sources),
        created_at=row.created_at,
        updated_at=row.updated_at,
        withdrawn_at=row.withdrawn_at,
        sources=tuple(
            trusted(Provenance,
                source=s.source,
                source_id=s.source_id,
                source_url=s.source_url,
                fetched_at=s.fetched_at,
                last_verified_on=s.last_verified_on,
            )
            for s in sources
        ),
    )


# ---------------------------------------------------------------------------
# Real sources (scrapers area): NHS ODS GP surgeries and HCPC register checks.
# Revision 0002 creates these tables.


class GpSurgery(Base):
    """One GP practice from the NHS ODS practice file (epraccur), kept when it closes."""

    __tablename__ = "gp_surgeries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ods_code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    #: Address lines 1-5 as ODS gives them (blank lines left out).
    address_lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    postcode: Mapped[str | None] = mapped_column(String(8), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(40))
    #: The code as published (A/C/D/P, or ACTIVE/INACTIVE in the newer export).
    status_code: Mapped[str] = mapped_column(String(16))
    #: open, closed, dormant or proposed (finder.sites.SURGERY_STATUSES).
    status: Mapped[str] = mapped_column(String(16), index=True)
    open_date: Mapped[date | None] = mapped_column(Date)
    close_date: Mapped[date | None] = mapped_column(Date)
    #: Prescribing setting as published: a number ("4" = GP practice) or role codes ("RO76").
    prescribing_setting: Mapped[str | None] = mapped_column(String(64))
    is_gp_practice: Mapped[bool] = mapped_column(Boolean, default=True)
    commissioner_code: Mapped[str | None] = mapped_column(String(10))
    provider_code: Mapped[str | None] = mapped_column(String(10))
    # What the source last said, hashed: an unchanged re-run writes nothing.
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Why the row is not as complete as it looks (e.g. a postcode kept as ODS
    #: published it, unknown to Code-Point, so no coordinates); revision 0003.
    data_quality_note: Mapped[str | None] = mapped_column(String(300))
    #: Set when a complete file no longer lists the code (kept, never deleted).
    removed_from_source_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The ingest run that last added or changed this row.
    ingest_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id", ondelete="SET NULL"), index=True)


class RegistrationCheck(Base):
    """One look-up of a practitioner on the HCPC register: the evidence behind a status."""

    __tablename__ = "registration_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id", ondelete="CASCADE"), index=True)
    hcpc_number: Mapped[str] = mapped_column(String(12), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A registration status code; "unchecked" when the page could not be read.
    outcome: Mapped[str] = mapped_column(String(32))
    #: The status text exactly as the register showed it.
    register_status: Mapped[str | None] = mapped_column(String(300))
    register_name: Mapped[str | None] = mapped_column(String(300))
    period_from: Mapped[date | None] = mapped_column(Date)
    period_to: Mapped[date | None] = mapped_column(Date)
    #: The register's own "data valid on" stamp, as shown.
    data_valid_on: Mapped[str | None] = mapped_column(String(64))
    #: Why the check could not be used, or what needs review.
    reason: Mapped[str | None] = mapped_column(Text)
    #: Whether this check changed the practitioner's registration.
    changed: Mapped[bool] = mapped_column(Boolean, default=False)
    source_url: Mapped[str | None] = mapped_column(Text)
    ingest_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id", ondelete="SET NULL"), index=True)


class StoreChange(Base):
    """One committed write to the listings: the search index of every host must catch up to it.

    ``seq`` grows in commit order (see finder.changes); an index records the
    highest ``seq`` it holds, so "behind" is a comparison of two integers and
    does not depend on any host's clock.
    """

    __tablename__ = "store_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The command that wrote, e.g. "ingest csv" (no file names or row data).
    command: Mapped[str] = mapped_column(String(64))
    #: Listings added, changed or withdrawn.
    listings: Mapped[int] = mapped_column(Integer, default=0)
    #: The oldest ``updated_at`` this write gave a listing: an index update reads from here.
    earliest: Mapped[datetime] = mapped_column(UTCDateTime())


# ---------------------------------------------------------------------------
# Reports of problems with a listing (finder.reports). Revision 0005 creates the table.
# Never shown publicly: only operators read them (`finder reports list`).


class ProblemReport(Base):
    """Someone told us a listing is wrong (closed, not registered, wrong phone...)."""

    __tablename__ = "problem_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id", ondelete="CASCADE"), index=True)
    #: A code from finder.reports.PROBLEM_KINDS.
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[str | None] = mapped_column(Text)
    #: How to reach the reporter, only if they chose to give it.
    contact: Mapped[str | None] = mapped_column(String(200))
    #: A keyed hash of the sender's address (never the address itself), for the rate limit.
    sender_key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_note: Mapped[str | None] = mapped_column(String(300))
