"""Real-browser checks for the clinical-safety pages and "Report a problem with this listing" (axe-core, 320 px).

The report flow writes one row to problem_reports of the shared web site; no
listing changes, so the other (read-only) browser tests are unaffected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import check_page

pytestmark = pytest.mark.browser


def no_sideways_scroll(browser: Any, url: str) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=1)
    try:
        phone = context.new_page()
        phone.goto(url)
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
    finally:
        context.close()


def test_report_a_problem_is_axe_clean_in_every_state(
    live_server: Any, web_site: Any, page: Any, browser: Any, artifacts_dir: Path
) -> None:
    pid = web_site.ids["Bob"]
    page.goto(f"{live_server.url}/practitioners/{pid}")
    page.get_by_role("link", name="Report a problem with this listing").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Report a problem with this listing")
    check_page(page, "report-problem", artifacts_dir)
    no_sideways_scroll(browser, page.url)

    # Nothing chosen: the error summary, still axe-clean, with the input kept.
    page.get_by_label("What should it say?").fill("The phone number changed.")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_load_state()
    assert "choose what is wrong" in page.locator(".error-summary").inner_text()
    assert page.get_by_label("What should it say?").input_value() == "The phone number changed."
    check_page(page, "report-problem-error", artifacts_dir)

    page.get_by_label("The phone number, email, address or website is wrong").check()
    page.get_by_role("button", name="Send report").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you: your report was sent"
    check_page(page, "report-sent", artifacts_dir)
    assert page.context.cookies() == []  # no cookies at any step


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("not-practising-profile", "/practitioners/{Lara}"),
        ("referral-refused", "/practitioners/{Lara}/referral"),
        ("stale-check-profile", "/practitioners/{Stan}"),
        ("results-with-not-practising", "/search?near=York&q=copd&include_not_practising=true"),
    ],
)
def test_safety_pages_are_axe_clean(
    live_server: Any, web_site: Any, page: Any, browser: Any, artifacts_dir: Path, name: str, path: str
) -> None:
    url = live_server.url + path.format(**{k: web_site.ids[k] for k in ("Lara", "Stan")})
    page.goto(url)
    check_page(page, name, artifacts_dir)
    if not path.startswith("/search"):
        # The results page at 320 px belongs to the results-first layout (issue 13, UI half).
        no_sideways_scroll(browser, url)
