"""Search that reads what people type: applied filters, why each matched, never a dead end, near me."""

from __future__ import annotations

import re
from typing import Any

import pytest


def api(client: Any, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_filter_words_become_applied_filters_in_the_api(web_client):
    body = api(web_client, q="female physio", near="LS6")
    assert body["interpreted"]["filters"] == [{"words": "female physio", "filter": "gender", "values": ["female"]}]
    assert body["total"] >= 1
    assert {r["name"] for r in body["results"]} == {"Alice Neuro"}


def test_a_listing_naming_the_condition_comes_first_and_says_why(web_client):
    body = api(web_client, q="stroke", near="LS6")
    first = body["results"][0]
    assert first["name"] == "Bob Community"  # names stroke, 2.8 km; Alice (0.4 km) is only neurological
    assert "Treats: Stroke" in first["matched"]
    nearest = api(web_client, q="stroke", near="LS6", sort="distance")["results"]
    assert nearest[0]["distance_km"] <= nearest[-1]["distance_km"]
    assert nearest[0]["name"] != "Bob Community"


def test_filler_words_never_fail_a_search(web_client):
    body = api(web_client, q="physio for someone with MS", near="LS6")
    assert body["total"] >= 2
    assert body["interpreted"]["text"] == ""


def test_zero_results_offer_alternatives_with_counts_on_page_and_api(web_client):
    body = api(web_client, q="hydrotherapy male", near="LS6")
    assert body["total"] == 0
    labels = [a["label"] for a in body["alternatives"]]
    assert any("if you drop “male”" in label for label in labels), labels
    first = body["alternatives"][0]
    again = web_client.get(first["search_url"].replace("http://localhost", "")).get_json()
    assert again["total"] == first["total"] > 0

    page = web_client.get("/search", query_string={"q": "hydrotherapy male", "near": "LS6"}).get_data(as_text=True)
    assert re.search(r"\d+ if you drop “male”", page)


def test_page_shows_applied_filters_each_removable(web_client):
    html = web_client.get("/search", query_string={"q": "female physio", "near": "LS6"}).get_data(as_text=True)
    assert "Showing:" in html
    assert re.search(r'href="/search\?near=LS6">remove', html)


@pytest.mark.parametrize("near", ["Headingley", "Leeds LS6", "LS6 Leeds"])
def test_neighbourhoods_and_town_with_district(web_client, near):
    body = api(web_client, q="MS", near=near)
    assert body["total"] >= 1
    assert abs(body["location"]["lat"] - 53.82) < 0.03


def test_near_me_without_a_position_asks_for_a_postcode(web_client):
    response = web_client.get("/search", query_string={"near": "near me", "q": "MS"})
    assert response.status_code == 422
    assert "type your postcode or town" in response.get_data(as_text=True)


@pytest.mark.browser
def test_use_my_location_searches_around_the_browser_position(live_server, browser):
    context = browser.new_context(geolocation={"latitude": 53.8200, "longitude": -1.5770}, permissions=["geolocation"])
    try:
        tab = context.new_page()
        tab.goto(live_server.url + "/")
        tab.fill("#field-q", "MS")
        tab.click(".js-near-me")
        tab.wait_for_url(re.compile(r".*lat=53\.82.*"))
        assert "Alice Neuro" in tab.content()
    finally:
        context.close()
