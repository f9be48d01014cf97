"""Issue 13's smaller defects: home visits without a place, paging past the end, the plain-text referral."""

from __future__ import annotations

from typing import Any

from tests.web.test_pages import text_of


def test_visits_my_home_without_a_place_asks_for_a_postcode(web_client: Any) -> None:
    page = web_client.get("/search?q=multiple+sclerosis&visits_home=on")
    assert page.status_code == 400
    assert "“Visits my home” needs your postcode or town" in text_of(page)
    assert 'class="result"' not in page.get_data(as_text=True)
    api = web_client.get("/api/v1/search?q=multiple+sclerosis&visits_home=true")
    assert api.status_code == 400
    assert api.get_json()["invalid_params"][0]["name"] == "near"
    # With a place it means "visits you".
    assert web_client.get("/api/v1/search?near=LS6&visits_home=true").get_json()["total"] == 1


def test_a_page_past_the_end_links_back_to_the_last_page(web_client: Any) -> None:
    body = web_client.get("/api/v1/search?q=back+pain&per_page=10&page=99").get_json()
    assert body["results"] == [] and body["pages"] == 3
    assert body["links"]["prev"].endswith("page=3&per_page=10") or "page=3" in body["links"]["prev"]
    assert body["links"]["next"] is None
    # Links are relative unless FINDER_PUBLIC_URL is set (never built from the request's Host).
    prev_link = body["links"]["prev"]
    prev = web_client.get(prev_link.split("localhost", 1)[1] if "localhost" in prev_link else prev_link).get_json()
    assert prev["results"], "prev leads to a page with results"
    one_page = web_client.get("/api/v1/search?near=York&q=copd&page=5").get_json()
    assert one_page["pages"] == 1 and "page=" not in one_page["links"]["prev"]
    html = web_client.get("/search?q=back+pain&per_page=10&page=99").get_data(as_text=True)
    assert 'rel="prev"' in html and "page=98" not in html


def test_plain_text_referral_has_treatments_e_referral_and_access(stored_client: Any, stored_app: Any) -> None:
    plain = stored_client.get(f"/practitioners/{stored_app.ids['Bob']}/referral.txt").get_data(as_text=True)
    assert "TREATMENTS:  Exercise programmes; Home exercise plans" in plain
    assert "NHS e-Referral Service" in plain
    assert "Wheelchair access: yes. Parking: not known." in plain
    alice = stored_client.get(f"/practitioners/{stored_app.ids['Alice']}/referral.txt").get_data(as_text=True)
    assert "Opening hours: Mon-Fri 09:00-17:00" in alice
    assert "NHS e-Referral" not in alice  # private only


def test_the_import_date_is_not_called_last_updated(stored_client: Any, stored_app: Any) -> None:
    text = text_of(stored_client.get(f"/practitioners/{stored_app.ids['Bob']}"))
    assert "Last updated" not in text
    assert "The source has not told us when these details were last checked. Imported into Physio Finder on" in text
    assert "About 8 weeks (date not known: ask the service for today's wait)" in text
    plain = stored_client.get(f"/practitioners/{stored_app.ids['Bob']}/referral.txt").get_data(as_text=True)
    assert "last updated" not in plain.lower()
