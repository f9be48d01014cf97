"""GET /api/v1/search against the real gazetteer, index and store: results, links, every error path."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.web import CHECKED_TEXT
from tests.web.schema_check import OpenAPIChecker
from tests.web.test_search_pages import result_names


@pytest.fixture(scope="module")
def checker(web_site: Any) -> OpenAPIChecker:
    return OpenAPIChecker(web_site.client().get("/api/v1/openapi.json").get_json())


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_ls6_multiple_sclerosis(web_client: Any, checker: OpenAPIChecker) -> None:
    response = web_client.get("/api/v1/search?near=LS6&q=multiple+sclerosis")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = checker.check_response("/search", response)
    assert body["location"]["label"] == "LS6" and body["location"]["precision"] == "outcode"
    assert body["query"]["q"] == "multiple sclerosis" and body["query"]["radius_km"] == 25
    results = body["results"]
    assert results[0]["name"] == "Alice Neuro"
    assert [r["distance_km"] for r in results] == sorted(r["distance_km"] for r in results)
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    alice = results[0]
    assert alice["registration"]["is_practising"] is True
    assert alice["registration"]["badge"] == f"Registered with the HCPC (checked {CHECKED_TEXT})"
    assert alice["visits_you"] is True
    assert alice["tags"]["funding"] == ["private"]
    assert alice["url"].endswith(f"/api/v1/practitioners/{alice['id']}")
    assert "Carol Lapsed" not in [r["name"] for r in results]  # lapsed: left out by default (hazard H1)
    assert body["facets"]["specialism"]["neurological"] == body["total"]
    assert body["links"]["self"].endswith("/api/v1/search?q=multiple+sclerosis&near=LS6")
    assert body["links"]["prev"] is None


def test_api_and_page_give_the_same_results(web_client: Any) -> None:
    query = "near=LS6&q=multiple+sclerosis&registered_only=true"
    api_names = [r["name"] for r in web_client.get(f"/api/v1/search?{query}").get_json()["results"]]
    page_names = result_names(web_client.get(f"/search?{query}"))
    assert [n.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"') for n in page_names] == api_names


def test_result_url_resolves(web_client: Any, checker: OpenAPIChecker) -> None:
    first = web_client.get("/api/v1/search?near=LS6&q=multiple+sclerosis").get_json()["results"][0]
    response = web_client.get(local(first["url"]))
    checker.check_response("/practitioners/{id}", response)
    assert web_client.get(local(first["html_url"])).status_code == 200


def test_paging_links_walk_the_whole_list(web_client: Any, checker: OpenAPIChecker) -> None:
    url = "/api/v1/search?near=LS2+9AA&q=back+pain&per_page=10"
    seen: list[int] = []
    pages = 0
    while url:
        body = checker.check_response("/search", web_client.get(url))
        seen.extend(r["id"] for r in body["results"])
        pages += 1
        url = local(body["links"]["next"]) if body["links"]["next"] else ""
    assert pages == body["pages"] == 3
    assert len(seen) == len(set(seen)) == body["total"]
    assert body["links"]["prev"] and "page=2" in body["links"]["prev"]


def test_lat_lon_search(web_client: Any, checker: OpenAPIChecker) -> None:
    body = checker.check_response("/search", web_client.get("/api/v1/search?lat=53.8195&lon=-1.5762&label=Home"))
    assert body["location"] == {"label": "Home", "lat": 53.8195, "lon": -1.5762, "precision": "point"}
    assert body["results"][0]["name"] == "Alice Neuro"


def test_conditional_get(web_client: Any) -> None:
    first = web_client.get("/api/v1/search?near=LS6")
    assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
    assert web_client.get("/api/v1/search?near=LS6", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_unknown_parameters_are_ignored(web_client: Any) -> None:
    assert web_client.get("/api/v1/search?near=LS6&foo=bar").status_code == 200


def problem(web_client: Any, checker: OpenAPIChecker, query: str, status: int) -> dict[str, Any]:
    response = web_client.get(f"/api/v1/search?{query}")
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = checker.check_response("/search", response)
    assert body["status"] == status
    assert "Traceback" not in json.dumps(body)
    return body


@pytest.mark.parametrize(
    ("query", "name", "words"),
    [
        ("near=LS6&radius_km=-1", "radius_km", "more than 0 and at most 200"),
        ("near=LS6&radius_km=abc", "radius_km", "'abc' is not a number"),
        ("near=LS6&radius_km=10000", "radius_km", "at most 200"),
        ("near=LS6&specialism=bogus", "specialism", "'bogus' is not one of: neurological, musculoskeletal"),
        ("near=LS6&funding=nhs&funding=free", "funding", "'free' is not one of: nhs, private"),
        ("near=LS6&page=0", "page", "from 1"),
        ("near=LS6&page=-3", "page", "from 1"),
        ("near=LS6&per_page=1000", "per_page", "from 1 to 100"),
        ("near=LS6&per_page=0", "per_page", "from 1 to 100"),
        ("near=LS6&sort=random", "sort", "'random' is not one of: auto, distance, relevance, name"),
        ("near=LS6&accepting=sometimes", "accepting", "not true or false"),
        ("lat=53.8", "lon", "give lat and lon together"),
        ("q=" + "x" * 300, "q", "at most 200"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(web_client: Any, checker: OpenAPIChecker, query: str, name: str, words: str) -> None:
    body = problem(web_client, checker, query, 400)
    assert body["type"].endswith("#problem-invalid-parameters")
    reasons = {p["name"]: p["reason"] for p in body["invalid_params"]}
    assert name in reasons and words in reasons[name]
    assert name in body["detail"]


def test_empty_query(web_client: Any, checker: OpenAPIChecker) -> None:
    for query in ["", "q=&near=", "specialism=neurological"]:
        body = problem(web_client, checker, query, 400)
        assert body["type"].endswith("#problem-missing-search")
        assert "where" in body["detail"] and "what" in body["detail"]


def test_ambiguous_place_lists_candidates(web_client: Any, checker: OpenAPIChecker) -> None:
    body = problem(web_client, checker, "near=St+Ives&q=multiple+sclerosis", 422)
    assert body["type"].endswith("#problem-ambiguous-place")
    labels = [c["label"] for c in body["candidates"]]
    assert any("Cornwall" in label for label in labels) and any("Cambridgeshire" in label for label in labels)
    cornwall = next(c for c in body["candidates"] if "Cornwall" in c["label"])
    assert 49.9 < cornwall["lat"] < 50.4
    again = checker.check_response("/search", web_client.get(local(cornwall["search_url"])))
    assert again["location"]["label"] == cornwall["label"]
    assert again["query"]["q"] == "multiple sclerosis"


@pytest.mark.parametrize(
    ("query", "status", "slug", "words"),
    [
        ("near=LS99+9ZZ", 422, "unknown-location", "not a known postcode"),
        ("near=Nowhereville+Upon+Zog", 422, "unknown-location", "Nowhereville"),
        ("near=ZZ1+1ZZ", 400, "invalid-postcode", "not a UK postcode"),
        ("lat=48.85&lon=2.35", 422, "unknown-location", "outside the UK"),
    ],
)
def test_unresolvable_places(web_client: Any, checker: OpenAPIChecker, query: str, status: int, slug: str, words: str) -> None:
    body = problem(web_client, checker, query, status)
    assert body["type"].endswith(f"#problem-{slug}")
    assert words.lower() in body["detail"].lower()
    assert {p["name"] for p in body.get("invalid_params", [])} & {"near", "lat"}


PARAM_NAMES = ["q", "near", "lat", "lon", "label", "radius_km", "specialism", "condition", "setting", "funding",
               "treatment", "referral_route", "language", "gender", "visits_home", "registered_only", "accepting",
               "wheelchair", "sort", "page", "per_page", "unknown"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.tuples(st.sampled_from(PARAM_NAMES), st.text(max_size=30)), max_size=6))
def test_nothing_a_client_sends_gives_a_500(web_client: Any, checker: OpenAPIChecker, params: list[tuple[str, str]]) -> None:
    response = web_client.get("/api/v1/search", query_string=params)
    assert response.status_code in (200, 400, 422), response.get_data(as_text=True)
    schema = "SearchResponse" if response.status_code == 200 else "Problem"
    assert not checker.errors(schema, response.get_json(force=True))
    page = web_client.get("/search", query_string=params)
    assert page.status_code in (200, 400, 422)
    assert not re.search(r"Traceback|Internal Server Error", page.get_data(as_text=True))


def test_answers_are_encoded_as_the_standard_library_would(web_site: Any) -> None:
    """json_response (orjson) gives the same JSON values json.dumps(ensure_ascii=False) gave, for
    what a body can hold: text in any script, numbers computed with numpy (json.dumps took numpy
    floats as floats), float subclasses; anything else is still an error, not a guess."""
    import numpy as np

    from finder.web.api import json_response

    class Km(float):
        pass

    body = {
        "name": "Zoë O’Brien – “Physio” <b>&</b> 理学療法",
        "distance_km": np.float64(0.6449999999999999),
        "km": Km(2.5),
        "total": np.int64(42),
        "small": 1e-05,
        "big": 1e16,
        "flags": [True, False, None],
        "nested": {"a": [1, 2.0, -0.0]},
    }
    expected = json.dumps(
        {**body, "distance_km": float(body["distance_km"]), "total": int(body["total"])},
        ensure_ascii=False, separators=(",", ":"),
    )
    with web_site.app.test_request_context("/api/v1/search"):
        assert json.loads(json_response(body).get_data(as_text=True)) == json.loads(expected)
        with pytest.raises(TypeError):
            json_response({"when": object()})
