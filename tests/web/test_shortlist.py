"""Shortlist, comparison, exports, sorting and the smaller result-page defects (no browser)."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from finder import create_app
from finder.db import store_from
from finder.exports import csv_safe, csv_text
from finder.web import present
from tests.plugins.web import _web_record, seed_store
from tests.web.test_search_pages import text_of

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cells(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def _unsafe(cell: str) -> bool:
    return cell.lstrip(" \u00a0").startswith(FORMULA_START)


# ---- the shortlist lives in the address ------------------------------------------------


def test_add_to_shortlist_from_a_card_without_javascript(web_client: Any, web_site: Any) -> None:
    results = web_client.get("/search?near=LS6&q=multiple+sclerosis")
    body = results.get_data(as_text=True)
    links = re.findall(r'href="(/shortlist\?[^"]+)"[^>]*>Add to shortlist', body)
    assert links, "every card offers 'Add to shortlist' as a plain link"
    first = links[0].replace("&amp;", "&")
    query = parse_qs(urlsplit(first).query)
    added = int(query["ids"][0])
    page = web_client.get(first)
    assert page.status_code == 200
    text = text_of(page)
    assert "Added to your shortlist" in text
    assert "Set-Cookie" not in page.headers and "Set-Cookie" not in results.headers  # no cookies at all
    # Back to the results carries the shortlist, so a second card adds to it.
    back = re.search(r'<a href="([^"]+)">Back to your search results', page.get_data(as_text=True))
    assert back is not None
    back_url = back.group(1).replace("&amp;", "&")
    assert f"shortlist={added}" in back_url
    again = web_client.get(back_url).get_data(as_text=True)
    second = [u.replace("&amp;", "&") for u in re.findall(r'href="(/shortlist\?[^"]+)"[^>]*>Add to shortlist', again)][0]
    ids = parse_qs(urlsplit(second).query)["ids"][0].split(",")
    assert ids[0] == str(added) and len(ids) == 2
    assert "On your shortlist" in again


def test_add_to_shortlist_from_a_profile(web_client: Any, web_site: Any) -> None:
    alice = web_site.ids["Alice"]
    body = web_client.get(f"/practitioners/{alice}?back=/search%3Fnear%3DLS6%26shortlist%3D999").get_data(as_text=True)
    link = re.search(r'href="(/shortlist\?[^"]+)"[^>]*>Add to shortlist', body)
    assert link is not None
    ids = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)["ids"][0]
    assert ids == f"999,{alice}"  # the shortlist carried by the search is kept


def test_shortlist_page_lists_compares_exports_and_shares(web_client: Any, web_site: Any) -> None:
    ids = [web_site.ids["Alice"], web_site.ids["Bob"], web_site.ids["Erin"]]
    page = web_client.get("/shortlist?ids=" + ",".join(map(str, ids)))
    body = page.get_data(as_text=True)
    text = text_of(page)
    for name in ("Alice Neuro", "Bob Community", "Erin Harrogate"):
        assert name in text
    assert "Compare side by side" in text and "Download as a spreadsheet (CSV)" in text
    share = re.search(r'id="share-link" type="text" readonly value="([^"]+)"', body)
    assert share is not None and share.group(1).endswith("/shortlist?ids=" + ",".join(map(str, ids)))
    mailto = re.search(r'href="(mailto:[^"]+)"', body)
    assert mailto is not None
    mail = unquote(mailto.group(1).replace("&amp;", "&"))
    assert "subject=Physiotherapist shortlist" in mail
    assert "1. Alice Neuro" in mail and "Phone 0113 496 0001" in mail and "/compare?ids=" in mail
    assert "FICTIONAL" in mail  # sample data is never passed on as real


def test_shortlist_names_bad_and_withdrawn_items(web_client: Any, web_site: Any) -> None:
    alice = web_site.ids["Alice"]
    page = web_client.get(f"/shortlist?ids={alice},abc,999999,{alice}")
    assert page.status_code == 200
    text = text_of(page)
    assert "Left out “abc”" in text and "no longer in the directory" in text
    assert text.count("Remove Alice Neuro from the shortlist") == 1


def test_compare_puts_up_to_five_side_by_side(web_client: Any, web_site: Any) -> None:
    ids = [web_site.ids[n] for n in ("Alice", "Bob", "Erin", "Dan", "Fay", "Carol")]
    page = web_client.get("/compare?ids=" + ",".join(map(str, ids)))
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert body.count('<th scope="col">') == 5
    text = text_of(page)
    assert "Only 5 fit side by side: 1 more is on your shortlist" in text
    for row in ("Registration", "NHS waiting time", "Fees", "Conditions treated", "Referral routes", "Opening hours",
                "Access", "Contact", "How to be seen", "New patients", "Setting and funding"):
        assert f'<th scope="row">{row}</th>' in body
    assert "About 8 weeks" in text and "£60 first appointment, £45 follow-up" in text
    assert "Mon-Fri 09:00-17:00" in text  # hours as read (finder.hours), in their canonical form
    assert 'href="tel:+441134960001"' in body


# ---- exports ----------------------------------------------------------------------------


def test_shortlist_and_results_export_as_csv_and_text(web_client: Any, web_site: Any) -> None:
    ids = [web_site.ids["Alice"], web_site.ids["Bob"]]
    response = web_client.get("/shortlist.csv?ids=" + ",".join(map(str, ids)))
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = _cells(response.get_data(as_text=True))
    assert rows[0][:3] == ["id", "name", "practice"]
    assert [r[1] for r in rows[1:]] == ["Alice Neuro", "Bob Community"]
    by_name = {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_name["Bob Community"]["nhs_waiting_weeks"] == "8"
    assert by_name["Alice Neuro"]["fee_initial_gbp"] in ("60", "60.00")
    results = _cells(web_client.get("/search.csv?near=LS6&q=multiple+sclerosis").get_data(as_text=True))
    assert len(results) > 3 and all(r[5] for r in results[1:] if r[1] != "Fay Online")  # distances filled
    summaries = web_client.get("/shortlist.txt?ids=" + ",".join(map(str, ids))).get_data(as_text=True)
    assert summaries.count("REFERRAL SUMMARY:") == 2
    assert web_client.get("/search.txt?near=LS6&q=multiple+sclerosis").get_data(as_text=True).count("REFERRAL SUMMARY:") >= 3


def test_export_of_a_bad_search_is_a_clear_400(web_client: Any) -> None:
    response = web_client.get("/search.csv?near=LS6&radius_km=abc")
    assert response.status_code == 400
    assert "radius_km" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "payload",
    ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", "  =1+1", " @cmd", "\u00a0-1"],
)
def test_csv_guard_neutralises_formula_payloads(payload: str) -> None:
    assert _unsafe(payload)
    document = csv_text(["name"], [[payload], [None]])
    cell = _cells(document)[1][0]
    assert cell.startswith("'") and not _unsafe(cell)
    assert csv_safe("Plain name") == "Plain name" and csv_safe("") == ""


@pytest.fixture
def formula_site(tmp_path: Path, gazetteer_path: Path) -> Iterator[Any]:
    """A tiny site whose listings carry spreadsheet formula payloads in every free-text field."""
    from finder.search.indexer import build_index

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'finder.db'}",
            "GAZETTEER_PATH": str(gazetteer_path),
            "INDEX_DIR": str(tmp_path / "index"),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "test",
        }
    )
    store = store_from(app)
    store.upgrade()
    payloads = ["=cmd|' /C calc'!A0", "+SUM(1,2)", " -2+3", "@HYPERLINK(\"http://x\")"]
    records = [
        _web_record(
            900 + i,
            name=f"{p} Name",
            practice_name=p,
            referral_notes=p,
            fees_note=p,
            phone="+44 113 496 0999",
            registration={"number": f"PH77009{i:02d}", "status": "registered", "checked_on": "2025-03-03"},
            specialisms=["neurological"],
            conditions=["multiple_sclerosis"],
            locations=[{"name": p, "setting": "private_clinic", "address": p, "town": "Leeds", "postcode": "LS6 2AB",
                        "lat": 53.82, "lon": -1.577}],
            funding=["private"],
            is_sample=True,
        )
        for i, p in enumerate(payloads)
    ]
    seed_store(store, records)
    build_index(store, app.config["INDEX_DIR"])
    yield app
    store.dispose()


def test_csv_exports_open_safely_with_formula_payloads(formula_site: Any) -> None:
    client = formula_site.test_client()
    ids = [s.id for s in store_from(formula_site).iter_practitioners()]
    for url in ("/shortlist.csv?ids=" + ",".join(map(str, ids)), "/search.csv?near=LS6"):
        rows = _cells(client.get(url).get_data(as_text=True))
        assert len(rows) == 5, url
        for row in rows:
            for cell in row:
                assert not _unsafe(cell), (url, cell)
        assert any(cell.startswith("'=cmd") for row in rows for cell in row)
        assert any(cell == "'+44 113 496 0999" for row in rows for cell in row)  # phones too


# ---- sorting, online services, small defects ----------------------------------------------


def test_sort_options_on_the_page_and_in_the_api_agree(web_client: Any) -> None:
    page = web_client.get("/search?near=LS6&sort=nhs_wait").get_data(as_text=True)
    assert '<option value="nhs_wait" selected>Shortest NHS wait</option>' in page
    assert '<option value="fee">Lowest fee</option>' in page
    api = web_client.get("/api/v1/search?near=LS6&sort=fee&per_page=100").get_json()
    assert api["query"]["sort"] == "fee"
    page_names = re.findall(r'<h3 class="result-title">.*?<a href="[^"]+">([^<]+)<', web_client.get(
        "/search?near=LS6&sort=fee&per_page=100").get_data(as_text=True))
    assert [html.unescape(n) for n in page_names] == [r["name"] for r in api["results"]]
    spec = web_client.get("/api/v1/openapi.json").get_json()
    sort_param = next(p for p in spec["paths"]["/search"]["get"]["parameters"] if p["name"] == "sort")
    assert {"nhs_wait", "fee"} <= set(sort_param["schema"]["enum"])


def test_online_services_are_offered_apart_from_the_area(web_client: Any) -> None:
    page = web_client.get("/search?near=LS6&q=multiple+sclerosis")
    text = text_of(page)
    assert "Fay Online" not in text  # not "within 25 km of LS6"
    assert "See 1 online service that matches the rest of your search" in text
    online = re.search(r'href="([^"]+)">See 1 online service', page.get_data(as_text=True))
    assert online is not None
    listed = web_client.get(online.group(1).replace("&amp;", "&"))
    assert listed.status_code == 200 and "Fay Online" in text_of(listed)
    ticked = web_client.get("/search?near=LS6&q=multiple+sclerosis&setting=online")
    assert "Fay Online" not in text_of(ticked)
    api = web_client.get("/api/v1/search?near=LS6&q=multiple+sclerosis").get_json()
    assert api["online_anywhere"] == 1
    assert api["facets"]["setting"]["online"] <= api["total"]


def test_radius_choices_say_mile_and_miles_right(web_client: Any) -> None:
    body = web_client.get("/").get_data(as_text=True)
    assert "2 km (1 mile)<" in body and "2 km (1 miles)" not in body
    assert "25 km (16 miles)" in body
    assert present.miles_text(1) == "1 km (1 mile)"


def test_tell_us_where_or_what_is_said_once(web_client: Any) -> None:
    text = text_of(web_client.get("/search?near=&q="))
    assert text.count("Tell us where or what") == 1


@pytest.mark.parametrize(
    ("number", "href"),
    [("0113 496 0000", "tel:+441134960000"), ("+44 (0)20 7946 0000", "tel:+442079460000"), ("", ""),
     ("07700 900123", "tel:+447700900123")],
)
def test_phone_numbers_become_tap_to_call_links(number: str, href: str) -> None:
    assert present.phone_href(number) == href


def test_cards_show_what_a_gp_compares(web_client: Any) -> None:
    page = web_client.get("/search?near=LS6&q=multiple+sclerosis&condition=multiple_sclerosis")
    body = page.get_data(as_text=True)
    cards = re.findall(r'<li class="result".*?</li>\s*(?=<li class="result"|</ol>)', body, flags=re.S)
    bob = next(c for c in cards if "Bob Community" in c)
    alice = next(c for c in cards if "Alice Neuro" in c)
    assert "NHS wait" in bob and "About 8 weeks" in bob
    assert "£60 first appointment, £45 follow-up" in alice
    assert '<strong class="matched">Multiple sclerosis (MS)' in alice
    assert 'href="tel:+441134960001"' in alice
    for card in (alice, bob):
        assert "Setting and funding" in card and "New patients" in card and "How to be seen" in card


def test_the_map_caption_says_which_results_have_no_pin() -> None:
    from types import SimpleNamespace

    from finder.search.query import Hit
    from finder.web.pages import not_on_map

    home_only = _web_record(950, locations=[], home_visits={"base_postcode": "LS6 2AB", "coverage_radius_km": 10,
                                                             "lat": 53.82, "lon": -1.577})
    online = _web_record(951, locations=[{"setting": "online"}])
    clinic = _web_record(952, locations=[{"setting": "private_clinic", "postcode": "LS6 2AB", "lat": 53.82, "lon": -1.577}])
    rows = [(n, Hit(id=n, score=0.0, distance_km=1.0, location_index=0 if r is clinic else None), SimpleNamespace(record=r))
            for n, r in enumerate((home_only, online, clinic), 1)]
    assert not_on_map(SimpleNamespace(rows=rows)) == {"home_visits": 1, "online": 1, "other": 0}  # type: ignore[arg-type]
