"""The one polite HTTP client every scraper uses.

Rules that live here and nowhere else:

* a descriptive User-Agent naming the project and the operator's contact
  address (``FINDER_HTTP_CONTACT``), so a site owner can reach a person;
* connect and read timeouts on every request;
* bounded retries with exponential backoff on HTTP 429 / 5xx and on
  connection errors and timeouts, honouring ``Retry-After``;
* at most ``rate_limit_per_second`` requests to any one host (default 1/s),
  slower if the site's robots.txt asks for a ``Crawl-delay``;
* robots.txt is read once per host and respected: a disallowed path is
  refused with an error naming the path and the robots.txt;
* an optional on-disk cache of successful responses, so a re-run (or a
  resumed run) does not fetch the same pages again;
* a bot-challenge page (``cf-mitigated: challenge``, or a 403/429/503 whose
  body is a challenge) is never retried: retrying into it is hammering.

Clock and sleep are injectable so tests never wait.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import time
import urllib.robotparser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from finder.errors import FetchFailed, FinderError, RobotsDisallowed, SourceFormatError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

#: The product token robots.txt rules are matched against.
ROBOTS_AGENT = "PhysioFinder"
EXTENSION_KEY = "finder.http"

#: Statuses worth retrying: rate limited, or a server-side hiccup.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Words of a bot-challenge page (Cloudflare, Incapsula, reCAPTCHA): seen on a 403/429/503,
#: it is a wall, not a hiccup, so we stop at once instead of retrying into it.
CHALLENGE_MARKERS = (
    b"cf-chl", b"challenge-platform", b"cf-browser-verification", b"just a moment", b"checking your browser",
    b"verify you are human", b"verifying you are human", b"captcha", b"incapsula incident",
)  # fmt: skip


def looks_like_challenge(body: bytes) -> bool:
    head = body[:20_000].lower()
    return any(marker in head for marker in CHALLENGE_MARKERS)


#: Content types accepted for each ``expect`` value.
EXPECTED_TYPES: dict[str, tuple[str, ...]] = {
    "json": ("application/json", "application/hal+json", "application/ld+json", "text/json"),
    "html": ("text/html", "application/xhtml+xml"),
    "csv": (
        "text/csv",
        "text/plain",
        "application/csv",
        "application/vnd.ms-excel",
        "application/zip",
        "application/x-zip-compressed",
        "application/octet-stream",
    ),
}


@dataclass(frozen=True)
class Fetched:
    """A successful response (live or from the cache)."""

    url: str
    status: int
    content_type: str
    content: bytes
    from_cache: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body as text (UTF-8, a byte-order mark dropped; undecodable bytes replaced)."""
        return self.content.decode("utf-8-sig", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON, or a SourceFormatError saying where it broke."""
        try:
            return json.loads(self.content.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise SourceFormatError(f"{self.url} did not return UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
        except ValueError as exc:
            raise SourceFormatError(f"{self.url} did not return valid JSON: {exc}") from None
        except RecursionError:
            raise SourceFormatError(f"{self.url} did not return valid JSON: it is nested too deeply") from None


def _user_agent(contact: str) -> str:
    from finder import __version__

    return f"{ROBOTS_AGENT}/{__version__} (UK physiotherapist directory; +{contact})"


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode([(k, v) for k, v in params.items() if v is not None])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") or "/"


class PoliteSession:
    """A ``requests`` session with manners. One per command run."""

    def __init__(
        self,
        *,
        contact: str,
        rate_limit_per_second: float = 1.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_retries: int = 4,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 60.0,
        max_retry_after_seconds: float = 300.0,
        cache_dir: str | Path | None = None,
        cache_ttl_seconds: float = 6 * 3600,
        respect_robots: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        contact = (contact or "").strip()
        if not contact:
            raise FinderError(
                "set FINDER_HTTP_CONTACT to an email address or web page where site owners can reach you "
                "(it goes in the User-Agent of every request we make), e.g. FINDER_HTTP_CONTACT=ops@example.org"
            )
        if rate_limit_per_second <= 0:
            raise FinderError("HTTP_RATE_LIMIT_PER_SECOND must be above 0 (e.g. 1 for one request a second)")
        self.user_agent = _user_agent(contact)
        self.interval = 1.0 / rate_limit_per_second
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.cache_ttl_seconds = cache_ttl_seconds
        self.respect_robots = respect_robots
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = self.user_agent
        self._next_slot: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._crawl_delay: dict[str, float] = {}
        #: How many requests actually went over the network (tests and summaries use it).
        self.requests_sent = 0

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PoliteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the public call -----------------------------------------------------

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        expect: str | None = None,
        use_cache: bool = True,
    ) -> Fetched:
        """GET ``url`` politely; raise a SourceError subclass with a clear message on failure.

        ``expect`` ("json", "html" or "csv") checks the Content-Type and refuses an
        empty body, so a login page or an error page is never parsed as data.
        """
        full_url = _with_params(url, params)
        parts = urlsplit(full_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchFailed(f"'{url}' is not a web address: expected one starting with https://")
        cached = self._cache_read(full_url) if use_cache else None
        if cached is not None and cached[1]:
            return self._checked(cached[0], expect)
        self._check_robots(full_url)
        conditional: dict[str, str] = {}
        if cached is not None:
            etag, modified = cached[0].headers.get("ETag"), cached[0].headers.get("Last-Modified")
            if etag:
                conditional["If-None-Match"] = etag
            if modified:
                conditional["If-Modified-Since"] = modified
        response = self._send(full_url, headers=conditional, accept=expect)
        if response.status_code == 304 and cached is not None:
            self._cache_write(cached[0])
            return self._checked(cached[0], expect)
        fetched = Fetched(
            url=full_url,
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            content=response.content,
            # requests' headers ignore case; servers spell these "etag", "ETag", ...
            headers={k: response.headers[k] for k in ("ETag", "Last-Modified", "Content-Type") if k in response.headers},
        )
        fetched = self._checked(fetched, expect)
        if use_cache:
            self._cache_write(fetched)
        return fetched

    # ---- robots.txt ------------------------------------------------------------

    def _check_robots(self, url: str) -> None:
        if not self.respect_robots:
            return
        host = _host_key(url)
        parser = self._robots.get(host)
        if parser is None:
            parser = self._load_robots(host)
            self._robots[host] = parser
        if not parser.can_fetch(ROBOTS_AGENT, url):
            raise RobotsDisallowed(
                f"{host}/robots.txt does not allow crawlers to fetch {_path_of(url)}; "
                "we respect that: ask the site owner for access or use their download instead"
            )

    def _load_robots(self, host: str) -> urllib.robotparser.RobotFileParser:
        robots_url = f"{host}/robots.txt"
        parser = urllib.robotparser.RobotFileParser(robots_url)
        try:
            response = self._send(robots_url)
        except FetchFailed as exc:
            # RFC 9309: an unreachable robots.txt means "assume everything is disallowed".
            raise RobotsDisallowed(
                f"could not read {robots_url} ({exc.detail}); we do not crawl a site whose robots.txt "
                "we cannot read: try again later"
            ) from None
        status = response.status_code
        if status >= 500:
            raise RobotsDisallowed(
                f"{robots_url} answered HTTP {status}; we do not crawl a site whose robots.txt "
                "we cannot read: try again later"
            )
        if 400 <= status < 500:
            # RFC 9309: robots.txt "unavailable" (4xx) means no rules apply.
            parser.parse([])
        else:
            parser.parse(response.content.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(ROBOTS_AGENT)
        if delay:
            self._crawl_delay[host] = float(delay)
        return parser

    # ---- the network, with rate limit and retries ---------------------------

    def _wait_for_slot(self, host: str) -> None:
        interval = max(self.interval, self._crawl_delay.get(host, 0.0))
        now = self._clock()
        ready = self._next_slot.get(host, now)
        if ready > now:
            self._sleep(ready - now)
            now = self._clock()
        self._next_slot[host] = max(now, ready) + interval

    def _backoff(self, attempt: int) -> float:
        # Full exponential backoff with a little jitter so parallel runs do not line up.
        delay = min(self.max_backoff_seconds, self.backoff_seconds * (2**attempt))
        return delay * (0.9 + 0.2 * random.random())  # noqa: S311 - jitter, not security

    def _send(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        accept: str | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> requests.Response:
        host = _host_key(url)
        request_headers = dict(headers or {})
        if accept and accept in EXPECTED_TYPES:
            request_headers["Accept"] = ", ".join(EXPECTED_TYPES[accept][:2]) + ";q=1.0, */*;q=0.1"
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            self._wait_for_slot(host)
            try:
                self.requests_sent += 1
                response = self._session.get(url, headers=request_headers, timeout=self.timeout)
            except requests.Timeout:
                last_problem = f"no answer within {self.timeout[0]:g}s to connect / {self.timeout[1]:g}s to read"
                delay = self._backoff(attempt)
            except requests.ConnectionError as exc:
                last_problem = f"could not connect ({type(exc).__name__})"
                delay = self._backoff(attempt)
            except requests.RequestException as exc:
                raise FetchFailed(f"{url}: {exc}") from None
            else:
                challenged = response.status_code in (403, 429, 503) and looks_like_challenge(response.content)
                if challenged or response.headers.get("cf-mitigated", "").lower() == "challenge":
                    raise FetchFailed(
                        f"{url} answered with a bot-challenge page (HTTP {response.status_code}); "
                        "automated requests are blocked there: check by hand or ask the site for access"
                    )
                if response.status_code not in retry_statuses:
                    return response
                last_problem = f"HTTP {response.status_code}"
                waited = _retry_after_seconds(response.headers.get("Retry-After"), self._wall_clock())
                if waited is not None and waited > self.max_retry_after_seconds:
                    raise FetchFailed(
                        f"{url} answered HTTP {response.status_code} and asked us to wait {waited:.0f}s "
                        f"before retrying (more than the {self.max_retry_after_seconds:.0f}s we wait): try again later"
                    )
                delay = waited if waited is not None else self._backoff(attempt)
            if attempt == self.max_retries:
                break
            log.info("%s: %s; retrying in %.1fs (attempt %d of %d)", url, last_problem, delay, attempt + 2, self.max_retries + 1)
            self._sleep(delay)
            # The wait counts towards the host's rate limit too.
            self._next_slot[host] = max(self._next_slot.get(host, 0.0), self._clock())
        raise FetchFailed(f"{url}: {last_problem}, still failing after {self.max_retries + 1} attempts")

    def _checked(self, fetched: Fetched, expect: str | None) -> Fetched:
        status = fetched.status
        if status >= 400:
            hint = {404: "not found", 401: "needs a login", 403: "access refused", 410: "gone"}.get(status, "error")
            raise FetchFailed(f"{fetched.url} answered HTTP {status} ({hint})")
        if status != 200:
            raise FetchFailed(f"{fetched.url} answered HTTP {status}, expected 200 with the data")
        if not fetched.content.strip():
            raise SourceFormatError(f"{fetched.url} returned an empty body, expected {expect or 'data'}")
        if expect:
            media = fetched.content_type.split(";")[0].strip().lower()
            allowed = EXPECTED_TYPES[expect]
            if media and media not in allowed:
                raise SourceFormatError(
                    f"{fetched.url} returned {media or 'no content type'}, expected {expect} "
                    f"({', '.join(allowed[:2])}): is this the right address?"
                )
        return fetched

    # ---- on-disk cache ---------------------------------------------------------

    def _cache_paths(self, url: str) -> tuple[Path, Path] | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
        folder = self.cache_dir / urlsplit(url).netloc.lower().replace(":", "_") / digest[:2]
        return folder / f"{digest}.json", folder / f"{digest}.body"

    def _cache_read(self, url: str) -> tuple[Fetched, bool] | None:
        """The cached response and whether it is still fresh, or None."""
        paths = self._cache_paths(url)
        if paths is None or not paths[0].exists() or not paths[1].exists():
            return None
        try:
            meta = json.loads(paths[0].read_text(encoding="utf-8"))
            content = paths[1].read_bytes()
        except (OSError, ValueError):
            return None
        fetched = Fetched(
            url=url,
            status=int(meta.get("status", 200)),
            content_type=str(meta.get("content_type", "")),
            content=content,
            from_cache=True,
            headers=dict(meta.get("headers") or {}),
        )
        fresh = self._wall_clock() - float(meta.get("stored_at", 0)) < self.cache_ttl_seconds
        return fetched, fresh

    def _cache_write(self, fetched: Fetched) -> None:
        paths = self._cache_paths(fetched.url)
        if paths is None:
            return
        meta_path, body_path = paths
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "url": fetched.url,
            "status": fetched.status,
            "content_type": fetched.content_type,
            "headers": dict(fetched.headers),
            "stored_at": self._wall_clock(),
        }
        # Write then rename: a crash mid-write never leaves a half file that looks valid.
        for path, data in ((body_path, fetched.content), (meta_path, json.dumps(meta).encode("utf-8"))):
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)


def _setting(config: Mapping[str, Any], key: str, default: float) -> Any:
    value = config.get(key)
    return default if value is None or value == "" else value


def session_from_config(config: Mapping[str, Any], **overrides: Any) -> PoliteSession:
    """A PoliteSession set up from the app's settings (FINDER_HTTP_*)."""
    cache_dir = config.get("HTTP_CACHE_DIR")
    if cache_dir is None and config.get("INSTANCE_PATH"):
        cache_dir = str(Path(str(config["INSTANCE_PATH"])) / "http-cache")
    settings: dict[str, Any] = {
        "contact": str(config.get("HTTP_CONTACT") or ""),
        "rate_limit_per_second": float(_setting(config, "HTTP_RATE_LIMIT_PER_SECOND", 1.0)),
        "connect_timeout": float(_setting(config, "HTTP_CONNECT_TIMEOUT_SECONDS", 10.0)),
        "read_timeout": float(_setting(config, "HTTP_READ_TIMEOUT_SECONDS", 60.0)),
        "max_retries": int(_setting(config, "HTTP_MAX_RETRIES", 4)),
        "cache_dir": cache_dir or None,
        "cache_ttl_seconds": float(_setting(config, "HTTP_CACHE_TTL_SECONDS", 6 * 3600)),
    }
    settings.update(overrides)
    return PoliteSession(**settings)


def session_for_app(app: Flask) -> PoliteSession:
    """The app's PoliteSession (created on first use, kept in app.extensions)."""
    existing = app.extensions.get(EXTENSION_KEY)
    if existing is None:
        existing = session_from_config(app.config)
        app.extensions[EXTENSION_KEY] = existing
    return existing  # type: ignore[no-any-return]
