"""Results first on a phone and at 200% zoom, reflow at 320 px, shortlist -> compare -> CSV in a real browser.

200% zoom is tested as a 640 x 450 CSS-pixel viewport at deviceScaleFactor 2: that is
exactly what zooming a 1280 x 900 window to 200% gives the page (the layout viewport
halves in CSS pixels, so the same media queries apply), and unlike CSS `zoom` it
does not change how the page itself measures lengths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import axe_violations, check_page

pytestmark = pytest.mark.browser

#: Text, a place and two filters: the search the issue measured.
SEARCH = "/search?near=LS6&q=multiple+sclerosis&specialism=neurological&funding=private"


def first_card_top(tab: Any) -> float:
    return float(tab.evaluate("document.querySelector('ol.results > li').getBoundingClientRect().top + window.scrollY"))


@pytest.mark.parametrize(
    ("name", "width", "height", "scale", "javascript"),
    [
        ("phone-390", 390, 844, 1, True),
        ("phone-390-no-js", 390, 844, 1, False),
        # The issue sets the first-screen bar at 390 x 844 and 200% zoom; at 320 px it asks for the
        # measurement (printed) and no sideways scroll, so the bar there is the same 844 px.
        ("narrow-320", 320, 844, 1, True),
        ("zoom-200", 640, 450, 2, True),
    ],
)
def test_first_result_starts_on_the_first_screen(
    live_server: Any, browser: Any, artifacts_dir: Path, name: str, width: int, height: int, scale: int, javascript: bool
) -> None:
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=scale, java_script_enabled=javascript
    )
    tab = context.new_page()
    try:
        tab.goto(live_server.url + SEARCH)
        top = first_card_top(tab)
        tab.screenshot(path=str(artifacts_dir / f"results-first-{name}.png"))
        print(f"first card top at {width}x{height}@{scale}x (JS {'on' if javascript else 'off'}): {top:.0f} px")
        # The card, with its title line (about 50 px), starts on the first screen.
        assert top + 50 <= height, f"first result starts at {top:.0f} px on a {height} px screen"
        # The compact summary and the one-tap form and filters sit above it.
        assert tab.locator(".applied li").count() == 2
        assert tab.locator("details.change-search > summary").is_visible()
        assert tab.locator("#filters > summary").is_visible()
        assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


PAGES = [
    "/",
    SEARCH,
    "/search?near=LS6&q=multiple+sclerosis&sort=fee",
    "/search?setting=online",
    "/practitioners/{Alice}",
    "/practitioners/{Mallory}",
    "/practitioners/{Bob}/referral",
    "/about",
    "/api",
    "/practitioners/999999",
    "/search?near=LS6&radius_km=abc&specialism=bogus",
    "/search",
    "/shortlist?ids={Alice},{Bob},{Mallory}",
    "/shortlist",
    "/compare?ids={Alice},{Bob},{Erin},{Mallory},{Fay}",
]


def test_no_page_scrolls_sideways_at_320px(live_server: Any, browser: Any) -> None:
    ids = live_server.site.ids
    context = browser.new_context(viewport={"width": 320, "height": 640})
    tab = context.new_page()
    wide = []
    try:
        for path in PAGES:
            tab.goto(live_server.url + path.format(**ids))
            # Open every disclosure too: the form and the filters must reflow as well.
            tab.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            width = tab.evaluate("document.documentElement.scrollWidth")
            if width > 320:
                wide.append((path, width))
    finally:
        context.close()
    assert wide == [], f"pages wider than 320 px: {wide}"


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("shortlist", "/shortlist?ids={Alice},{Bob},{Mallory}"),
        ("shortlist-empty", "/shortlist"),
        ("compare", "/compare?ids={Alice},{Bob},{Erin},{Mallory},{Fay}"),
        ("results-sorted-by-wait", "/search?near=LS6&sort=nhs_wait"),
        ("online-services", "/search?setting=online"),
    ],
)
def test_new_pages_have_no_axe_violations(live_server: Any, page: Any, artifacts_dir: Path, name: str, path: str) -> None:
    page.goto(live_server.url + path.format(**live_server.site.ids))
    check_page(page, name, artifacts_dir)


def test_results_with_everything_open_on_a_phone_are_axe_clean(live_server: Any, browser: Any, artifacts_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    try:
        tab.goto(live_server.url + SEARCH)
        tab.locator("details.change-search > summary").click()
        tab.locator("#filters > summary").click()
        assert tab.get_by_role("button", name="Apply filters").first.is_visible()
        assert tab.get_by_role("button", name="Apply filters").count() == 2  # top and bottom of the list
        check_page(tab, "results-phone-open", artifacts_dir)
    finally:
        context.close()


def test_filters_apply_as_they_change_and_focus_comes_back(live_server: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    try:
        tab.goto(live_server.url + "/search?near=LS6&q=multiple+sclerosis")
        tab.locator("#filters > summary").click()
        with tab.expect_navigation():
            tab.locator("#filters").get_by_label("Accepting new patients").check()
        assert "accepting=true" in tab.url and tab.url.endswith("#flag-accepting")
        assert tab.evaluate("document.activeElement.id") == "flag-accepting"
        assert tab.locator("#filters").get_attribute("open") is not None
        with tab.expect_navigation():
            tab.locator("#field-sort").select_option("nhs_wait")
        assert "sort=nhs_wait" in tab.url
    finally:
        context.close()


def test_keyboard_order_follows_the_columns_on_a_desktop(live_server: Any, page: Any) -> None:
    page.goto(live_server.url + SEARCH)
    filters = page.locator("#filters").bounding_box()
    first = page.locator("ol.results > li").first.bounding_box()
    assert filters is not None and first is not None
    assert filters["x"] + filters["width"] <= first["x"]  # filters on the left
    assert page.locator("#filters").get_attribute("open") is not None  # opened on a wide screen
    # Tab from the "Change search" toggle: the filter column comes next, then the results.
    page.locator("details.change-search > summary").focus()
    order = []
    for _ in range(40):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.closest('#filters') ? 'filters' : "
                                   "(document.activeElement.closest('ol.results') ? 'results' : 'other')"))
    assert order.index("filters") < order.index("results")
    assert "filters" not in order[order.index("results"):]


def test_print_button_stays_hidden_without_javascript(live_server: Any, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    try:
        tab.goto(live_server.url + f"/practitioners/{live_server.site.ids['Bob']}/referral")
        button = tab.locator(".js-print")
        assert button.count() == 1 and not button.is_visible()
        assert tab.evaluate("getComputedStyle(document.querySelector('.js-print')).display") == "none"
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False])
def test_shortlist_compare_and_csv(live_server: Any, browser: Any, javascript: bool) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=javascript)
    tab = context.new_page()
    try:
        tab.goto(live_server.url + "/search?near=LS6&q=multiple+sclerosis")
        names = tab.locator("ol.results > li h3 a").all_inner_texts()
        tab.locator("ol.results > li").nth(0).get_by_role("link", name="Add to shortlist").click()
        tab.wait_for_url("**/shortlist?**")
        assert tab.get_by_text("Added to your shortlist").is_visible()
        tab.get_by_role("link", name="Go back to your results").click()
        tab.wait_for_url("**/search?**")
        tab.locator("ol.results > li").nth(1).get_by_role("link", name="Add to shortlist").click()
        tab.wait_for_url("**/shortlist?**")
        listed = tab.locator("ol.shortlist > li h2 a").all_inner_texts()
        assert listed == [names[0].split("\n")[0].split(" (result")[0], names[1].split("\n")[0].split(" (result")[0]]
        csv_href = tab.get_by_role("link", name="Download as a spreadsheet (CSV)").get_attribute("href")
        tab.get_by_role("link", name="Compare side by side").first.click()
        tab.wait_for_url("**/compare?**")
        assert tab.locator("table.compare-table thead th").count() == 2
        body = tab.request.get(live_server.url + csv_href).text()
        assert body.count("\n") == 3 and listed[0] in body
        if javascript:
            # The script keeps a copy in local storage (no cookies), and a new search offers it.
            assert tab.evaluate("localStorage.getItem('physio-finder-shortlist')").count(",") == 1
            tab.goto(live_server.url + "/search?near=LS6")
            assert tab.get_by_role("link", name="Your shortlist (2)").count() == 1
        assert context.cookies() == []
    finally:
        context.close()


def test_comparison_prints_on_a4(live_server: Any, page: Any, artifacts_dir: Path) -> None:
    ids = live_server.site.ids
    page.set_viewport_size({"width": 1047, "height": 718})  # A4 landscape less 10 mm margins, at 96 dpi
    page.goto(live_server.url + "/compare?ids={Alice},{Bob},{Erin},{Mallory},{Fay}".format(**ids))
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts_dir / "compare-print.png"), full_page=True)
    assert not page.locator("nav[aria-label=Main]").is_visible()
    assert page.evaluate("document.querySelector('table.compare-table').scrollWidth <= document.documentElement.clientWidth")
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    count, report = axe_violations(page)
    assert count == 0, report
