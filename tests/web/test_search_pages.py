"""The search page against the real gazetteer, index and store (the seeded web site)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.plugins.web import CHECKED_TEXT
from tests.web.test_pages import text_of


def result_names(response: Any) -> list[str]:
    body = response.get_data(as_text=True)
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'<h3 class="result-title">.*?<a [^>]*>(.*?)<span', body, re.S)]


def test_home_page_is_a_plain_form(web_client: Any) -> None:
    response = web_client.get("/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<form method="get" action="/search"' in body
    for control in ["field-near", "field-q", "field-radius"]:
        assert f'<label for="{control}"' in body and f'id="{control}"' in body
    assert 'name="visits_home"' in body and 'name="registered_only"' in body
    assert 'class="skip-link" href="#main"' in body
    assert "results-heading" not in body


def test_ls6_multiple_sclerosis_lists_nearest_first_with_badges(web_client: Any) -> None:
    response = web_client.get("/search?near=LS6&q=multiple+sclerosis")
    assert response.status_code == 200
    names = result_names(response)
    assert names[0] == "Alice Neuro" and "Bob Community" in names
    assert "Carol Lapsed" not in names  # lapsed: left out by default (hazard H1)
    assert "Grace Leeds 00" not in names  # back pain only: not an MS match
    text = text_of(response)
    assert "within 25 km of LS6 matching “multiple sclerosis”" in text
    # All of them name MS, so the blended default order is by distance here.
    assert "best match near you first" in text
    distances = [float(km) for km in re.findall(r"(\d+\.\d) km \(\d+\.\d miles?\)", text)]
    assert distances == sorted(distances) and distances[0] < 1.0
    assert f"Registered with the HCPC (checked {CHECKED_TEXT})" in text
    assert "Visits your area: home visits within 15 km of LS6 2AB" in text
    assert "How to be seen: You can refer yourself: book online or phone 0113 496 0001." in text
    assert "Private (you pay)" in text and "NHS (free to you)" in text


def test_results_picture_matches_the_list(web_client: Any) -> None:
    body = web_client.get("/search?near=LS6&q=multiple+sclerosis").get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", body, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    pins = re.findall(r'<g class="pin">.*?>(\d+)</text></g>', svg)
    listed = re.findall(r'<li class="result" id="result-(\d+)">', body)
    assert sorted(pins, key=int) == listed
    assert "Pin 1: Alice Neuro" in svg
    assert "Search point: LS6" in svg
    assert "<script" not in svg


def test_filter_counts_are_shown(web_client: Any) -> None:
    text = text_of(web_client.get("/search?near=LS6&q=multiple+sclerosis"))
    assert re.search(r"Neurological \(MS, stroke, Parkinson's\) \(\d+\)", text)
    assert re.search(r"Visits my home \(1\)", text)
    assert re.search(r"Registered with the HCPC only \(\d+\)", text)


def test_registered_only_hides_lapsed(web_client: Any) -> None:
    names = result_names(web_client.get("/search?near=LS6&q=multiple+sclerosis&registered_only=true"))
    assert "Carol Lapsed" not in names and "Alice Neuro" in names


def test_visits_my_home(web_client: Any) -> None:
    names = result_names(web_client.get("/search?near=LS6&visits_home=on"))
    assert names == ["Alice Neuro"]


def test_filters_combine(web_client: Any) -> None:
    both = result_names(web_client.get("/search?near=LS6&specialism=neurological&funding=nhs"))
    assert both == ["Bob Community"]
    either = result_names(web_client.get("/search?near=LS6&funding=nhs&funding=charity"))
    assert set(either) == {"Bob Community", "Erin Harrogate"}


def test_unknown_postcode_message_keeps_input(web_client: Any) -> None:
    response = web_client.get("/search?near=LS99+9ZZ&q=balance")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'value="LS99 9ZZ"' in body and 'value="balance"' in body
    text = text_of(response)
    assert "There is a problem" in text
    assert "LS99 9ZZ" in text and "not a known postcode" in text
    assert body.index("error-summary") < body.index('id="search-form"')


def test_ambiguous_place_asks_which(web_client: Any) -> None:
    response = web_client.get("/search?near=St+Ives&q=multiple+sclerosis")
    assert response.status_code == 200
    text = text_of(response)
    assert "Which St Ives did you mean?" in text
    links = re.findall(r'<ul class="choice-list">(.*?)</ul>', response.get_data(as_text=True), re.S)[0]
    urls = [u.replace("&amp;", "&") for u in re.findall(r'href="([^"]+)"', links)]
    assert len(urls) >= 2
    labels = [re.sub(r"<[^>]+>", "", a) for a in re.findall(r"<a [^>]+>(.*?)</a>", links)]
    assert any("Cornwall" in label for label in labels)
    cornwall = urls[[i for i, label in enumerate(labels) if "Cornwall" in label][0]]
    query = parse_qs(urlsplit(cornwall).query)
    assert query["q"] == ["multiple sclerosis"] and "lat" in query and "lon" in query
    chosen = web_client.get(cornwall)
    assert chosen.status_code == 200
    body = chosen.get_data(as_text=True)
    assert "within 25 km of St Ives, Cornwall" in text_of(chosen)
    assert f'value="{query["label"][0]}"' in body  # the place box shows the chosen name
    assert 'type="hidden" name="lat"' in body


def test_a_new_place_typed_over_a_chosen_one_wins(web_client: Any) -> None:
    response = web_client.get("/search?near=LS6&lat=50.21&lon=-5.48&label=St+Ives,+Cornwall")
    assert "within 25 km of LS6 " in text_of(response)


def test_empty_search_asks_where_or_what(web_client: Any) -> None:
    response = web_client.get("/search?near=&q=")
    assert response.status_code == 400
    assert "Tell us where or what" in text_of(response)


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("radius_km=abc", "Distance", "'abc' is not a number"),
        ("radius_km=-1", "Distance", "more than 0 and at most 200"),
        ("radius_km=10000", "Distance", "at most 200"),
        ("specialism=bogus", "Specialism", "'bogus' is not one of: neurological, musculoskeletal"),
        ("page=0", "Page", "from 1"),
        ("per_page=1000", "Results per page", "from 1 to 100"),
        ("visits_home=perhaps", "Visits my home", "not true or false"),
    ],
)
def test_junk_values_get_a_clear_message_and_keep_the_form(web_client: Any, query: str, field: str, words: str) -> None:
    response = web_client.get(f"/search?near=LS6&q=balance&{query}")
    assert response.status_code == 400
    text = text_of(response)
    assert f"{field}: " in text and words in text
    body = response.get_data(as_text=True)
    assert 'value="LS6"' in body and 'value="balance"' in body
    assert "Traceback" not in body


def test_unknown_parameters_are_ignored(web_client: Any) -> None:
    assert web_client.get("/search?near=LS6&utm_campaign=x&colour=red").status_code == 200


def test_pagination(web_client: Any) -> None:
    first = web_client.get("/search?near=LS2+9AA&q=back+pain&per_page=10")
    text = text_of(first)
    assert "Showing 1 to 10" in text and "(page 1 of 3)" in text
    body = first.get_data(as_text=True)
    next_url = re.search(r'<a href="([^"]+)" rel="next"', body).group(1).replace("&amp;", "&")
    second = web_client.get(next_url)
    assert "Showing 11 to 20" in text_of(second)
    assert '<ol class="results" start="11">' in second.get_data(as_text=True)
    assert 'rel="prev"' in second.get_data(as_text=True)
    assert not set(result_names(first)) & set(result_names(second))


def test_sort_by_name(web_client: Any) -> None:
    names = result_names(web_client.get("/search?near=LS2+9AA&q=back+pain&sort=name&per_page=50"))
    # The same 27 people as by distance (where Grace Leeds 04 is nearest), now A to Z.
    by_distance = result_names(web_client.get("/search?near=LS2+9AA&q=back+pain&per_page=50"))
    assert len(names) == 27 and sorted(names) == sorted(by_distance) and by_distance != names
    assert names[:3] == ["Bob Community", "Dan Unchecked", "Grace Leeds 00"] and names[-1] == "Grace Leeds 24"
    assert names == sorted(names)


def test_text_only_search_sorts_by_relevance(web_client: Any) -> None:
    response = web_client.get("/search?q=hydrotherapy")
    assert response.status_code == 200
    assert set(result_names(response)) == {"Alice Neuro", "Erin Harrogate"}
    assert "best match first" in text_of(response)
    assert "<svg" not in response.get_data(as_text=True)  # no place, no picture


def test_results_link_back_from_the_practitioner(web_client: Any, web_site: Any) -> None:
    body = web_client.get("/search?near=LS6&q=multiple+sclerosis").get_data(as_text=True)
    link = re.search(r'<h3 class="result-title">.*?<a href="([^"]+)"', body, re.S).group(1).replace("&amp;", "&")
    assert link.startswith(f"/practitioners/{web_site.ids['Alice']}?back=")
    page = web_client.get(link)
    assert "Back to your search results" in text_of(page)


def test_back_link_only_to_our_search(web_client: Any, web_site: Any) -> None:
    page = web_client.get(f"/practitioners/{web_site.ids['Alice']}?back=https://evil.example/")
    assert "Back to your search results" not in text_of(page)


def test_search_results_escape_stored_markup(web_client: Any) -> None:
    body = web_client.get("/search?near=LS6&q=multiple+sclerosis").get_data(as_text=True)
    assert "Mallory &lt;script&gt;" in body
    assert "<script>alert" not in body and "<img src=x" not in body


def test_every_problem_is_listed_at_once(web_client: Any) -> None:
    response = web_client.get("/search?near=LS6&radius_km=abc&specialism=neurological&specialism=bogus&visits_home=true")
    assert response.status_code == 400
    text = text_of(response)
    assert "Distance: 'abc' is not a number" in text
    assert "Specialism: 'bogus' is not one of" in text
    body = response.get_data(as_text=True)
    assert 'href="#filter-specialism"' in body and 'id="filter-specialism"' in body
    # What the person ticked is still ticked.
    assert re.search(r'id="f-specialism-neurological"[^>]*checked', body)
    assert re.search(r'id="flag-visits_home"[^>]*checked', body)


def test_a_page_past_the_end_says_so(web_client: Any) -> None:
    response = web_client.get("/search?near=LS6&q=multiple+sclerosis&page=50")
    assert response.status_code == 200
    text = text_of(response)
    assert "No results on this page" in text and "Go to the first page" in text


def test_card_links_are_the_urls_flask_builds(web_site: Any) -> None:
    """finder.web.links.id_url_maker fills one built URL in per card: the same as url_for for each id."""
    from flask import url_for

    from finder.web.links import id_url_maker

    back = "/search?near=LS6&q=multiple+sclerosis&shortlist=3,4&label=Caf%C3%A9+%26+co"
    with web_site.app.test_request_context("/search?near=LS6"):
        make = id_url_maker("pages.practitioner", "practitioner_id", build=url_for, back=back)
        for pid in (1, 7, 42, 987654321, 2**31 - 1):
            assert make(pid) == url_for("pages.practitioner", practitioner_id=pid, back=back)
        bare = id_url_maker("pages.practitioner", "practitioner_id", build=url_for)
        assert bare(5) == url_for("pages.practitioner", practitioner_id=5) == "/practitioners/5"


@pytest.mark.parametrize("public_url", [None, "https://finder.example.org/physio"])
def test_api_listing_links_are_the_urls_the_site_builds(web_site: Any, public_url: str | None) -> None:
    """An API search builds each listing's four links once per request (api.practitioner_links_maker):
    the same links site_url gives for each id, under a public URL too."""
    from finder.web.api import PRACTITIONER_LINKS, practitioner_links_maker
    from finder.web.links import site_url

    config = web_site.app.config
    before = config["PUBLIC_URL"]
    config["PUBLIC_URL"] = public_url
    try:
        with web_site.app.test_request_context("/api/v1/search?near=LS6"):
            links_of = practitioner_links_maker()
            for pid in (1, 42, 987654321, 2**31 - 1):
                expected = {name: site_url(endpoint, practitioner_id=pid) for name, endpoint in PRACTITIONER_LINKS.items()}
                assert links_of(pid) == expected
            assert links_of(3)["referral_text"] == (public_url or "") + "/practitioners/3/referral.txt"
    finally:
        config["PUBLIC_URL"] = before


def test_filter_checkboxes_markup_escapes_and_counts() -> None:
    from finder.web.pages import FacetOption, checkbox_items

    html = str(checkbox_items("condition", [
        FacetOption("multiple_sclerosis", "Multiple sclerosis (MS)", 12, True),
        FacetOption("x\"><script>", "<b>Bold</b> & co", None, False),
    ]))
    first, second = html.split("\n<li>")
    assert first == (
        '<li><input type="checkbox" id="f-condition-multiple_sclerosis" name="condition" value="multiple_sclerosis" '
        'form="search-form" checked>\n<label for="f-condition-multiple_sclerosis">Multiple sclerosis (MS) '
        '<span class="count">(12)</span></label></li>'
    )
    assert "<script>" not in second and "<b>" not in second and "checked" not in second
    assert 'value="x&#34;&gt;&lt;script&gt;"' in second and "&lt;b&gt;Bold&lt;/b&gt; &amp; co</label></li>" in second
    assert 'class="count"' not in second  # no count before a search


def test_filter_panel_lists_each_option_with_its_count(web_client: Any) -> None:
    page = web_client.get("/search?near=LS2+9AA&q=back+pain&condition=back_pain").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" id="f-condition-([a-z_]+)"[^>]*?( checked)?>\s*<label for="f-condition-\1">[^<]+<span class="count">\((\d+)\)</span>', page)
    # The ticked condition's count (its own filter left out) is what the search finds with it ticked,
    # since the words already ask for back pain: the API's total for the same search.
    total = web_client.get("/api/v1/search?near=LS2+9AA&q=back+pain&condition=back_pain").get_json()["total"]
    assert total > 20 and ("back_pain", " checked", str(total)) in boxes
    assert all(int(count) > 0 or checked for _, checked, count in boxes)
