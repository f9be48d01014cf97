"""The polite HTTP session: identity, timeouts, retries, rate limit, robots.txt, cache."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses

from finder.errors import FetchFailed, FinderError, RobotsDisallowed, SourceFormatError
from scrapers.http import ROBOTS_AGENT, PoliteSession, session_from_config
from tests.plugins.scrapers import CONTACT, allow_robots

HOST = "https://data.example.org"
URL = f"{HOST}/api/things"


def test_every_request_names_the_project_and_the_contact_and_has_timeouts(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, json={"ok": True})
    session = make_session(connect_timeout=3, read_timeout=20)
    assert session.get(URL, expect="json").json() == {"ok": True}
    sent = http_mock.calls[-1].request
    assert sent.headers["User-Agent"].startswith(f"{ROBOTS_AGENT}/")
    assert CONTACT in sent.headers["User-Agent"]
    assert "application/json" in sent.headers["Accept"]
    assert sent.req_kwargs["timeout"] == (3, 20)


def test_a_contact_address_is_required() -> None:
    with pytest.raises(FinderError, match="FINDER_HTTP_CONTACT"):
        PoliteSession(contact="  ")
    with pytest.raises(FinderError, match="FINDER_HTTP_CONTACT"):
        session_from_config({"HTTP_CONTACT": ""})


def test_429_waits_as_long_as_retry_after_says(http_mock: Any, make_session: Any, fake_clock: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, status=429, headers={"Retry-After": "7"})
    http_mock.add(responses.GET, URL, json={"ok": 1})
    session = make_session()
    assert session.get(URL, expect="json").json() == {"ok": 1}
    assert 7 in fake_clock.sleeps
    assert len([c for c in http_mock.calls if c.request.url == URL]) == 2


def test_retry_after_as_an_http_date_is_honoured(http_mock: Any, make_session: Any, fake_clock: Any) -> None:
    from email.utils import formatdate

    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, status=503, headers={"Retry-After": formatdate(fake_clock.now + 30, usegmt=True)})
    http_mock.add(responses.GET, URL, json=[])
    make_session().get(URL, expect="json")
    assert any(29 <= s <= 31 for s in fake_clock.sleeps)


def test_a_retry_after_longer_than_we_wait_is_a_clear_error(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(FetchFailed, match="asked us to wait 3600s"):
        make_session(max_retry_after_seconds=120).get(URL)


def test_500_then_success_backs_off_and_succeeds(http_mock: Any, make_session: Any, fake_clock: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, status=500)
    http_mock.add(responses.GET, URL, status=502)
    http_mock.add(responses.GET, URL, json={"ok": True})
    session = make_session(backoff_seconds=2)
    assert session.get(URL, expect="json").json() == {"ok": True}
    waits = [s for s in fake_clock.sleeps if s > 1.5]
    # Exponential: the second wait is about twice the first (jitter is +-10%).
    assert len(waits) == 2 and 1.6 < waits[1] / waits[0] < 2.5


def test_retries_are_bounded(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, status=503)
    with pytest.raises(FetchFailed, match=r"HTTP 503, still failing after 3 attempts"):
        make_session(max_retries=2).get(URL)
    assert len([c for c in http_mock.calls if c.request.url == URL]) == 3


def test_a_timeout_is_retried_then_reported(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, body=requests.exceptions.ReadTimeout("slow"))
    http_mock.add(responses.GET, URL, json={"late": True})
    assert make_session().get(URL, expect="json").json() == {"late": True}

    http_mock.replace(responses.GET, URL, body=requests.exceptions.ConnectTimeout("down"))
    with pytest.raises(FetchFailed, match="no answer within 10s to connect / 60s to read"):
        make_session(max_retries=1).get(URL)


def test_connection_errors_are_retried(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, body=requests.exceptions.ConnectionError("reset"))
    http_mock.add(responses.GET, URL, body=b"fine", content_type="text/plain")
    assert make_session().get(URL).content == b"fine"


def test_a_404_is_not_retried(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, status=404)
    with pytest.raises(FetchFailed, match=r"HTTP 404 \(not found\)"):
        make_session().get(URL)
    assert len([c for c in http_mock.calls if c.request.url == URL]) == 1


def test_robots_txt_disallow_is_refused_naming_the_path(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST, body=f"User-agent: {ROBOTS_AGENT}\nDisallow: /api/\n\nUser-agent: *\nDisallow:\n")
    http_mock.add(responses.GET, URL, json={})
    with pytest.raises(RobotsDisallowed, match=r"data.example.org/robots.txt does not allow crawlers to fetch /api/things"):
        make_session().get(URL)
    assert not [c for c in http_mock.calls if c.request.url == URL]


def test_robots_txt_is_read_once_per_host(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, json={})
    session = make_session()
    for _ in range(3):
        session.get(URL)
    assert len([c for c in http_mock.calls if c.request.url.endswith("/robots.txt")]) == 1


def test_a_missing_robots_txt_allows_everything(http_mock: Any, make_session: Any) -> None:
    http_mock.add(responses.GET, f"{HOST}/robots.txt", status=404)
    http_mock.add(responses.GET, URL, json={"ok": True})
    assert make_session().get(URL).json() == {"ok": True}


def test_an_unreadable_robots_txt_means_we_do_not_crawl(http_mock: Any, make_session: Any) -> None:
    http_mock.add(responses.GET, f"{HOST}/robots.txt", status=503)
    with pytest.raises(RobotsDisallowed, match="could not read https://data.example.org/robots.txt"):
        make_session(max_retries=1).get(URL)


def test_requests_to_one_host_are_spaced_by_the_rate_limit(http_mock: Any, make_session: Any, fake_clock: Any) -> None:
    other = "https://other.example.net"
    allow_robots(http_mock, HOST)
    allow_robots(http_mock, other)
    http_mock.add(responses.GET, URL, json={})
    http_mock.add(responses.GET, f"{other}/x", json={})
    session = make_session(rate_limit_per_second=0.5)
    start = fake_clock.now
    session.get(URL)  # robots.txt + page: one wait of 2 s between them
    session.get(f"{other}/x")  # another host: robots.txt at once, then its page 2 s later
    session.get(URL, use_cache=False)
    # Three requests to HOST, two to the other host: the slowest host needs 4 s in all.
    assert fake_clock.now - start == pytest.approx(4.0)
    assert all(s == pytest.approx(2.0) for s in fake_clock.sleeps)


def test_robots_crawl_delay_slows_us_down(http_mock: Any, make_session: Any, fake_clock: Any) -> None:
    allow_robots(http_mock, HOST, body="User-agent: *\nCrawl-delay: 5\nDisallow:\n")
    http_mock.add(responses.GET, URL, json={})
    session = make_session(rate_limit_per_second=1)
    session.get(URL)
    session.get(URL, use_cache=False)
    assert fake_clock.sleeps[-1] == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("body", "content_type", "expect", "message"),
    [
        (b"", "application/json", "json", "returned an empty body"),
        (b"   \n", "text/html", "html", "returned an empty body"),
        (b"<html>login</html>", "text/html", "json", "returned text/html, expected json"),
        (b"{not json", "application/json", "json", "did not return valid JSON"),
    ],
)
def test_bad_bodies_are_clear_errors(
    http_mock: Any, make_session: Any, body: bytes, content_type: str, expect: str, message: str
) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, body=body, content_type=content_type)
    with pytest.raises(SourceFormatError, match=message):
        make_session().get(URL, expect=expect).json()


def test_a_bot_challenge_is_reported_not_retried(http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, status=403, headers={"cf-mitigated": "challenge"}, body="<html>Just a moment...</html>")
    with pytest.raises(FetchFailed, match="bot-challenge page"):
        make_session().get(URL)
    assert len([c for c in http_mock.calls if c.request.url == URL]) == 1


def test_the_cache_serves_re_runs_and_revalidates_when_stale(
    http_mock: Any, make_session: Any, fake_clock: Any, tmp_path: Any
) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, URL, json={"v": 1}, headers={"ETag": '"abc"'})
    first = make_session(cache_dir=tmp_path, cache_ttl_seconds=60)
    assert first.get(URL, expect="json").json() == {"v": 1}
    # A new run within the TTL: nothing goes over the network, not even robots.txt.
    again = make_session(cache_dir=tmp_path, cache_ttl_seconds=60)
    fetched = again.get(URL, expect="json")
    assert fetched.from_cache and fetched.json() == {"v": 1}
    assert again.requests_sent == 0
    # Past the TTL: a conditional request; 304 keeps the cached body.
    fake_clock.now += 120
    http_mock.replace(responses.GET, URL, status=304)
    stale = make_session(cache_dir=tmp_path, cache_ttl_seconds=60)
    assert stale.get(URL, expect="json").json() == {"v": 1}
    assert http_mock.calls[-1].request.headers["If-None-Match"] == '"abc"'


def test_only_web_addresses_are_fetched(make_session: Any) -> None:
    with pytest.raises(FetchFailed, match="is not a web address"):
        make_session().get("file:///etc/passwd")
