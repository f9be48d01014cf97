"""Hostile listings for the XSS tests (in the browser and without it): a payload in every
free-text field, and the page types each field is shown on.

Every value is FICTIONAL test data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from finder.records import Record
from tests.helpers import record_data

LS6 = (53.8195, -1.5762)
GP_CODE = "Z99977"


def payload(field: str) -> str:
    """A payload tagged with its field: script, event handler, attribute break-out, template syntax."""
    return (
        f'F-{field}:<script>alert("{field}")</script>'
        f'<img src=x id=xss-{field} onerror=alert("{field}")>'
        f"\"'><svg id=xss2-{field} onload=alert(1)>{{{{7*7}}}}"
    )


#: The free-text fields of a record (and of its location and registration), by marker.
TEXT_FIELDS = {
    "name": "name",
    "practice": "practice_name",
    "bio": "bio",
    "notes": "referral_notes",
    "refphone": "referral_phone",
    "fees": "fees_note",
    "phone": "phone",
    "locname": "locations.0.name",
    "address": "locations.0.address",
    "town": "locations.0.town",
    "hours": "locations.0.opening_hours",
    "locphone": "locations.0.phone",
    "regname": "registration.register_name",
    "review": "registration.needs_review",
}
#: Validated fields can still hold hostile text that passes validation: quotes and angle brackets.
HOSTILE_URL = 'https://example.org/x"><img/src=x/id=xss-url/onerror=alert(9)>'  # no spaces: those are refused
HOSTILE_EMAIL = "xss'onfocus=alert(7)'@example.org"


def xss_record() -> Record:
    data = record_data(
        name=payload("name"),
        practice_name=payload("practice"),
        bio=payload("bio"),
        referral_notes=payload("notes"),
        referral_phone=payload("refphone"),
        fees_note=payload("fees"),
        fee_initial_gbp=50,
        phone=payload("phone"),
        email=HOSTILE_EMAIL,
        referral_email=HOSTILE_EMAIL,
        website=HOSTILE_URL,
        booking_url=HOSTILE_URL,
        registration={
            "number": "PH7799001",
            "status": "registered",
            "checked_on": "2026-01-05",
            "register_name": payload("regname"),
            "needs_review": payload("review"),
        },
        locations=[
            {
                "name": payload("locname"),
                "setting": "private_clinic",
                "address": payload("address"),
                "town": payload("town"),
                "postcode": "LS6 2AB",
                "lat": LS6[0],
                "lon": LS6[1],
                "opening_hours": payload("hours"),
                "phone": payload("locphone"),
            },
            # A GP surgery: its NHS record (name, address, phone from the ODS file) is shown too.
            {"setting": "gp_surgery", "ods_code": GP_CODE, "postcode": "LS6 2AB", "lat": LS6[0], "lon": LS6[1]},
        ],
        provenance={"source": "csv", "source_id": "xss-1", "source_url": HOSTILE_URL},
        referral_routes=[{"route": "self_referral"}, {"route": "gp"}],
        specialisms=["neurological"],
        conditions=["multiple_sclerosis"],
        is_sample=True,
    )
    return Record.model_validate(data)


def page_types(pid: int) -> list[tuple[str, str]]:
    """(name, path) of every page type, for the hostile listing ``pid``."""
    reflected = quote(payload("reflected"), safe="")
    return [
        ("home", "/"),
        ("results", "/search?near=LS6&q=multiple+sclerosis"),
        ("results by name", "/search?q=" + quote("F-name", safe="")),
        ("reflected q", f"/search?near=LS6&q={reflected}"),
        ("reflected near (error form)", f"/search?near={reflected}"),
        ("reflected label", f"/search?lat={LS6[0]}&lon={LS6[1]}&label={reflected}"),
        ("reflected bad filter", f"/search?near=LS6&specialism={reflected}"),
        ("practitioner", f"/practitioners/{pid}"),
        ("practitioner with back link", f"/practitioners/{pid}?back=" + quote("/search?q=x\"><script>alert(1)</script>", safe="")),
        ("referral summary", f"/practitioners/{pid}/referral"),
        ("referral text", f"/practitioners/{pid}/referral.txt"),
        ("shortlist", f"/shortlist?ids={pid}"),
        ("compare", f"/compare?ids={pid}"),
        ("report a problem", f"/practitioners/{pid}/report"),
        ("about", "/about"),
        ("api guide", "/api"),
        ("not found", "/practitioners/" + quote("<script>alert(1)</script>", safe="")),
        ("api record", f"/api/v1/practitioners/{pid}"),
    ]


#: Where each stored field must be visible as text (at least these; the union must cover every field).
MUST_SHOW = {
    "results": {"name", "practice"},
    "practitioner": {"name", "practice", "bio", "notes", "refphone", "phone", "locname", "hours", "locphone"},
    "referral summary": {"name", "practice", "notes", "refphone"},
    "referral text": {"name", "practice", "notes", "refphone"},
    "shortlist": {"name", "practice"},
    "compare": {"name", "practice", "refphone", "phone", "locname", "address", "town", "hours"},
}


#: Free-text fields of a stored GP surgery (NHS ODS file), by marker: shown on the practitioner page.
SURGERY_FIELDS = ("gpname", "gpaddress", "gpphone")


def xss_epraccur() -> bytes:
    """An NHS ODS practice file (epraccur, no header) with one surgery holding a payload in each text field."""
    import csv
    import io

    cells = [""] * 27
    cells[0], cells[1] = GP_CODE, payload("gpname")
    cells[4], cells[5] = payload("gpaddress"), "HEADINGLEY"
    cells[7], cells[9] = "LEEDS", "LS6 2AB"
    cells[10], cells[12], cells[25] = "19740401", "A", "4"
    cells[17] = payload("gpphone")
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


def hostile_app(instance: Path, gazetteer_path: Path) -> tuple[Any, int]:
    """A site (store, GP surgery, index) whose only listing and its GP surgery carry a payload
    in every free-text field: (the app, the listing's id). The caller disposes of the store."""
    from finder import create_app
    from finder.db import store_from
    from finder.ingest import SourceItem, ingest
    from finder.search.indexer import build_index
    from finder.sites import load_gp_surgeries
    from scrapers.nhs_ods import parse_epraccur

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "GAZETTEER_PATH": str(gazetteer_path),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "test",
        }
    )
    store = store_from(app)
    store.upgrade()
    surgeries = load_gp_surgeries(store, parse_epraccur(xss_epraccur(), name="xss epraccur"), input_name="xss")
    assert surgeries.written and surgeries.added == 1, surgeries.problems
    report = ingest(store, [SourceItem(row=2, record=xss_record())], source="csv", input_name="xss fixture")
    assert report.written, report.problems
    build_index(store, app.config["INDEX_DIR"])
    return app, report.changed_ids[0]
