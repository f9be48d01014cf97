"""NHS ODS GP practice file (``epraccur``): parse, and fetch it politely.

Written against the documented layout of the ODS "GP and GP practice related
data" CSV downloads: no header row, 27 columns in this order (NHS England,
Organisation Data Service, epraccur):

 1 Organisation Code           10 Postcode                   19-21 (null)
 2 Name                        11 Open Date (CCYYMMDD)       22 Amended Record Indicator
 3 National Grouping           12 Close Date (CCYYMMDD)      23 (null)
 4 High Level Health Geography 13 Status Code                24 Provider/Purchaser
 5-9 Address Lines 1-5         14 Organisation Sub-Type Code 25 (null)
                               15 Commissioner               26 Prescribing Setting
                               16 Join Provider/Purchaser    27 (null)
                               17 Left Provider/Purchaser
                               18 Contact Telephone Number

Two published variants are accepted:

* the classic download (a zip holding ``epraccur.csv``): status ``A`` active,
  ``C`` closed, ``D`` dormant, ``P`` proposed; prescribing setting a number
  (``4`` = GP practice);
* the ODS Data Search and Export report (``getReport?report=epraccur``, plain
  CSV): status words (``ACTIVE`` / ``INACTIVE``) and the prescribing setting as
  ODS role codes separated by ``|`` (``RO76`` = GP practice).

Both map to one vocabulary (:data:`STATUS_CODES`, :func:`canonical_setting`),
so loading one layout over the other changes nothing that did not change.

Only rows in scope are validated: GP practices (prescribing setting 4 / RO76),
unless the loader is asked for every setting. A problem on any other row (the
February 2023 file has one: a public health service at ``DN15 6QV``) is kept
apart and never stops the GP practices loading.

Postcodes follow this source's policy: ODS is the authoritative national
register, so a postcode that breaks the Royal Mail format is *kept as
published* (upper case, single space) and flagged, never a reject; the
practice is then stored without coordinates and with a data-quality note.
(The operator's own CSV keeps the strict rule: finder.records.)

``parse_epraccur`` is pure (bytes in, rows and row problems out); the loader in
:mod:`finder.sites` writes them to the store.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from finder.errors import FinderError, InvalidPostcode, Problem, SourceFormatError
from finder.geo.postcode import normalise_postcode

if TYPE_CHECKING:
    from finder.db import Store
    from finder.sites import PostcodeLookup, SitesReport
    from scrapers.http import PoliteSession

EPRACCUR_COLUMNS: tuple[str, ...] = (
    "Organisation Code",
    "Name",
    "National Grouping",
    "High Level Health Geography",
    "Address Line 1",
    "Address Line 2",
    "Address Line 3",
    "Address Line 4",
    "Address Line 5",
    "Postcode",
    "Open Date",
    "Close Date",
    "Status Code",
    "Organisation Sub-Type Code",
    "Commissioner",
    "Join Provider/Purchaser Date",
    "Left Provider/Purchaser Date",
    "Contact Telephone Number",
    "Null 1",
    "Null 2",
    "Null 3",
    "Amended Record Indicator",
    "Null 4",
    "Provider/Purchaser",
    "Null 5",
    "Prescribing Setting",
    "Null 6",
)
COLUMN = {name: index for index, name in enumerate(EPRACCUR_COLUMNS)}
#: Some exports drop the last, always-empty column.
MIN_COLUMNS = COLUMN["Prescribing Setting"] + 1

#: Published status codes -> our status (finder.sites.SURGERY_STATUSES).
STATUS_CODES: dict[str, str] = {
    "A": "open",
    "ACTIVE": "open",
    "C": "closed",
    "CLOSED": "closed",
    "INACTIVE": "closed",
    "D": "dormant",
    "DORMANT": "dormant",
    "P": "proposed",
    "PROPOSED": "proposed",
}

#: How the two variants mark a GP practice in the prescribing setting column.
GP_PRACTICE_SETTING = "4"
GP_PRACTICE_ROLE = "RO76"

#: Data Search and Export role codes -> the classic prescribing setting they stand for.
#: Only the one we are sure of; any other role code is compared as published.
ROLE_SETTINGS: dict[str, str] = {GP_PRACTICE_ROLE: GP_PRACTICE_SETTING}

#: The longest published postcode text we keep (the column holds 8 characters).
MAX_POSTCODE = 8

_ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


@dataclass(frozen=True)
class SurgeryRow:
    """One practice as the file describes it (text trimmed, codes upper-cased)."""

    ods_code: str
    name: str
    address_lines: tuple[str, ...]
    postcode: str | None
    phone: str | None
    status_code: str
    status: str
    open_date: date | None
    close_date: date | None
    prescribing_setting: str | None
    is_gp_practice: bool
    commissioner_code: str | None
    provider_code: str | None
    line: int = field(default=0, compare=False)
    #: False when the postcode is kept as published although it is not a valid UK postcode.
    postcode_valid: bool = True

    @property
    def setting(self) -> str | None:
        """The prescribing setting in one vocabulary, whichever layout published it."""
        return canonical_setting(self.prescribing_setting)

    def content_hash(self) -> str:
        """Stable hash of what the file says, in one vocabulary (not which layout or line said it).

        The published codes (``A`` / ``ACTIVE``, ``4`` / ``RO76``) are left out:
        their meaning (status, setting) is in, so switching layouts changes nothing.
        """
        data = asdict(self)
        for layout_only in ("line", "status_code", "prescribing_setting"):
            data.pop(layout_only)
        data["setting"] = self.setting
        blob = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class EpraccurFile:
    """Parsed rows, and the problems that stopped others (row = line in the file)."""

    rows: list[SurgeryRow] = field(default_factory=list)
    #: Problems on rows in scope (GP practices).
    problems: list[Problem] = field(default_factory=list)
    #: Codes on rejected lines: a partial load must not mark them as gone.
    rejected_codes: set[str] = field(default_factory=set)
    #: Problems on rows out of scope (not GP practices): they matter only with --all-settings.
    out_of_scope_problems: list[Problem] = field(default_factory=list)
    out_of_scope_codes: set[str] = field(default_factory=set)
    lines: int = 0

    @property
    def rejected(self) -> int:
        return len({p.row for p in self.problems})


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older ODS files were Windows-1252; it decodes any byte, and ASCII stays ASCII.
        return data.decode("cp1252", errors="replace")


def unpack(data: bytes, *, name: str = "the file") -> bytes:
    """The CSV inside a zip download (``epraccur.zip``), or the bytes as given."""
    if not data.startswith(b"PK\x03\x04"):
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if not members:
                raise SourceFormatError(f"{name} is a zip without a .csv file inside: expected epraccur.csv")
            preferred = [m for m in members if Path(m).name.lower() == "epraccur.csv"]
            return archive.read((preferred or members)[0])
    except zipfile.BadZipFile as exc:
        raise SourceFormatError(f"{name} looks like a zip but cannot be opened ({exc})") from None


def _date(value: str, column: str) -> date | None:
    if not value:
        return None
    match = _DATE.match(value)
    if not match:
        raise ValueError(f"'{value[:20]}' is not a date in the ODS form CCYYMMDD (e.g. 19740401)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(f"'{value}' is not a real date") from None


def canonical_setting(setting: str | None) -> str | None:
    """One vocabulary for both layouts: role codes become the classic numbers they stand for."""
    if not setting:
        return None
    parts = [part.strip().upper() for part in setting.split("|") if part.strip()]
    return "|".join(sorted({ROLE_SETTINGS.get(part, part) for part in parts})) or None


def _is_gp_practice(setting: str) -> bool:
    return GP_PRACTICE_SETTING in (canonical_setting(setting) or "").split("|")


def published_postcode(text: str) -> tuple[str | None, bool]:
    """The postcode as we store it from ODS, and whether it is a valid UK postcode.

    Valid ones are normalised ("ls62ab" -> "LS6 2AB"); others are kept as
    published (upper case, single-spaced), because ODS is the register of record.
    """
    if not text:
        return None, True
    try:
        return normalise_postcode(text), True
    except InvalidPostcode:
        kept = " ".join(text.upper().split())
        return (kept if len(kept) <= MAX_POSTCODE else None), False


def _row(cells: list[str], line: int, problems: list[Problem]) -> SurgeryRow | None:
    def cell(name: str) -> str:
        index = COLUMN[name]
        return cells[index].strip() if index < len(cells) else ""

    def problem(column: str | None, message: str) -> None:
        problems.append(Problem(row=line, column=column, message=message, unit="line"))

    before = len(problems)
    code = cell("Organisation Code").upper()
    if not _ODS_CODE.match(code):
        problem("Organisation Code", f"'{code[:20]}' is not an ODS code (3 to 10 letters and digits, e.g. B86001)")
    name = cell("Name")
    if not name:
        problem("Name", "is empty: every practice needs a name")
    raw_status = cell("Status Code").upper()
    status = STATUS_CODES.get(raw_status)
    if status is None:
        problem("Status Code", f"'{raw_status[:20]}' is not one of: A, C, D, P, ACTIVE, INACTIVE")
    postcode, postcode_valid = published_postcode(cell("Postcode"))
    dates: dict[str, date | None] = {}
    for column in ("Open Date", "Close Date"):
        try:
            dates[column] = _date(cell(column), column)
        except ValueError as exc:
            problem(column, str(exc))
    if len(problems) > before:
        return None
    setting = cell("Prescribing Setting") or None
    return SurgeryRow(
        ods_code=code,
        name=name,
        address_lines=tuple(cell(f"Address Line {n}") for n in range(1, 6) if cell(f"Address Line {n}")),
        postcode=postcode,
        phone=cell("Contact Telephone Number") or None,
        status_code=raw_status,
        status=status or "",
        open_date=dates["Open Date"],
        close_date=dates["Close Date"],
        prescribing_setting=setting,
        is_gp_practice=_is_gp_practice(setting or ""),
        commissioner_code=cell("Commissioner").upper() or None,
        provider_code=cell("Provider/Purchaser").upper() or None,
        line=line,
        postcode_valid=postcode_valid,
    )


def parse_epraccur(data: bytes | str, *, name: str = "the file") -> EpraccurFile:
    """Parse the epraccur CSV (or its zip); file-level shape problems raise SourceFormatError."""
    if isinstance(data, bytes):
        data = _decode(unpack(data, name=name))
    text = data.lstrip("\ufeff")
    if not text.strip():
        raise SourceFormatError(
            f"{name} is empty: expected the NHS ODS epraccur CSV (27 columns, no header row)"
        )
    if text.lstrip()[:1] == "<":
        raise SourceFormatError(f"{name} looks like a web page, not the NHS ODS epraccur CSV: is the address right?")
    parsed = EpraccurFile()
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for line, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            parsed.lines += 1
            if parsed.lines == 1:
                _check_shape(cells, name)
                if cells[0].strip().lower() in ("organisation code", "code"):
                    continue  # a header row some re-exports add; the documented file has none
            if not MIN_COLUMNS <= len(cells) <= len(EPRACCUR_COLUMNS):
                parsed.problems.append(
                    Problem(line, None, f"has {len(cells)} columns, expected {len(EPRACCUR_COLUMNS)}", unit="line")
                )
                parsed.rejected_codes.add(cells[0].strip().upper())
                continue
            row_problems: list[Problem] = []
            row = _row(cells, line, row_problems)
            in_scope = _is_gp_practice(cells[COLUMN["Prescribing Setting"]].strip())
            if row is None and not in_scope:
                # Not a GP practice: its problems matter only when every setting is loaded.
                parsed.out_of_scope_problems += row_problems
                parsed.out_of_scope_codes.add(cells[0].strip().upper())
                continue
            if row is None:
                parsed.problems += row_problems
                parsed.rejected_codes.add(cells[0].strip().upper())
                continue
            if row.ods_code in seen:
                parsed.problems.append(
                    Problem(line, "Organisation Code", f"{row.ods_code} is already on line {seen[row.ods_code]}", unit="line")
                )
                continue
            seen[row.ods_code] = line
            parsed.rows.append(row)
    except csv.Error as exc:
        raise SourceFormatError(f"{name} is not readable as CSV near line {reader.line_num}: {exc}") from None
    if not parsed.rows and not parsed.problems:
        raise SourceFormatError(f"{name} has no practice rows: expected the NHS ODS epraccur CSV")
    return parsed


def _check_shape(cells: list[str], name: str) -> None:
    """The first line decides whether this is the documented file at all."""
    if MIN_COLUMNS <= len(cells) <= len(EPRACCUR_COLUMNS):
        return
    raise SourceFormatError(
        f"{name} does not have the epraccur layout: line 1 has {len(cells)} columns, expected "
        f"{len(EPRACCUR_COLUMNS)} ({', '.join(EPRACCUR_COLUMNS[:3])}, ...). Is this the GP practices "
        "file (epraccur), and has NHS England changed its format?"
    )


def read_epraccur(path_or_url: str, *, session: PoliteSession | None = None) -> bytes:
    """The bytes of a local epraccur file (csv or zip) or of one fetched politely."""
    if re.match(r"^https?://", path_or_url, re.IGNORECASE):
        if session is None:
            raise FinderError("fetching the ODS file needs the polite HTTP session")
        return session.get(path_or_url, expect="csv").content
    path = Path(path_or_url)
    if not path.is_file():
        raise FinderError(f"{path_or_url} is not a file or a web address (https://...) of the epraccur CSV")
    return path.read_bytes()


def ingest_epraccur(
    store: Store,
    path_or_url: str,
    *,
    session: PoliteSession | None = None,
    partial: bool = False,
    complete: bool = True,
    include_all_settings: bool = False,
    geocode: PostcodeLookup | None = None,
    progress: bool = False,
) -> SitesReport:
    """Read, parse and load one epraccur file (path or address); see finder.sites.load_gp_surgeries."""
    from finder.sites import load_gp_surgeries

    data = read_epraccur(path_or_url, session=session)
    parsed = parse_epraccur(data, name=path_or_url)
    return load_gp_surgeries(
        store,
        parsed,
        input_name=path_or_url,
        partial=partial,
        complete=complete,
        include_all_settings=include_all_settings,
        geocode=geocode,
        progress=progress,
    )
