"""Rate limits: per client address, shared across web hosts through Redis, failing open when Redis is gone."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from finder import create_app
from finder.db import store_from
from tests.plugins.web import seed_store, web_records
from tests.robustness.conftest import TcpProxy, free_port
from tests.web.schema_check import OpenAPIChecker

API = "/api/v1/vocabularies"


def limited_app(app_config: dict[str, Any], **settings: Any) -> Any:
    """A test app with rate limiting switched on (the suite's default is off)."""
    config = {**app_config, "RATELIMIT_ENABLED": True, **settings}
    return create_app(config)


@pytest.fixture(scope="module")
def checker(web_site: Any) -> OpenAPIChecker:
    return OpenAPIChecker(web_site.client().get("/api/v1/openapi.json").get_json())


def assert_api_429(response: Any, checker: OpenAPIChecker, limit: str) -> None:
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert not checker.errors("Problem", body)
    assert body["type"].endswith("#problem-rate-limited")
    assert f"the limit is {limit}" in body["detail"] and "Retry-After" in body["detail"]
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert response.headers["RateLimit-Remaining"] == "0"
    assert 0 <= int(response.headers["RateLimit-Reset"]) <= 61
    assert response.headers["Cache-Control"] == "no-store"
    assert "Traceback" not in response.get_data(as_text=True)


def test_api_limit_per_client_address(app_config: dict[str, Any], checker: OpenAPIChecker) -> None:
    app = limited_app(app_config, RATELIMIT_API="3 per minute")
    client = app.test_client()
    ok = [client.get(API) for _ in range(3)]
    assert [r.status_code for r in ok] == [200, 200, 200]
    assert [r.headers["RateLimit-Remaining"] for r in ok] == ["2", "1", "0"]
    assert all("Retry-After" not in r.headers for r in ok)  # only a 429 says when to come back
    # Every /api/v1 operation draws on the same budget.
    assert_api_429(client.get("/api/v1/openapi.json"), checker, "3 per minute")
    # Someone else is not held up, and the pages have their own budget.
    other = client.get(API, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 200
    assert client.get("/about").status_code == 200
    # CORS preflights are not counted.
    assert client.options(API, environ_base={"REMOTE_ADDR": "198.51.100.10"}).status_code != 429


def test_page_limit_is_friendly(app_config: dict[str, Any]) -> None:
    app = limited_app(app_config, RATELIMIT_PAGES="2 per minute", RATELIMIT_API="")
    client = app.test_client()
    assert [client.get("/about").status_code for _ in range(2)] == [200, 200]
    page = client.get("/")
    assert page.status_code == 429
    assert page.mimetype == "text/html"
    assert "Please wait a minute and try again" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) >= 1
    # No API limit configured: the API is not limited.
    assert {client.get(API).status_code for _ in range(5)} == {200}
    # The shortlist and the exports share the pages' budget.
    assert client.get("/shortlist?ids=1").status_code == 429
    assert client.get("/search.csv?near=LS6").status_code == 429


def test_forwarded_for_counts_only_behind_a_configured_proxy(app_config: dict[str, Any]) -> None:
    spoofed = limited_app(app_config, RATELIMIT_API="1 per minute")
    client = spoofed.test_client()
    assert client.get(API, headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 200
    # Without PROXY_FIX_X_FOR a client cannot get a fresh budget by inventing addresses.
    assert client.get(API, headers={"X-Forwarded-For": "192.0.2.2"}).status_code == 429

    proxied = limited_app(app_config, RATELIMIT_API="1 per minute", PROXY_FIX_X_FOR=1)
    client = proxied.test_client()
    assert client.get(API, headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 200
    assert client.get(API, headers={"X-Forwarded-For": "192.0.2.2"}).status_code == 200
    assert client.get(API, headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429


def test_two_web_hosts_share_one_limit_through_redis(
    app_config: dict[str, Any], redis_url: str, redis_prefix: str, checker: OpenAPIChecker
) -> None:
    import redis

    settings = {"RATELIMIT_API": "5 per minute", "RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": redis_prefix}
    host_a = limited_app(app_config, **settings).test_client()
    host_b = limited_app(app_config, **settings).test_client()
    statuses = [(host_a if i % 2 == 0 else host_b).get(API).status_code for i in range(5)]
    assert statuses == [200] * 5
    # Host B has served only 2 requests itself, but the shared count says 5.
    assert_api_429(host_b.get(API), checker, "5 per minute")
    assert host_a.get(API).status_code == 429
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{redis_prefix}*"))
    finally:
        client.close()
    assert keys, "the count must live in Redis"


def test_unreachable_redis_at_start_fails_open(
    app_config: dict[str, Any], caplog: pytest.LogCaptureFixture, checker: OpenAPIChecker
) -> None:
    caplog.set_level(logging.WARNING)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = limited_app(app_config, RATELIMIT_API="3 per minute", RATELIMIT_STORAGE_URI=dead)
    assert "is not reachable: serving anyway" in caplog.text
    client = app.test_client()
    statuses = [client.get(API).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert "falling back to in-memory storage" in caplog.text
    # Still limited meanwhile, in this worker's memory.
    assert_api_429(client.get(API), checker, "3 per minute")


def test_redis_going_away_mid_flight_keeps_the_site_serving(
    app_config: dict[str, Any], redis_proxy: TcpProxy, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    app = limited_app(
        app_config,
        RATELIMIT_API="50 per minute",
        RATELIMIT_PAGES="50 per minute",
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_proxy.port}/0",
        RATELIMIT_KEY_PREFIX=redis_prefix,
    )
    store = store_from(app)
    store.upgrade()
    seed_store(store, web_records()[:3])
    pid = next(iter(store.iter_practitioners())).id
    client = app.test_client()
    assert client.get(API).headers["RateLimit-Remaining"] == "49"
    assert client.get(f"/practitioners/{pid}").status_code == 200
    assert "not reachable" not in caplog.text

    redis_proxy.cut()  # the Redis host goes away: open connections drop, new ones are refused

    for path in (API, f"/api/v1/practitioners/{pid}", f"/practitioners/{pid}", "/about", API):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    assert "Rate limit storage unreachable - falling back to in-memory storage" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
