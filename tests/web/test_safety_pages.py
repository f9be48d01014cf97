"""Clinical safety rules as a patient or GP meets them: search results, API, profile and referral pages.

The web fixture holds one listing of every registration status around York
(tests/plugins/web.py STATUS_LISTINGS); each status has a search-level and a
page-level test here. docs/clinical-safety.md links each hazard to these tests.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from finder.safety import NOT_PRACTISING_STATUSES
from tests.plugins.web import STATUS_LISTINGS, YORK
from tests.web.test_pages import text_of
from tests.web.test_search_pages import result_names

NEAR_YORK = f"lat={YORK[0]}&lon={YORK[1]}&label=York"


def card_text(response: Any, name: str) -> str:
    """The visible text of one result card (from its title to the next card)."""
    body = response.get_data(as_text=True)
    start = body.index(f">{name}<span")
    end = body.find('<li class="result"', start)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body[start : end if end > 0 else None])))


def full_name(first: str) -> str:
    status = STATUS_LISTINGS[first]
    return f"{first} {status.replace('_', ' ').title().replace(' ', '')}"


# ---- H1: listings that may not practise -------------------------------------------------


@pytest.mark.parametrize("first", list(STATUS_LISTINGS))
def test_search_leaves_out_listings_that_may_not_practise_unless_asked(web_client: Any, first: str) -> None:
    status = STATUS_LISTINGS[first]
    barred = status in NOT_PRACTISING_STATUSES
    default = web_client.get(f"/search?{NEAR_YORK}&q=copd")
    assert (full_name(first) in result_names(default)) is not barred
    api = web_client.get(f"/api/v1/search?{NEAR_YORK}&q=copd&per_page=50").get_json()
    assert (full_name(first) in [r["name"] for r in api["results"]]) is not barred
    assert api["total"] == len(result_names(default))

    # The plain link on the page brings them back, with a warning.
    link = re.search(r'<a href="([^"]*include_not_practising=true[^"]*)">Show them too', default.get_data(as_text=True))
    assert link, "the results page links to the listings it left out"
    everyone = web_client.get(link.group(1).replace("&amp;", "&"))
    assert full_name(first) in result_names(everyone)
    assert "Do not book or refer them" in text_of(everyone)
    api_all = web_client.get(f"/api/v1/search?{NEAR_YORK}&q=copd&per_page=50&include_not_practising=true").get_json()
    assert full_name(first) in [r["name"] for r in api_all["results"]]
    assert api_all["query"]["include_not_practising"] is True


def test_facet_counts_leave_them_out_too(web_client: Any) -> None:
    body = web_client.get(f"/api/v1/search?{NEAR_YORK}&q=copd&per_page=50").get_json()
    assert body["facets"]["specialism"]["respiratory"] == body["total"]
    everyone = web_client.get(f"/api/v1/search?{NEAR_YORK}&q=copd&per_page=50&include_not_practising=true").get_json()
    assert everyone["total"] == body["total"] + len(NOT_PRACTISING_STATUSES)


@pytest.mark.parametrize("first", list(STATUS_LISTINGS))
def test_profile_of_each_status(stored_client: Any, stored_app: Any, first: str) -> None:
    status = STATUS_LISTINGS[first]
    barred = status in NOT_PRACTISING_STATUSES
    pid = stored_app.ids[first]
    response = stored_client.get(f"/practitioners/{pid}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    text = text_of(response)
    assert ("Not registered to practise" in text) is barred
    assert (f"/practitioners/{pid}/referral" in body) is not barred
    assert ("https://example.org/book" in body) is not barred
    assert ("You can refer yourself" in text) is not barred
    registered = re.search(r"Registered with the HCPC(, with conditions of practice)? \(checked", text)
    assert bool(registered) is (status in ("registered", "conditions_of_practice"))
    if barred:
        # The warning comes first: before the badge and before "How to be seen".
        main = body[body.index("<main") :]
        assert main.index('id="not-practising"') < main.index("How to be seen")
        assert "Do not book or refer" in text

    referral = stored_client.get(f"/practitioners/{pid}/referral")
    plain = stored_client.get(f"/practitioners/{pid}/referral.txt")
    if barred:
        assert referral.status_code == 403 and plain.status_code == 403
        assert "No referral summary" in text_of(referral)
        assert plain.mimetype == "text/plain"
        assert plain.get_data(as_text=True).startswith("NO REFERRAL SUMMARY")
        assert "WHO MAY REFER" not in plain.get_data(as_text=True)
    else:
        assert referral.status_code == 200 and plain.status_code == 200
        assert "WHO MAY REFER" in plain.get_data(as_text=True)


# ---- H2: a stale check is not "Registered" --------------------------------------------------


def test_a_check_years_old_is_not_shown_as_registered(web_client: Any, web_site: Any) -> None:
    page = web_client.get(f"/practitioners/{web_site.ids['Stan']}")
    text = text_of(page)
    assert "Last checked on 5 January 2022 — check the HCPC register" in text
    assert "Registered with the HCPC (checked" not in text
    assert "Registered with the HCPC when last checked: the check is too old to rely on" in text
    assert 'href="https://www.hcpc-uk.org/check-the-register/professional-registration-detail/?query=PH7700300' in page.get_data(
        as_text=True
    )
    results = web_client.get(f"/search?{NEAR_YORK}&q=copd")
    card = card_text(results, "Stan Stale")
    assert "Last checked on 5 January 2022" in card
    registered_only = result_names(web_client.get(f"/search?{NEAR_YORK}&q=copd&registered_only=true"))
    assert "Stan Stale" not in registered_only and "Rita Registered" in registered_only
    api = web_client.get(f"/api/v1/practitioners/{web_site.ids['Stan']}").get_json()
    assert api["registration"]["shown_as_registered"] is False and api["registration"]["check_is_stale"] is True


# ---- H3: referral routes by condition ----------------------------------------------------------


def test_i_can_refer_myself_leaves_out_self_referral_for_other_groups(web_client: Any) -> None:
    near = f"/search?{NEAR_YORK}&radius_km=5&referral_route=self_referral"
    names = result_names(web_client.get(near + "&q=back+pain"))
    assert "Mick Msk" in names and "Nora Nhs" in names  # back pain: both take self-referrals
    names = result_names(web_client.get(near + "&q=multiple+sclerosis"))
    assert "Mick Msk" not in names  # self-referral for musculoskeletal problems only
    assert "Nora Nhs" not in names  # self-referral, but not for MS
    names = result_names(web_client.get(f"/search?{NEAR_YORK}&radius_km=5&referral_route=self_referral"))
    assert "Mick Msk" not in names  # no condition given: "only for musculoskeletal" is not "I can refer myself"
    api = web_client.get(f"/api/v1/search?{NEAR_YORK}&radius_km=5&condition=multiple_sclerosis").get_json()
    assert api["facets"]["referral_route"]["self_referral"] == 0
    assert api["facets"]["referral_route"]["gp"] >= 2


def test_the_page_tells_someone_searching_for_ms_that_self_referral_is_not_for_ms(
    web_client: Any, web_site: Any
) -> None:
    results = web_client.get(f"/search?{NEAR_YORK}&radius_km=5&q=MS")
    card = card_text(results, "Nora Nhs")
    assert "Self-referral here is not for Multiple sclerosis (MS): you need a referral from your GP or an MS nurse." in card
    back = "/search?q=MS&lat=53.959&lon=-1.0815"
    page = text_of(web_client.get(f"/practitioners/{web_site.ids['Nora']}", query_string={"back": back}))
    assert "How to be seen: Self-referral here is not for Multiple sclerosis (MS)" in page
    assert "You can refer yourself: not for Multiple sclerosis (MS)" in page
    plain = web_client.get(f"/practitioners/{web_site.ids['Nora']}/referral.txt").get_data(as_text=True)
    assert "- You can refer yourself: not for Multiple sclerosis (MS)" in plain
    api = web_client.get(f"/api/v1/search?{NEAR_YORK}&radius_km=5&q=MS").get_json()
    nora = next(r for r in api["results"] if r["name"] == "Nora Nhs")
    assert nora["next_step"].startswith("Self-referral here is not for Multiple sclerosis (MS)")
    assert nora["referral_routes"][0] == {"route": "self_referral", "only_for": [], "not_for": ["multiple_sclerosis"]}
