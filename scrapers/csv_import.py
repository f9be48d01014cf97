"""The operator's own spreadsheet: CSV rows -> SourceItems.

One row per practitioner location. A practitioner seen at several places takes
one row per place: repeat the ``source_id`` on the next rows and fill only the
location columns there (practitioner columns blank or identical).

Multi-valued cells use ``;``. Row numbers in messages count the header as row 1,
as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from finder.errors import Problem
from finder.ingest import SourceItem
from finder.records import Record, record_problems
from finder.vocab import FALSE_WORDS, TRUE_WORDS, VOCABULARIES


@dataclass(frozen=True)
class Column:
    name: str
    guide: str
    example: str = ""
    location: bool = False  # belongs to a location (may differ on continuation rows)
    required: bool = False


def _allowed(vocab: str) -> str:
    return "one or more of: " + ", ".join(VOCABULARIES[vocab].terms)


#: Every column the importer knows, in template order. The README column guide is
#: generated from this list (``finder ingest columns``), so they cannot drift.
COLUMNS: tuple[Column, ...] = (
    Column("source_id", "Your own stable id for this practitioner (repeat it on extra-location rows).", "clinic-0001", required=True),
    Column("name", "Practitioner's full name.", "Siân Ní Bhriain (example)", required=True),
    Column("practice_name", "Practice, clinic or service name.", "Headingley Neuro Physio"),
    Column("hcpc_number", "HCPC registration number: PH followed by digits.", "PH9900001"),
    Column("registration_status", "HCPC status if you have checked it: " + ", ".join(VOCABULARIES["registration_status"].terms) + ". Default unchecked.", "unchecked"),
    Column("registration_checked_on", "Date you checked the HCPC register (YYYY-MM-DD); required with any status but unchecked.", ""),
    Column("gender", "Optional: female, male, non_binary.", "female"),
    Column("languages", "Languages spoken, " + _allowed("language") + ".", "english;welsh"),
    Column("memberships", "Professional memberships, " + _allowed("membership") + ".", "mcsp;acpin"),
    Column("bio", "Short description in plain text.", "Neurological physiotherapist with 12 years' experience of MS."),
    Column("specialisms", _allowed("specialism") + ".", "neurological"),
    Column("conditions", _allowed("condition") + ".", "multiple_sclerosis;spasticity;balance_problems"),
    Column("treatments", _allowed("treatment") + ".", "exercise_programme;fes;hydrotherapy"),
    Column("setting", "Where this location is: " + ", ".join(VOCABULARIES["setting"].terms) + ".", "private_clinic", location=True),
    Column("location_name", "Name of the building or site.", "Headingley Clinic", location=True),
    Column("address", "Street address (without town and postcode).", "12 Otley Road", location=True),
    Column("town", "Town or city.", "Leeds", location=True),
    Column("postcode", "UK postcode of this location (any spacing/case).", "LS6 2AB", location=True),
    Column("lat", "Latitude, if you know it (else found from the postcode).", "", location=True),
    Column("lon", "Longitude, with lat.", "", location=True),
    Column("ods_code", "NHS ODS code of the GP surgery (gp_surgery locations).", "", location=True),
    Column("wheelchair_access", "yes / no / blank for unknown.", "yes", location=True),
    Column("parking", "yes / no / blank.", "yes", location=True),
    Column("opening_hours", "Opening hours, e.g. Mon-Fri 9:00-17:00; Sat 9-12 or Monday to Friday 9am to 5pm or Tue, Thu 08:30-12:00 & 13:00-18:00 or 24 hours. Anything else (by appointment, closed bank holidays) is kept as a note.", "Mon-Fri 9:00-17:00", location=True),
    Column("location_phone", "Phone number at this location.", "", location=True),
    Column("home_visits_postcode", "Base postcode for home visits (blank: no home visits).", "LS6 2AB"),
    Column("home_visits_radius_km", "How far from that postcode they visit, in km (up to 200).", "15"),
    Column("funding", _allowed("funding") + ".", "private;insurance"),
    Column("referral_routes", "Who may refer: " + ", ".join(VOCABULARIES["referral_route"].terms) + ". Limit a route to condition groups with ':' and '+', e.g. self_referral:musculoskeletal+sports; rule out conditions with '!', e.g. self_referral:!multiple_sclerosis+!stroke (any condition code).", "self_referral:!multiple_sclerosis;gp;ms_nurse"),
    Column("referral_email", "Email address for referrals.", "referrals@example.org"),
    Column("referral_phone", "Phone number for referrals.", ""),
    Column("referral_notes", "Referral criteria and what to include in a referral.", "Please include diagnosis, current medication and mobility aids."),
    Column("nhs_waiting_weeks", "Typical NHS wait in weeks (whole number).", ""),
    Column("session_limit", "Maximum number of sessions, if limited.", ""),
    Column("fee_initial_gbp", "Private fee for a first appointment, in pounds.", "65"),
    Column("fee_follow_up_gbp", "Private fee for a follow-up, in pounds.", "50"),
    Column("fees_note", "Anything else about cost.", "Concessions for MS Society members."),
    Column("accepting_new_patients", "yes / no / blank.", "yes"),
    Column("phone", "Main phone number.", "0113 496 0000"),
    Column("email", "Main email address.", "hello@example.org"),
    Column("website", "Web address (http:// or https://).", "https://example.org"),
    Column("booking_url", "Online booking address.", ""),
    Column("source_url", "Where you got this information, if online.", ""),
    Column("last_verified_on", "When you last confirmed these details (YYYY-MM-DD).", "2026-11-01"),
    Column("is_sample", "yes only for fictional demo records (the site then shows a sample-data banner).", "yes"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
LOCATION_COLUMNS = frozenset(c.name for c in COLUMNS if c.location)
REQUIRED_COLUMNS = tuple(c.name for c in COLUMNS if c.required)



class _CellError(ValueError):
    pass


def _bool(value: str, column: str) -> bool | None:
    lowered = value.strip().lower()
    if not lowered:
        return None
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise _CellError(f"'{value.strip()[:40]}' is not yes or no (leave blank if unknown)")


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _blank(value: str) -> str | None:
    value = value.strip()
    return value or None


def _routes(value: str) -> list[dict[str, Any]]:
    """``self_referral:musculoskeletal+!multiple_sclerosis;gp``: after ':', condition groups
    (specialisms) the route is only for, and with '!' conditions it is not for."""
    routes = []
    for part in _list(value):
        route, _, limits = part.partition(":")
        items = [item.strip() for item in limits.split("+") if item.strip()]
        only_for = [item for item in items if not item.startswith("!")]
        not_for = [item[1:].strip() for item in items if item.startswith("!")]
        entry: dict[str, Any] = {"route": route.strip(), "only_for": only_for}
        if not_for:
            entry["not_for"] = not_for
        routes.append(entry)
    return routes


def _location(row: dict[str, str]) -> dict[str, Any] | None:
    if not any((row.get(c) or "").strip() for c in LOCATION_COLUMNS):
        return None
    return {
        "name": _blank(row.get("location_name", "")),
        "setting": (row.get("setting") or "").strip(),
        "address": _blank(row.get("address", "")),
        "town": _blank(row.get("town", "")),
        "postcode": _blank(row.get("postcode", "")),
        "lat": _blank(row.get("lat", "")),
        "lon": _blank(row.get("lon", "")),
        "ods_code": _blank(row.get("ods_code", "")),
        "wheelchair_access": _bool(row.get("wheelchair_access", ""), "wheelchair_access"),
        "parking": _bool(row.get("parking", ""), "parking"),
        "opening_hours": _blank(row.get("opening_hours", "")),
        "phone": _blank(row.get("location_phone", "")),
    }


def _practitioner(row: dict[str, str], source: str) -> dict[str, Any]:
    get = lambda c: row.get(c) or ""  # noqa: E731
    home = None
    if get("home_visits_postcode").strip() or get("home_visits_radius_km").strip():
        home = {"base_postcode": get("home_visits_postcode"), "coverage_radius_km": _blank(get("home_visits_radius_km"))}
    registration: dict[str, Any] = {"number": _blank(get("hcpc_number"))}
    if get("registration_status").strip():
        registration["status"] = get("registration_status")
    if get("registration_checked_on").strip():
        registration["checked_on"] = get("registration_checked_on").strip()
    return {
        "name": get("name").strip(),
        "practice_name": _blank(get("practice_name")),
        "gender": _blank(get("gender")),
        "languages": _list(get("languages")),
        "memberships": _list(get("memberships")),
        "bio": _blank(get("bio")),
        "registration": registration,
        "specialisms": _list(get("specialisms")),
        "conditions": _list(get("conditions")),
        "treatments": _list(get("treatments")),
        "home_visits": home,
        "funding": _list(get("funding")),
        "referral_routes": _routes(get("referral_routes")),
        "referral_email": _blank(get("referral_email")),
        "referral_phone": _blank(get("referral_phone")),
        "referral_notes": _blank(get("referral_notes")),
        "nhs_waiting_weeks": _blank(get("nhs_waiting_weeks")),
        "session_limit": _blank(get("session_limit")),
        "fee_initial_gbp": _blank(get("fee_initial_gbp")),
        "fee_follow_up_gbp": _blank(get("fee_follow_up_gbp")),
        "fees_note": _blank(get("fees_note")),
        "accepting_new_patients": _bool(get("accepting_new_patients"), "accepting_new_patients"),
        "phone": _blank(get("phone")),
        "email": _blank(get("email")),
        "website": _blank(get("website")),
        "booking_url": _blank(get("booking_url")),
        "provenance": {
            "source": source,
            "source_id": get("source_id").strip(),
            "source_url": _blank(get("source_url")),
            "last_verified_on": _blank(get("last_verified_on")),
        },
        "is_sample": bool(_bool(get("is_sample"), "is_sample")),
    }


_FIELD_COLUMNS = {
    ("registration", "number"): "hcpc_number",
    ("registration", "status"): "registration_status",
    ("registration", "checked_on"): "registration_checked_on",
    ("registration",): "registration_status",
    ("home_visits", "base_postcode"): "home_visits_postcode",
    ("home_visits", "coverage_radius_km"): "home_visits_radius_km",
    ("home_visits", "lat"): "home_visits_postcode",
    ("home_visits",): "home_visits_radius_km",
    ("provenance", "source_id"): "source_id",
    ("provenance", "source_url"): "source_url",
    ("provenance", "last_verified_on"): "last_verified_on",
    ("locations", "name"): "location_name",
    ("locations", "phone"): "location_phone",
    ("locations",): "setting",
}


def _column_of(loc: tuple[Any, ...]) -> str | None:
    """Map a pydantic error location to the CSV column an operator would fix."""
    if not loc:
        return None
    head = loc[0]
    if head == "locations":
        rest = tuple(p for p in loc[1:] if not isinstance(p, int))
        return _FIELD_COLUMNS.get(("locations", *rest[:1]), rest[0] if rest else "setting")
    if head in {"languages", "memberships", "specialisms", "conditions", "treatments", "funding", "referral_routes"}:
        return str(head)
    named = tuple(p for p in loc if not isinstance(p, int))
    for size in (2, 1):
        if named[:size] in _FIELD_COLUMNS:
            return _FIELD_COLUMNS[named[:size]]
    return str(head)


class _Group:
    """Consecutive rows that share a source_id: one practitioner."""

    def __init__(self, row_number: int, row: dict[str, str]) -> None:
        self.first_row = row_number
        self.rows: list[tuple[int, dict[str, str]]] = [(row_number, row)]

    def to_item(self, source: str) -> SourceItem:
        first = self.rows[0][1]
        item = SourceItem(row=self.first_row, raw=dict(first))
        data: dict[str, Any] = {}
        try:
            data = _practitioner(first, source)
        except _CellError as exc:
            item.reject(_which_bool_column(first), str(exc))
        locations = []
        for index, (number, row) in enumerate(self.rows):
            if index:
                clash = sorted(
                    c for c in COLUMN_NAMES
                    if c not in LOCATION_COLUMNS and c != "source_id" and (row.get(c) or "").strip()
                    and (row.get(c) or "").strip() != (first.get(c) or "").strip()
                )
                if clash:
                    item.reject(
                        clash[0],
                        f"this row continues source id '{first.get('source_id', '').strip()}' from row "
                        f"{self.first_row} (an extra location), so practitioner columns must be blank or "
                        f"the same as on row {self.first_row}; differs in: {', '.join(clash)}",
                        row=number,
                    )
            try:
                location = _location(row)
            except _CellError as exc:
                item.reject(_which_bool_column(row, location=True), str(exc), row=number)
                continue
            if location is not None:
                item.column_rows[f"locations.{len(locations)}"] = number
                locations.append(location)
        if item.problems:
            return item
        data["locations"] = locations
        try:
            item.record = Record.model_validate(data)
        except ValidationError as exc:
            for problem in record_problems(exc, column_of=_column_of):
                item.problems.append(Problem(row=self.first_row, column=problem.column, message=problem.message))
            _assign_location_rows(item, exc)
        return item


def _assign_location_rows(item: SourceItem, exc: ValidationError) -> None:
    """Point problems in the n-th location at the row that holds it."""
    for problem, err in zip(item.problems[-len(exc.errors()):], exc.errors(), strict=False):
        loc = err.get("loc", ())
        if len(loc) >= 2 and loc[0] == "locations" and isinstance(loc[1], int):
            problem.row = item.column_rows.get(f"locations.{loc[1]}", problem.row)


def _which_bool_column(row: dict[str, str], location: bool = False) -> str:
    candidates = ["wheelchair_access", "parking"] if location else ["accepting_new_patients", "is_sample"]
    for column in candidates:
        value = (row.get(column) or "").strip().lower()
        if value and value not in TRUE_WORDS | FALSE_WORDS:
            return column
    return candidates[0]


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is fine); anything else is refused with what to do."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); "
            "save it from your spreadsheet as 'CSV UTF-8 (comma delimited)' and try again"
        ) from None


def parse_csv(data: bytes | str, *, source: str = "csv") -> Iterator[SourceItem]:
    """Parse an import file into SourceItems (a file-level problem yields one item with row None)."""
    try:
        text = decode(data) if isinstance(data, bytes) else data.lstrip("\ufeff")
    except ValueError as exc:
        yield SourceItem(row=None, problems=[Problem(None, None, str(exc))])
        return
    if "\x00" in text:
        yield SourceItem(row=None, problems=[Problem(None, None, "the file contains NUL bytes: it is not a CSV text file")])
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        yield SourceItem(row=None, problems=[Problem(None, None, "the file is empty: expected a header row naming the columns")])
        return
    except csv.Error as exc:
        yield SourceItem(row=None, problems=[Problem(1, None, f"the header row is not valid CSV ({exc})")])
        return
    names = [h.strip().lower() for h in header]
    unknown = [h for h in names if h not in COLUMN_NAMES]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    duplicated = sorted({h for h in names if names.count(h) > 1 and h})
    if unknown or missing or duplicated:
        messages = []
        if unknown:
            messages.append(
                "unknown column(s): " + ", ".join(repr(u[:40]) for u in unknown[:10])
                + "; the columns we know are: " + ", ".join(COLUMN_NAMES)
            )
        if missing:
            messages.append("missing required column(s): " + ", ".join(missing))
        if duplicated:
            messages.append("column(s) given twice: " + ", ".join(duplicated))
        yield SourceItem(row=None, problems=[Problem(1, None, m) for m in messages])
        return

    group: _Group | None = None
    row_number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row_number += 1
            if group is not None:
                yield group.to_item(source)
                group = None
            yield SourceItem(row=row_number, problems=[Problem(row_number, None, f"not valid CSV: {exc}")])
            continue
        # One record is one spreadsheet row, however many lines its cells span
        # (reader.line_num counts lines, so it runs ahead after a multi-line cell).
        row_number += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(names):
            if group is not None:
                yield group.to_item(source)
                group = None
            yield SourceItem(
                row=row_number,
                raw=dict(zip(names, cells, strict=False)),
                problems=[Problem(row_number, None, f"has {len(cells)} cells but the header has {len(names)} columns")],
            )
            continue
        row = dict(zip(names, cells, strict=True))
        source_id = row.get("source_id", "").strip()
        if group is not None and source_id and source_id == group.rows[0][1].get("source_id", "").strip():
            group.rows.append((row_number, row))
            continue
        if group is not None:
            yield group.to_item(source)
        group = _Group(row_number, row)
    if group is not None:
        yield group.to_item(source)


def read_csv(path: str | Path, *, source: str = "csv") -> Iterator[SourceItem]:
    return parse_csv(Path(path).read_bytes(), source=source)


def template_rows() -> list[list[str]]:
    """Header and one example row: the content of data/import-template.csv."""
    return [list(COLUMN_NAMES), [c.example for c in COLUMNS]]


def column_guide_markdown() -> str:
    lines = ["| column | what to put | example |", "|---|---|---|"]
    for c in COLUMNS:
        required = " **(required)**" if c.required else ""
        lines.append(f"| `{c.name}` | {c.guide}{required} | {c.example or ' '} |")
    return "\n".join(lines)
