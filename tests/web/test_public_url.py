"""Absolute links come from FINDER_PUBLIC_URL only: an attacker's Host never reaches a body or a header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from finder import create_app
from finder.errors import FinderError
from finder.web.links import normalised_public_url

EVIL = "evil.example"
PUBLIC = "https://finder.example.org"


def every_request(ids: dict[str, int]) -> list[tuple[str, str]]:
    """(method, path) for every route, its error answers, redirects and odd inputs."""
    alice = ids["Alice"]
    return [
        ("GET", "/"),
        ("GET", "/search?near=LS6&q=multiple+sclerosis"),
        ("GET", "/search?near=LS6&q=multiple+sclerosis&page=2"),
        ("GET", "/search?near=St+Ives&q=multiple+sclerosis"),  # which St Ives? (candidate links)
        ("GET", "/search?near=ZZ99+9ZZ"),
        ("GET", "/search?radius_km=abc&near=LS6"),
        ("GET", f"/practitioners/{alice}"),
        ("GET", f"/practitioners/{alice}/referral"),
        ("GET", f"/practitioners/{alice}/referral.txt"),
        ("GET", "/practitioners/999999"),
        ("GET", "/about"),
        ("GET", "/api"),
        ("GET", "/api/"),
        ("GET", "/about/"),
        ("GET", "/static/site.css"),
        ("GET", "/static/nothing-here.css"),
        ("GET", "/no-such-page"),
        ("POST", "/search"),
        ("GET", "/api/v1/search?near=LS6&q=multiple+sclerosis&per_page=1"),
        ("GET", "/api/v1/search?near=LS2+9AA&q=back+pain&per_page=1&page=2"),
        ("GET", "/api/v1/search?near=St+Ives"),  # 422 with candidate search_urls
        ("GET", "/api/v1/search?near=LS6&radius_km=abc"),
        ("GET", "/api/v1/search"),
        ("GET", f"/api/v1/practitioners/{alice}"),
        ("GET", "/api/v1/practitioners/999999"),
        ("GET", "/api/v1/vocabularies"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/nothing"),
        ("GET", "/api/v1/search/"),
        ("DELETE", "/api/v1/search"),
        ("OPTIONS", "/api/v1/search"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    ]


def leaks(response: Any, needle: str) -> list[str]:
    found = [f"header {name}: {value}" for name, value in response.headers.items() if needle in value.lower()]
    if needle in response.get_data(as_text=True).lower():
        found.append("body")
    response.close()  # static files are streamed from an open file
    return found


@pytest.fixture
def public_site(web_site: Any) -> Iterator[Any]:
    """The seeded site again, configured with its public address."""
    config = dict(web_site.app.config)
    keep = ("INSTANCE_PATH", "DATABASE_URL", "GAZETTEER_PATH", "INDEX_DIR", "SECRET_KEY")
    app = create_app({**{k: config[k] for k in keep}, "TESTING": True, "RATELIMIT_ENABLED": False, "PUBLIC_URL": PUBLIC + "/"})
    yield app


@pytest.mark.parametrize("host", [EVIL, f"{EVIL}:8443", "localhost"])
def test_without_a_public_url_links_are_relative_and_no_host_is_echoed(web_site: Any, host: str) -> None:
    client = web_site.client()
    for method, path in every_request(web_site.ids):
        for headers in ({"Host": host}, {"Host": "127.0.0.1", "X-Forwarded-Host": host}):
            response = client.open(path, method=method, headers=headers)
            assert response.status_code < 500, (method, path)
            assert leaks(response, host.split(":")[0]) == [], (method, path, headers)


def test_with_a_public_url_every_absolute_link_uses_it(public_site: Any, web_site: Any) -> None:
    client = public_site.test_client()
    good = {"Host": "finder.example.org"}
    for method, path in every_request(web_site.ids):
        response = client.open(path, method=method, headers=good)
        assert response.status_code < 500, (method, path)
        response.close()
        response = client.open(path, method=method, headers={"Host": EVIL})
        assert response.status_code == 400, (method, path)
        assert leaks(response, EVIL) == [], (method, path)
        response = client.open(path, method=method, headers={**good, "X-Forwarded-Host": EVIL})
        assert leaks(response, EVIL) == [], (method, path)

    body = client.get("/api/v1/search?near=LS6&q=multiple+sclerosis", headers=good).get_json()
    assert body["links"]["self"].startswith(f"{PUBLIC}/api/v1/search?")
    assert body["results"][0]["url"].startswith(f"{PUBLIC}/api/v1/practitioners/")
    problem = client.get("/api/v1/search", headers=good).get_json()
    assert problem["type"] == f"{PUBLIC}/api#problem-missing-search"
    openapi = client.get("/api/v1/openapi.json", headers=good).get_json()
    assert openapi["servers"] == [{"url": f"{PUBLIC}/api/v1"}]
    alice = web_site.ids["Alice"]
    text = client.get(f"/practitioners/{alice}/referral.txt", headers=good).get_data(as_text=True)
    assert f"From Physio Finder: {PUBLIC}/practitioners/{alice}" in text


def test_without_a_public_url_the_referral_summary_links_relatively(web_site: Any) -> None:
    alice = web_site.ids["Alice"]
    text = web_site.client().get(f"/practitioners/{alice}/referral.txt", headers={"Host": EVIL}).get_data(as_text=True)
    assert f"From Physio Finder: /practitioners/{alice}\n" in text
    body = web_site.client().get("/api/v1/search?near=LS6", headers={"Host": EVIL}).get_json()
    assert body["links"]["self"].startswith("/api/v1/search?")


@pytest.mark.parametrize("value", ["finder.example.org", "ftp://finder.example.org", "https://", "https://x.org/?a=1"])
def test_a_public_url_that_is_not_a_site_address_is_refused_at_start(value: str) -> None:
    with pytest.raises(FinderError, match="FINDER_PUBLIC_URL"):
        normalised_public_url(value)


def test_public_url_is_normalised() -> None:
    assert normalised_public_url("https://finder.example.org/") == "https://finder.example.org"
    assert normalised_public_url("https://example.org/finder/") == "https://example.org/finder"
    assert normalised_public_url("") is None


def test_behind_a_proxy_forwarded_host_headers_are_ignored(web_site: Any) -> None:
    """With FINDER_PROXY_FIX_X_FOR=1 the app trusts X-Forwarded-For (the address), never X-Forwarded-Host."""
    config = dict(web_site.app.config)
    keep = ("INSTANCE_PATH", "DATABASE_URL", "GAZETTEER_PATH", "INDEX_DIR", "SECRET_KEY")
    app = create_app({**{k: config[k] for k in keep}, "TESTING": True, "RATELIMIT_ENABLED": False, "PROXY_FIX_X_FOR": 1})
    client = app.test_client()
    forwarded = {"Host": "127.0.0.1", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https"}
    for method, path in every_request(web_site.ids):
        response = client.open(path, method=method, headers=forwarded)
        assert response.status_code < 500, (method, path)
        assert leaks(response, EVIL) == [], (method, path)
