"""Stored XSS without a browser: every page type, rendered with a payload in every free-text field,
parsed as HTML. No element or attribute the payloads would create may exist, and each payload
must come out as text.

The browser test (test_xss_browser.py) checks the same listing in Chromium; this one runs in a
second and in every test run, so a `|safe` or a `Markup()` on any stored text fails here first.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from finder.db import store_from
from finder.records import Record
from tests.helpers import record_data
from tests.robustness.xss import (
    HOSTILE_EMAIL,
    HOSTILE_URL,
    MUST_SHOW,
    SURGERY_FIELDS,
    TEXT_FIELDS,
    hostile_app,
    page_types,
    payload,
)


@dataclass
class Parsed(HTMLParser):
    """What a browser would build from the markup: elements with their attributes, and the text."""

    elements: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def injected(self) -> list[str]:
        """Elements and attributes only a payload would have made."""
        found = []
        for tag, attrs in self.elements:
            if (attrs.get("id") or "").startswith(("xss", "xss2")):
                found.append(f"<{tag} id={attrs['id']}>")
            found += [f"<{tag} {name}=...>" for name in attrs if name.startswith("on")]
            if tag == "script" and not attrs.get("src"):
                found.append("<script> without src (inline script)")
            if tag in ("iframe", "object", "embed", "base"):
                found.append(f"<{tag}>")
        return found


def parse(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    return parsed


def as_text(field: str) -> str:
    """How the payload of a field reads once it is shown as text."""
    return f'F-{field}:<script>alert("{field}")</script>'


@dataclass
class HostileSite:
    client: Any
    pid: int


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory, gazetteer_path: Path) -> Iterator[HostileSite]:
    """A site whose only listing (and its GP surgery) carries a payload in every free-text field."""
    app, pid = hostile_app(tmp_path_factory.mktemp("xss-pages"), gazetteer_path)
    yield HostileSite(client=app.test_client(), pid=pid)
    store_from(app).dispose()


HTML_PAGES = [name for name, _ in page_types(0) if name not in ("referral text", "api record")]


@pytest.mark.parametrize("name", HTML_PAGES)
def test_every_html_page_shows_every_payload_as_text(hostile_site: HostileSite, name: str) -> None:
    path = dict(page_types(hostile_site.pid))[name]
    response = hostile_site.client.get(path)
    assert response.status_code < 500, response.status_code
    assert response.mimetype == "text/html"
    parsed = parse(response.get_data(as_text=True))
    assert parsed.injected() == []
    text = parsed.text
    shown = {f for f in TEXT_FIELDS if as_text(f) in text}
    assert MUST_SHOW.get(name, set()) <= shown, MUST_SHOW[name] - shown
    assert "{{7*7}}" not in text or "49" not in text  # template syntax stays literal
    if name.startswith("reflected"):
        # Shown back as text (an error message quotes the first 40 characters of a bad
        # value), or kept in the form box as typed.
        values = [attrs.get("value") for tag, attrs in parsed.elements if tag == "input"]
        assert "F-reflected:<script>" in text or payload("reflected") in values


def test_every_free_text_field_is_shown_somewhere(hostile_site: HostileSite) -> None:
    """The union over page types covers every stored free-text field (else the checks above miss one)."""
    seen: set[str] = set()
    for name in HTML_PAGES:
        text = parse(hostile_site.client.get(dict(page_types(hostile_site.pid))[name]).get_data(as_text=True)).text
        seen |= {f for f in TEXT_FIELDS if as_text(f) in text}
    # register_name and needs_review are kept for the operator, never shown on a page.
    assert seen == set(TEXT_FIELDS) - {"regname", "review"}


def test_gp_surgery_text_from_the_nhs_file_is_escaped(hostile_site: HostileSite) -> None:
    response = hostile_site.client.get(f"/practitioners/{hostile_site.pid}")
    parsed = parse(response.get_data(as_text=True))
    assert parsed.injected() == []
    # Surgery names and addresses are shown in readable case, so compare without case.
    text = parsed.text.lower()
    for marker in SURGERY_FIELDS:
        assert as_text(marker).lower() in text, marker


def test_hostile_links_stay_one_attribute(hostile_site: HostileSite) -> None:
    parsed = parse(hostile_site.client.get(f"/practitioners/{hostile_site.pid}").get_data(as_text=True))
    hrefs = [attrs.get("href") for tag, attrs in parsed.elements if tag == "a"]
    assert HOSTILE_URL in hrefs  # the whole address is one attribute value, quotes and all
    assert f"mailto:{HOSTILE_EMAIL}" in hrefs
    assert not [h for h in hrefs if h and h.lower().startswith(("javascript:", "data:", "vbscript:"))]
    assert parsed.injected() == []


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/practitioners/{pid}/referral.txt", "text/plain"),
        ("/shortlist.txt?ids={pid}", "text/plain"),
        ("/search.txt?q=F-name", "text/plain"),
        ("/shortlist.csv?ids={pid}", "text/csv"),
        ("/search.csv?q=F-name", "text/csv"),
    ],
)
def test_plain_text_and_csv_exports_are_never_html(hostile_site: HostileSite, path: str, mimetype: str) -> None:
    response = hostile_site.client.get(path.format(pid=hostile_site.pid))
    assert response.status_code == 200
    assert response.mimetype == mimetype and response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data(as_text=True)
    if mimetype == "text/csv":
        body = "\n".join(cell for row in csv.reader(io.StringIO(body)) for cell in row)
    for marker in ("name", "practice"):
        assert payload(marker) in body, marker  # exactly as typed: plain text is not HTML
    if path.startswith("/practitioners/"):
        for marker in MUST_SHOW["referral text"]:
            assert payload(marker) in body, marker


def test_api_record_is_json_with_the_text_as_stored(hostile_site: HostileSite) -> None:
    response = hostile_site.client.get(f"/api/v1/practitioners/{hostile_site.pid}")
    assert response.status_code == 200
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    body = json.loads(response.get_data(as_text=True))
    assert body["name"] == payload("name")
    assert body["referral_phone"] == payload("refphone")
    assert body["locations"][0]["name"] == payload("locname")


def test_unsafe_link_schemes_cannot_be_stored() -> None:
    from pydantic import ValidationError

    for value in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", " javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:x"):
        for name in ("website", "booking_url"):
            with pytest.raises(ValidationError):
                Record.model_validate(record_data(**{name: value}))
