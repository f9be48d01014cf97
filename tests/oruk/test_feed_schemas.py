"""Every object of every /oruk endpoint, for all 2,000 sample listings, against the
official compiled ORUK 3.0 schemas (jsonschema, format checking on): 0 errors."""

from __future__ import annotations

import math
import os
from typing import Any

import pytest

from finder import safety
from finder.web.oruk_map import service_id
from tests.oruk.checks import problems, require_schemas
from tests.oruk.conftest import SampleSite

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
PER_PAGE = 100
#: Every page of every list endpoint covers every object; the by-id endpoints are
#: asked for one id in SAMPLE_EVERY (the same mapping functions build them; each
#: answer costs a store read, and /services/{id} is also compared with its list
#: entry). FINDER_ORUK_FULL_SWEEP=1 asks every id of every endpoint (minutes).
SAMPLE_EVERY = 1 if os.environ.get("FINDER_ORUK_FULL_SWEEP") == "1" else 10


def _get(client: Any, url: str, kind: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    found = problems(kind, body)
    assert found == [], (url, found[:10])
    return body


def _all_pages(client: Any, path: str, kind: str) -> list[dict[str, Any]]:
    first = _get(client, f"{path}?per_page={PER_PAGE}", kind)
    items = list(first["contents"])
    for number in range(2, first["total_pages"] + 1):
        body = _get(client, f"{path}?per_page={PER_PAGE}&page={number}", kind)
        assert body["page_number"] == number and body["total_pages"] == first["total_pages"]
        items += body["contents"]
    assert first["total_pages"] == math.ceil(first["total_items"] / PER_PAGE)
    return items


@pytest.fixture(scope="module")
def site(sample_site: SampleSite) -> SampleSite:
    require_schemas()
    return sample_site


@pytest.fixture(scope="module")
def services(site: SampleSite) -> list[dict[str, Any]]:
    """Every service, from every page of /oruk/services (each page checked)."""
    return _all_pages(site.client(), "/oruk/services", "service_list")


def test_api_details(site: SampleSite) -> None:
    body = _get(site.client(), "/oruk/", "api_details")
    assert body["openapi_url"] == "http://localhost/oruk/openapi.json"


def test_every_page_of_services_lists_every_listing_once(site: SampleSite, services: list[dict[str, Any]]) -> None:
    assert len(services) == 2000 == site.store.count()
    assert len({s["id"] for s in services}) == 2000
    # Listings the HCPC register does not allow to practise are published (never silently
    # gone) as inactive, with the warning as their alert (hazard H1); so they validate too.
    barred = {service_id(p) for p in site.store.iter_practitioners() if safety.is_not_practising(p.record.registration.status)}
    assert 0 < len(barred) < 2000
    for s in services:
        assert s["status"] == ("inactive" if s["id"] in barred else "active"), s["name"]
        assert ("may not practise as a physiotherapist" in s.get("alert", "")) is (s["id"] in barred), s["name"]


def test_every_service_by_id(site: SampleSite, services: list[dict[str, Any]]) -> None:
    client = site.client()
    for listed in services[::SAMPLE_EVERY]:
        one = _get(client, f"/oruk/services/{listed['id']}", "service")
        assert one == listed


def test_every_service_at_location(site: SampleSite, services: list[dict[str, Any]]) -> None:
    client = site.client()
    links = _all_pages(client, "/oruk/service_at_locations", "service_at_location_list")
    expected = [link["id"] for s in services for link in s.get("service_at_locations", [])]
    assert sorted(link["id"] for link in links) == sorted(expected)
    assert len(expected) == sum(len(s.record.locations) for s in site.store.iter_practitioners())
    for link in links[::SAMPLE_EVERY]:
        one = _get(client, f"/oruk/service_at_locations/{link['id']}", "service_at_location")
        assert one["location"] == link["location"] and one["service"]["id"] == link["service_id"]


def test_every_organization(site: SampleSite, services: list[dict[str, Any]]) -> None:
    client = site.client()
    organizations = _all_pages(client, "/oruk/organizations", "organization_list")
    assert sorted(o["id"] for o in organizations) == sorted(s["organization_id"] for s in services)
    for organization in organizations[::SAMPLE_EVERY]:
        one = _get(client, f"/oruk/organizations/{organization['id']}", "organization")
        assert [s["id"] for s in one["services"]] == [s["id"] for s in services if s["organization_id"] == organization["id"]]


def test_every_taxonomy_and_term(site: SampleSite, services: list[dict[str, Any]]) -> None:
    client = site.client()
    taxonomies = _all_pages(client, "/oruk/taxonomies", "taxonomy_list")
    terms = _all_pages(client, "/oruk/taxonomy_terms", "taxonomy_term_list")
    for taxonomy in taxonomies:
        full = _get(client, f"/oruk/taxonomies/{taxonomy['id']}", "taxonomy")
        assert {t["id"] for t in full["taxonomy_terms"]} == {t["id"] for t in terms if t["taxonomy_id"] == taxonomy["id"]}
    for term in terms:
        assert _get(client, f"/oruk/taxonomy_terms/{term['id']}", "taxonomy_term") == term
    # Every term a service uses is published.
    used = {a["taxonomy_term_id"] for s in services for a in s["attributes"]}
    assert used <= {t["id"] for t in terms}


@pytest.mark.parametrize(
    "query",
    [
        "text=multiple+sclerosis",
        "search=hydrotherapy",
        "postcode=LS6+2AB&proximity=5000",
        "postcode=LS1&proximity=20000&text=back+pain",
        "taxonomy_term_id={neuro}",
        "taxonomy_term_id={neuro},{nhs}&postcode=LS6",
    ],
)
def test_filtered_pages_validate_too(site: SampleSite, query: str) -> None:
    from finder.oruk_taxonomy import term_id

    query = query.format(neuro=term_id("specialism", "neurological"), nhs=term_id("funding", "nhs"))
    client = site.client()
    for path, kind in (("/oruk/services", "service_list"), ("/oruk/service_at_locations", "service_at_location_list")):
        body = _get(client, f"{path}?{query}&per_page=50", kind)
        assert body["total_items"] > 0, query
        last = _get(client, f"{path}?{query}&per_page=50&page={body['total_pages']}", kind)
        assert last["last_page"] and not last["empty"]
