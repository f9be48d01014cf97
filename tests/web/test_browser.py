"""Real-browser tests: Debian Chromium through Playwright, axe-core on every page type.

Each page type is screenshotted into test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.plugins.web import CHECKED_TEXT

pytestmark = pytest.mark.browser


def axe_violations(page: Any) -> tuple[int, str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return results.violations_count, results.generate_report()


def check_page(page: Any, name: str, artifacts: Path) -> None:
    """Screenshot the page and assert axe-core finds nothing."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    count, report = axe_violations(page)
    assert count == 0, report


def test_patient_journey(live_server: Any, page: Any, artifacts_dir: Path) -> None:
    """Search by postcode, apply a filter, open a practitioner, open the referral summary."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live_server.url + "/")
    check_page(page, "home", artifacts_dir)
    page.get_by_label("Postcode or town").fill("LS6")
    page.get_by_label("Condition, treatment or name").fill("multiple sclerosis")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?**")
    assert page.get_by_role("heading", level=1).inner_text().endswith("within 25 km of LS6 matching “multiple sclerosis”")
    results = page.locator("ol.results > li")
    assert results.count() >= 4
    assert "Carol Lapsed" not in page.locator("ol.results").inner_text()  # lapsed: left out by default
    check_page(page, "results", artifacts_dir)

    # On a wide screen the script opens the filters, and a ticked box applies at once.
    with page.expect_navigation():
        page.locator("#filters").get_by_label("Registered with the HCPC only").check()
    assert "registered_only=true" in page.url
    listed = page.locator("ol.results").inner_text()
    assert "Carol Lapsed" not in listed and "Alice Neuro" in listed
    assert page.locator("#filters").get_by_label("Registered with the HCPC only").is_checked()

    page.locator("ol.results h3 a", has_text="Alice Neuro").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Alice Neuro")
    assert page.get_by_text(f"Registered with the HCPC (checked {CHECKED_TEXT})").is_visible()
    check_page(page, "practitioner", artifacts_dir)

    page.get_by_role("link", name="Referral summary for GPs and MS nurses").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Referral summary")
    assert page.get_by_role("button", name="Print this summary").is_visible()  # shown by the script
    check_page(page, "referral", artifacts_dir)
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts_dir / "referral-print.png"), full_page=True)
    assert not page.locator("nav[aria-label=Main]").is_visible()
    assert not page.get_by_role("button", name="Print this summary").is_visible()
    assert errors == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("about", "/about"),
        ("api-guide", "/api"),
        ("error-404", "/practitioners/999999"),
        ("error-form", "/search?near=LS6&radius_km=abc"),
        ("error-form-filters", "/search?near=LS6&radius_km=abc&specialism=neurological&specialism=bogus&visits_home=true"),
        ("error-unknown-postcode", "/search?near=LS99+9ZZ"),
        ("which-place", "/search?near=St+Ives"),
        ("no-results", "/search?near=LS6&q=hydrotherapy&funding=nhs"),
        ("empty-search", "/search"),
    ],
)
def test_page_types_have_no_axe_violations(live_server: Any, page: Any, artifacts_dir: Path, name: str, path: str) -> None:
    page.goto(live_server.url + path)
    check_page(page, name, artifacts_dir)


def test_results_on_a_phone(live_server: Any, browser: Any, artifacts_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    phone = context.new_page()
    try:
        phone.goto(live_server.url + "/search?near=LS6&q=multiple+sclerosis")
        # No sideways scrolling on a small screen (WCAG reflow).
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        check_page(phone, "results-phone", artifacts_dir)
    finally:
        context.close()


def test_search_works_without_javascript(live_server: Any, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    try:
        tab.goto(live_server.url + "/")
        tab.get_by_label("Postcode or town").fill("LS6")
        tab.get_by_label("Postcode or town").press("Enter")
        tab.wait_for_url("**/search?**")
        assert tab.locator("ol.results > li").count() >= 5
        tab.locator("#filters summary").click()  # the filters are one tap away
        tab.locator("#filters").get_by_label("Visits my home").check()
        tab.get_by_role("button", name="Apply filters").first.click()
        tab.wait_for_load_state()
        assert tab.locator("ol.results > li").count() == 1
        # Through to the referral summary: its Print button needs the script, so
        # without JavaScript it is in the page but stays hidden (printing from the
        # browser's menu still works).
        tab.get_by_role("link", name="Alice Neuro (result 1)").click()
        tab.wait_for_load_state()
        tab.get_by_role("link", name="Referral summary for GPs and MS nurses").click()
        tab.wait_for_load_state()
        assert tab.get_by_role("heading", level=1).inner_text().startswith("Referral summary")
        button = tab.get_by_role("button", name="Print this summary", include_hidden=True)
        assert button.count() == 1
        assert not button.is_visible()
    finally:
        context.close()


def test_keyboard_user_sees_where_focus_is(live_server: Any, page: Any) -> None:
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("el => el === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["height"] >= 44
    outline = skip.evaluate("el => getComputedStyle(el).backgroundColor")
    assert outline == "rgb(255, 221, 0)"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "field-near"
    style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert style == "solid"


def test_targets_are_large_enough(live_server: Any, page: Any) -> None:
    page.goto(live_server.url + "/search?near=LS6&q=multiple+sclerosis")
    small = page.evaluate(
        """() => Array.from(document.querySelectorAll('main button, main select, main input:not([type=hidden]), main .result-title a, .pagination a, .nav a'))
             .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
             .filter(([html, r]) => r.width > 0 && (r.height < 24 || r.width < 24))"""
    )
    assert small == []
    heights = page.evaluate(
        "() => Array.from(document.querySelectorAll('main button, main select, main input[type=text]')).map(el => el.getBoundingClientRect().height)"
    )
    assert min(heights) >= 44
    font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font >= 20


@pytest.fixture(scope="module")
def tiled_server(web_site: Any) -> Any:
    """The seeded site again, with the optional tiled map switched on (tiles from this server: no network)."""
    import threading

    from werkzeug.serving import make_server

    from finder import create_app

    config = {key: web_site.app.config[key] for key in ("INSTANCE_PATH", "DATABASE_URL", "GAZETTEER_PATH", "INDEX_DIR")}
    app = create_app({**config, "TESTING": True, "SECRET_KEY": "test", "RATELIMIT_ENABLED": False,
                      "MAP_TILES_URL": "/static/no-such-tiles/{z}/{x}/{y}.png", "MAP_TILES_ATTRIBUTION": "Test tiles <b>&</b>"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_optional_tiled_map_enhances_the_picture(tiled_server: str, page: Any, artifacts_dir: Path) -> None:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(tiled_server + "/search?near=LS6&q=multiple+sclerosis")
    page.wait_for_selector(".leaflet-container")
    pins = page.locator(".leaflet-pin")
    assert pins.count() == page.locator("ol.results > li").count()
    assert pins.first.inner_text() == "1"
    assert page.locator("svg.results-map").is_visible()  # the server picture stays as the text alternative
    assert "Test tiles <b>&</b>" in page.locator(".leaflet-control-attribution").inner_text()
    assert blocked == []
    page.screenshot(path=str(artifacts_dir / "results-tiled.png"), full_page=True)


def test_tiled_map_is_off_unless_configured(live_server: Any, page: Any) -> None:
    page.goto(live_server.url + "/search?near=LS6&q=multiple+sclerosis")
    assert page.locator(".leaflet-container").count() == 0
    assert "leaflet" not in page.content()
