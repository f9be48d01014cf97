"""API endpoints that read the store directly: practitioners, vocabularies, OpenAPI, errors, headers."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from finder.vocab import VOCABULARIES
from tests.plugins.web import CHECKED, CHECKED_TEXT
from tests.web.schema_check import OpenAPIChecker


@pytest.fixture
def checker(stored_client: Any) -> OpenAPIChecker:
    response = stored_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return OpenAPIChecker(response.get_json())


def test_openapi_document_is_valid_openapi_3_1(checker: OpenAPIChecker) -> None:
    document = checker.document
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/search", "/practitioners/{id}", "/vocabularies", "/openapi.json"}
    documented = {p["name"] for p in document["paths"]["/search"]["get"]["parameters"]}
    for name in ["q", "near", "lat", "lon", "radius_km", "specialism", "setting", "funding", "treatment",
                 "referral_route", "condition", "language", "gender", "visits_home", "registered_only",
                 "accepting", "wheelchair", "sort", "page", "per_page"]:
        assert name in documented, name
    assert document["servers"][0]["url"] == "/api/v1"  # relative: no FINDER_PUBLIC_URL, and never the request's Host


def test_practitioner_json_is_the_full_record(stored_client: Any, stored_app: Any, checker: OpenAPIChecker) -> None:
    pid = stored_app.ids["Bob"]
    response = stored_client.get(f"/api/v1/practitioners/{pid}")
    assert response.status_code == 200
    body = checker.check_response("/practitioners/{id}", response)
    assert body["id"] == pid
    assert body["registration"] == {
        "number": "PH7700002",
        "status": "registered",
        "label": "Registered with the HCPC",
        "is_practising": True,
        "shown_as_registered": True,
        "check_is_stale": False,
        "checked_on": CHECKED.isoformat(),
        "period_to": None,
        "badge": f"Registered with the HCPC (checked {CHECKED_TEXT})",
        "check_url": "https://www.hcpc-uk.org/check-the-register/",
    }
    assert body["referral_routes"][0] == {"route": "self_referral", "only_for": ["musculoskeletal"]}
    assert body["nhs_waiting_weeks"] == 8 and body["session_limit"] == 6
    assert body["funding"] == ["nhs"]
    assert body["locations"][0]["postcode"] == "LS1 4AP"
    assert body["provenance"][0]["source"] == "csv"
    assert body["is_sample"] is True
    assert body["last_updated"]
    assert body["links"]["html"].endswith(f"/practitioners/{pid}")
    assert body["links"]["referral_text"].endswith(f"/practitioners/{pid}/referral.txt")


def test_lapsed_is_not_practising(stored_client: Any, stored_app: Any) -> None:
    body = stored_client.get(f"/api/v1/practitioners/{stored_app.ids['Carol']}").get_json()
    assert body["registration"]["status"] == "lapsed"
    assert body["registration"]["is_practising"] is False


def test_fees_are_numbers(stored_client: Any, stored_app: Any) -> None:
    body = stored_client.get(f"/api/v1/practitioners/{stored_app.ids['Alice']}").get_json()
    assert body["fee_initial_gbp"] == 60.0 and body["fee_follow_up_gbp"] == 45.0


@pytest.mark.parametrize("path", ["/api/v1/practitioners/987654", "/api/v1/practitioners/0",
                                  "/api/v1/practitioners/99999999999999999999", "/api/v1/practitioners/abc",
                                  "/api/v1/nothing-here", "/api/v1/search/extra"])
def test_unknown_ids_and_paths_are_404_problems(stored_client: Any, checker: OpenAPIChecker, path: str) -> None:
    response = stored_client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == 404 and body["title"] and body["detail"]
    assert body["type"].endswith("#problem-not-found")
    assert not checker.errors("Problem", body)
    if path == "/api/v1/practitioners/987654":
        assert body["detail"] == "No practitioner has id 987654."


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_the_api_is_read_only(stored_client: Any, method: str) -> None:
    response = getattr(stored_client, method)("/api/v1/vocabularies")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert "GET" in response.headers["Allow"]
    assert "use GET" in response.get_json(force=True)["detail"]


def test_rate_limit_answers_are_problems(stored_app: Any) -> None:
    from werkzeug.exceptions import TooManyRequests

    @stored_app.get("/api/v1/_limited")
    def limited() -> None:
        raise TooManyRequests(retry_after=30)

    response = stored_app.test_client().get("/api/v1/_limited")
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "30"
    assert response.get_json(force=True)["type"].endswith("#problem-rate-limited")


def test_vocabularies_list_every_allowed_value(stored_client: Any, checker: OpenAPIChecker) -> None:
    response = stored_client.get("/api/v1/vocabularies")
    body = checker.check_response("/vocabularies", response)
    assert set(body["vocabularies"]) == set(VOCABULARIES)
    specialisms = {v["code"]: v["label"] for v in body["vocabularies"]["specialism"]["values"]}
    assert specialisms["neurological"] == "Neurological (MS, stroke, Parkinson's)"
    assert body["practising_statuses"] == ["conditions_of_practice", "registered"]


def test_cors_and_conditional_get(stored_client: Any, stored_app: Any) -> None:
    path = f"/api/v1/practitioners/{stored_app.ids['Alice']}"
    first = stored_client.get(path)
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = stored_client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert not again.get_data()
    preflight = stored_client.options(path, headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_stored_markup_is_plain_json_text(stored_client: Any, stored_app: Any) -> None:
    body = stored_client.get(f"/api/v1/practitioners/{stored_app.ids['Mallory']}").get_json()
    assert body["bio"].startswith("Bio <script>")  # JSON carries the text as stored; clients escape it
