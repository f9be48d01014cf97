"""Stored and reflected XSS, checked in the real browser: payloads in every free-text field stay text.

One listing carries a payload in every free-text field of the record (and
hostile-but-valid values in the email and web address fields); every page type
is loaded in Chromium with the page's Content-Security-Policy switched OFF
(``bypass_csp``), so that escaping alone is tested: the CSP is a second wall,
checked separately on every page type. No dialog may fire, no element the
payloads would create may exist, and each payload must be visible as text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from finder import create_app
from finder.db import store_from
from finder.ingest import SourceItem, ingest
from finder.records import Record
from tests.helpers import record_data

pytestmark = [pytest.mark.browser]

LS6 = (53.8195, -1.5762)


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
            }
        ],
        provenance={"source": "csv", "source_id": "xss-1", "source_url": HOSTILE_URL},
        referral_routes=[{"route": "self_referral"}, {"route": "gp"}],
        specialisms=["neurological"],
        conditions=["multiple_sclerosis"],
        is_sample=True,
    )
    return Record.model_validate(data)


@dataclass
class XssSite:
    url: str
    pid: int


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory: pytest.TempPathFactory, gazetteer_path: Path) -> Iterator[XssSite]:
    from werkzeug.serving import make_server

    from finder.search.indexer import build_index

    instance = tmp_path_factory.mktemp("xss-site")
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
    report = ingest(store, [SourceItem(row=2, record=xss_record())], source="csv", input_name="xss fixture")
    assert report.written, report.problems
    build_index(store, app.config["INDEX_DIR"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="xss-server", daemon=True)
    thread.start()
    yield XssSite(url=f"http://127.0.0.1:{server.server_port}", pid=report.changed_ids[0])
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    store.dispose()


@pytest.fixture(scope="module")
def hostile_context(browser: Any) -> Iterator[Any]:
    """A browser context that ignores CSP, so only our escaping stands between payload and script."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def page_types(site: XssSite) -> list[tuple[str, str]]:
    pid = site.pid
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
}

INJECTED = "[id^='xss'], [onerror], [onload], [onfocus], [onmouseover]"


def test_every_page_type_keeps_every_payload_inert(xss_site: XssSite, hostile_context: Any) -> None:
    page = hostile_context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    seen: set[str] = set()
    try:
        for name, path in page_types(xss_site):
            response = page.goto(xss_site.url + path, wait_until="load")
            assert response is not None and response.status < 500, (name, response and response.status)
            page.wait_for_timeout(50)  # let any onload/onerror handler that slipped through run
            assert page.eval_on_selector_all(INJECTED, "els => els.map(e => e.outerHTML)") == [], name
            assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0, name
            text = page.inner_text("body")
            shown = {field for field in (*TEXT_FIELDS, "reflected") if f'F-{field}:<script>alert("{field}")</script>' in text}
            assert MUST_SHOW.get(name, set()) <= shown, (name, MUST_SHOW[name] - shown)
            assert "49" not in re.findall(r"\d+", text) or "{{7*7}}" in text, name  # template syntax stays literal
            seen |= shown
            if name.startswith("reflected"):
                # Shown back as text, or kept in the form box as typed (both are inert).
                values = page.eval_on_selector_all("input", "els => els.map(e => e.value)")
                # (An error message quotes the first 40 characters of a bad value.)
                assert "F-reflected:<script>" in text or payload("reflected") in values, name
    finally:
        page.close()
    assert dialogs == [], dialogs
    # Every free-text field was rendered somewhere, and as text.
    assert set(TEXT_FIELDS) - {"regname", "review"} <= seen, set(TEXT_FIELDS) - seen


def test_hostile_links_stay_plain_links(xss_site: XssSite, hostile_context: Any) -> None:
    page = hostile_context.new_page()
    try:
        page.goto(f"{xss_site.url}/practitioners/{xss_site.pid}")
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert HOSTILE_URL in hrefs  # the whole address is one attribute value, quotes and all
        assert f"mailto:{HOSTILE_EMAIL}" in hrefs
        assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:", "vbscript:"))]
    finally:
        page.close()


def test_unsafe_link_schemes_cannot_be_stored() -> None:
    from pydantic import ValidationError

    for value in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", " javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:x"):
        for field in ("website", "booking_url"):
            with pytest.raises(ValidationError):
                Record.model_validate(record_data(**{field: value}))


CSP_MUST = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'")


def test_csp_and_security_headers_on_every_page_type(xss_site: XssSite, browser: Any) -> None:
    """The real browser's view of the headers on every page type (CSP on: the second wall)."""
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        for name, path in page_types(xss_site):
            response = page.goto(xss_site.url + path)
            assert response is not None
            headers = response.all_headers()
            policy = headers.get("content-security-policy", "")
            for directive in CSP_MUST:
                assert directive in policy, (name, directive)
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, name
            assert headers.get("x-content-type-options") == "nosniff", name
            assert headers.get("referrer-policy") == "same-origin", name
            assert headers.get("x-frame-options") == "DENY", name
    finally:
        context.close()
    assert dialogs == []
