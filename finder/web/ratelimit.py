"""Rate limits (Flask-Limiter): the JSON API per client address, the pages more generously.

Settings (env ``FINDER_<NAME>``):

* ``RATELIMIT_ENABLED`` (default true; the tests switch it off);
* ``RATELIMIT_API`` (default ``120 per minute``): one budget per client
  address shared by every ``/api/v1/*`` operation; empty: no API limit;
* ``RATELIMIT_PAGES`` (default ``600 per minute``): one budget per client
  address shared by the HTML pages. Generous on purpose: a GP practice or a
  hospital trust can put hundreds of staff behind one address, and a person
  clicking through results never comes near 10 pages a second; a scraper
  hammering the search does. Empty: no page limit;
* ``RATELIMIT_STORAGE_URI`` (default ``memory://``, each worker counts on its
  own): ``redis://host:6379/0`` makes every worker on every web host share
  one count;
* ``RATELIMIT_KEY_PREFIX``: keeps two sites sharing one Redis apart;
* ``PROXY_FIX_X_FOR``: how many reverse proxies in front of us append to
  ``X-Forwarded-For`` (default 0: the client is the TCP peer). Set it to 1
  behind one nginx/load balancer, or every patient counts as the proxy.

``/healthz``, ``/readyz`` and static files are never limited; CORS preflights
(OPTIONS) are not counted.

When the limit store (Redis) cannot be reached, at start or later, the site
keeps serving: limits are counted in each worker's memory meanwhile (a warning
is logged once per worker) and Redis is tried again with a growing interval.
A rate limiter must never be the reason a patient sees an error page.

A 429 carries ``Retry-After`` (seconds) and the ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds until the window
resets) headers; the API answers it as problem+json, the pages as a friendly
page (finder.web.errors).
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

EXTENSION_KEY = "finder.ratelimit"
DEFAULT_PAGE_LIMIT = "600 per minute"
#: Redis timeouts (seconds): a limiter waiting on a dead Redis would stall every request.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
LIMIT_HEADER = "RateLimit-Limit"
REMAINING_HEADER = "RateLimit-Remaining"
RESET_HEADER = "RateLimit-Reset"


def redacted(uri: str) -> str:
    """A storage URI fit for a log line: any password replaced."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", uri)


def client_address() -> str:
    """Whose budget a request counts against: the client's address (after ProxyFix, if configured)."""
    return get_remote_address() or "unknown"


def _api_message() -> str:
    from flask import current_app

    limits = limiter_of(current_app)
    limit = limits.api_limit if limits is not None else "set by the site"
    return (
        f"Too many API requests from your address: the limit is {limit}. "
        "Wait the number of seconds in the Retry-After header, then try again."
    )


def _page_message() -> str:
    return "You have made a lot of requests in a short time. Please wait a minute and try again."


class RateLimits:
    """The app's Limiter with the limits this site uses (kept in ``app.extensions``)."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.api_limit = str(config.get("RATELIMIT_API") or "").strip()
        page_limit = config.get("RATELIMIT_PAGES", DEFAULT_PAGE_LIMIT)
        self.page_limit = str(page_limit or "").strip()
        self.storage_uri = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
        config["RATELIMIT_STORAGE_URI"] = self.storage_uri
        if self.storage_uri.startswith(("redis://", "rediss://", "redis+unix://")):
            options = dict(REDIS_TIMEOUTS)
            options.update(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
            config["RATELIMIT_STORAGE_OPTIONS"] = options
        config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
        config.setdefault("RATELIMIT_HEADER_LIMIT", LIMIT_HEADER)
        config.setdefault("RATELIMIT_HEADER_REMAINING", REMAINING_HEADER)
        config.setdefault("RATELIMIT_HEADER_RESET", RESET_HEADER)
        self.limiter = Limiter(
            client_address,
            # Fail open: a dead Redis means counting in memory, never an error page.
            in_memory_fallback_enabled=True,
            swallow_errors=True,
            key_prefix=str(config.get("RATELIMIT_KEY_PREFIX") or "finder"),
        )

    def install(self, app: Flask) -> None:
        from finder.web import api, health, pages, shortlist

        # Registered before the Limiter's own hook, so it runs after it (Flask runs
        # after-request hooks in reverse): turns the reset time into seconds.
        app.after_request(_reset_in_seconds)
        self.limiter.init_app(app)
        self.limiter.request_filter(lambda: request.method == "OPTIONS")
        if self.api_limit:
            self.limiter.shared_limit(self.api_limit, scope="api", error_message=_api_message)(api.bp)
        if self.page_limit:
            self.limiter.shared_limit(self.page_limit, scope="pages", error_message=_page_message)(pages.bp)
            # Shortlist, comparison and exports count with the pages (one budget per address).
            self.limiter.shared_limit(self.page_limit, scope="pages", error_message=_page_message)(shortlist.bp)
        self.limiter.exempt(health.bp)
        self._check_storage()

    def _check_storage(self) -> None:
        if self.storage_uri.startswith("memory://"):
            return
        try:
            reachable = self.limiter.storage.check()
        except Exception:  # noqa: BLE001 - any failure means "not reachable"; we say so and go on
            reachable = False
        if not reachable:
            log.warning(
                "rate limit storage %s is not reachable: serving anyway, counting limits in this "
                "worker's memory until it answers",
                redacted(self.storage_uri),
            )


def _reset_in_seconds(response: Response) -> Response:
    """RateLimit-Reset as seconds from now (the IETF draft); Retry-After only where it means something.

    Flask-Limiter sends Retry-After on every limited response; on a 200 it would
    only confuse, so it stays on 429 (at least 1 second) and 503 answers.
    """
    reset = response.headers.get(RESET_HEADER)
    if reset and reset.isdigit():
        seconds = max(0, int(reset) - int(time.time()))
        response.headers[RESET_HEADER] = str(seconds)
    retry = response.headers.get("Retry-After")
    if response.status_code == 429:
        if not retry or (retry.isdigit() and int(retry) < 1):
            response.headers["Retry-After"] = "1"
    elif retry is not None and response.status_code != 503:
        del response.headers["Retry-After"]
    return response


def trust_proxies(app: Flask) -> None:
    """Read the client address from X-Forwarded-For when PROXY_FIX_X_FOR proxies are in front."""
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops > 0:
        # The client address and scheme only: the host is never taken from a header
        # (links come from PUBLIC_URL; finder.web.links), so X-Forwarded-Host is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]


def init_app(app: Flask) -> RateLimits | None:
    """Set up the limits (nothing when RATELIMIT_ENABLED is false)."""
    trust_proxies(app)
    if not app.config.get("RATELIMIT_ENABLED", True):
        app.extensions[EXTENSION_KEY] = None
        return None
    limits = RateLimits(app)
    app.extensions[EXTENSION_KEY] = limits
    limits.install(app)
    return limits


def limiter_of(app: Flask) -> RateLimits | None:
    return app.extensions.get(EXTENSION_KEY)  # type: ignore[no-any-return]
