"""Small promises from issue 14: ASCII-only numbers, exact range messages, no NUL echoed,
no server paths in public 503s, private API searches, cacheable static files."""

from __future__ import annotations

from typing import Any

import pytest

from finder import create_app


@pytest.mark.parametrize(
    ("query", "name", "words"),
    [
        ("radius_km=1_0", "radius_km", "'1_0' is not a number (use the digits 0-9"),
        ("radius_km=%D9%A1%D9%A0", "radius_km", "is not a number (use the digits 0-9"),  # Arabic-Indic 10
        ("page=%D9%A2", "page", "is not a whole number (use the digits 0-9)"),  # Arabic-Indic 2
        ("per_page=%DB%B5", "per_page", "is not a whole number"),  # Extended Arabic-Indic 5
        ("lat=%EF%BC%95%EF%BC%93&lon=-1.5", "lat", "is not a number"),  # fullwidth 53
        ("radius_km=200.0001", "radius_km", "at most 200 km (got 200.0001)"),
        ("radius_km=1e999", "radius_km", "not a number we can use (too large)"),
        ("radius_km=nan", "radius_km", "is not a number"),
    ],
)
def test_numbers_are_ascii_digits_and_messages_say_what_was_sent(web_client: Any, query: str, name: str, words: str) -> None:
    response = web_client.get(f"/api/v1/search?near=LS6&{query}")
    assert response.status_code == 400
    reasons = {p["name"]: p["reason"] for p in response.get_json()["invalid_params"]}
    assert words in reasons[name], reasons


@pytest.mark.parametrize("query", ["radius_km=10", "radius_km=2.5", "radius_km=.5", "radius_km=+7", "page=1", "per_page=10"])
def test_plain_numbers_still_work(web_client: Any, query: str) -> None:
    assert web_client.get(f"/api/v1/search?near=LS6&{query}").status_code == 200


@pytest.mark.parametrize("path", ["/practitioners/%D9%A1", "/api/v1/practitioners/%D9%A1", "/practitioners/%D9%A1/referral.txt"])
def test_ids_in_paths_are_ascii_digits_only(web_client: Any, web_site: Any, path: str) -> None:
    assert web_client.get(path).status_code == 404
    assert web_client.get(path.replace("%D9%A1", str(web_site.ids["Alice"]))).status_code == 200


@pytest.mark.parametrize(
    "query", ["near=LS6&radius_km=a%00b", "near=LS6%00x", "q=back%00pain&near=LS6", "near=LS6&page=%00", "near=LS6&sort=x%00"]
)
def test_a_nul_is_never_echoed_into_a_page(web_client: Any, query: str) -> None:
    response = web_client.get(f"/search?{query}")
    assert response.status_code < 500
    assert "\x00" not in response.get_data(as_text=True)


def test_public_503_pages_show_no_server_paths(web_site: Any, tmp_path: Any) -> None:
    config = web_site.app.config
    missing = tmp_path / "secret-place" / "index"
    app = create_app({
        "TESTING": True, "RATELIMIT_ENABLED": False, "SECRET_KEY": "test",
        "INSTANCE_PATH": config["INSTANCE_PATH"], "DATABASE_URL": config["DATABASE_URL"],
        "GAZETTEER_PATH": config["GAZETTEER_PATH"], "INDEX_DIR": str(missing),
    })
    client = app.test_client()
    for path in ["/search?near=LS6&q=back+pain", "/api/v1/search?near=LS6"]:
        response = client.get(path)
        assert response.status_code == 503, path
        text = response.get_data(as_text=True)
        assert "finder index build" in text  # still says what to run
        assert "secret-place" not in text and str(tmp_path) not in text, text


def test_api_searches_are_private_and_other_api_answers_public(web_client: Any) -> None:
    search = web_client.get("/api/v1/search?near=LS6&q=multiple+sclerosis")
    assert search.headers["Cache-Control"] == "private, max-age=60"
    assert web_client.get("/api/v1/vocabularies").headers["Cache-Control"] == "public, max-age=60"


def test_static_files_are_cacheable_for_an_hour(web_client: Any) -> None:
    response = web_client.get("/static/site.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    etag = response.headers["ETag"]
    response.close()
    again = web_client.get("/static/site.css", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == "public, max-age=3600"
    again.close()
