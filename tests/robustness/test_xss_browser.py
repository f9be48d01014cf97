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

import pytest

from finder.db import store_from
from tests.robustness.xss import (
    HOSTILE_EMAIL,
    HOSTILE_URL,
    MUST_SHOW,
    TEXT_FIELDS,
    hostile_app,
    page_types,
    payload,
)

pytestmark = [pytest.mark.browser]


@dataclass
class XssSite:
    url: str
    pid: int


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory: pytest.TempPathFactory, gazetteer_path: Path) -> Iterator[XssSite]:
    from werkzeug.serving import make_server

    app, pid = hostile_app(tmp_path_factory.mktemp("xss-site"), gazetteer_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="xss-server", daemon=True)
    thread.start()
    yield XssSite(url=f"http://127.0.0.1:{server.server_port}", pid=pid)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    store_from(app).dispose()


@pytest.fixture(scope="module")
def hostile_context(browser: Any) -> Iterator[Any]:
    """A browser context that ignores CSP, so only our escaping stands between payload and script."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    yield context
    context.close()


INJECTED = "[id^='xss'], [onerror], [onload], [onfocus], [onmouseover]"


#: Resolves after one turn of the page's task queue, with the document's ready state.
SETTLED = "() => new Promise(resolve => setTimeout(() => resolve(document.readyState), 0))"

#: Before any page script: record every call an injected handler would make.
RECORD_CALLS = """
window.__xssCalls = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (...args) => { window.__xssCalls.push(name + ": " + args.join(" ")); };
}
"""


def test_every_page_type_keeps_every_payload_inert(xss_site: XssSite, hostile_context: Any) -> None:
    page = hostile_context.new_page()
    page.add_init_script(RECORD_CALLS)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    seen: set[str] = set()
    try:
        for name, path in page_types(xss_site.pid):
            response = page.goto(xss_site.url + path, wait_until="load")
            assert response is not None and response.status < 500, (name, response and response.status)
            # No fixed wait: the load event comes after every image has loaded or failed (so
            # after any onerror/onload that slipped through), and this round trip through the
            # page's task queue runs whatever those handlers queued before we look.
            assert page.evaluate(SETTLED) == "complete", name
            assert page.evaluate("() => window.__xssCalls") == [], name
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


CSP_MUST = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'")


def test_csp_and_security_headers_on_every_page_type(xss_site: XssSite, browser: Any) -> None:
    """The real browser's view of the headers on every page type (CSP on: the second wall)."""
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        for name, path in page_types(xss_site.pid):
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
