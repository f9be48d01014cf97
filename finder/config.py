"""Settings: defaults that work offline on one machine, then ``FINDER_*`` env vars.

Order (later wins): :data:`DEFAULTS`, environment variables with the ``FINDER_``
prefix (``FINDER_DATABASE_URL=...``; values that parse as JSON are read as JSON,
so ``FINDER_ONLINE_GEOCODING=true`` is a boolean), then the mapping passed to
``create_app(config)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Where the embedded store, index and gazetteer live (relative to the working directory).
    "INSTANCE_PATH": "instance",
    # Any SQLAlchemy URL; default: SQLite file instance/finder.db.
    "DATABASE_URL": None,
    # Search index root (holds versioned builds and the "current" pointer).
    "INDEX_DIR": None,
    # The offline postcode/place gazetteer built by `finder geo build`.
    "GAZETTEER_PATH": None,
    # Online geocoders are off unless switched on; tests never need them.
    "ONLINE_GEOCODING": False,
    "NOMINATIM_DOMAIN": "nominatim.openstreetmap.org",
    "POSTCODE_API_URL": "https://api.postcodes.io/postcodes/{postcode}",
    # Contact address sent in the User-Agent of every outgoing request.
    "HTTP_CONTACT": "",
    "HTTP_CACHE_DIR": None,
    "HTTP_RATE_LIMIT_PER_SECOND": 1.0,
    # Polite fetching (scrapers/http.py): timeouts, bounded retries, how long a cached page is reused.
    # The cache lives in HTTP_CACHE_DIR, else <INSTANCE_PATH>/http-cache.
    "HTTP_CONNECT_TIMEOUT_SECONDS": 10,
    "HTTP_READ_TIMEOUT_SECONDS": 60,
    "HTTP_MAX_RETRIES": 4,
    "HTTP_CACHE_TTL_SECONDS": 21600,
    # NHS ODS "GP practices" report (epraccur), for `finder ingest ods` without an argument.
    "ODS_EPRACCUR_URL": "https://www.odsdatasearchandexport.nhs.uk/api/getReport?report=epraccur",
    # HCPC online register: {number} is replaced by the registration number, e.g. PH123456.
    "HCPC_REGISTER_URL": "https://www.hcpc-uk.org/check-the-register/professional-registration-detail/?query={number}&profession=PH",
    "HCPC_CHECK_URL": "https://www.hcpc-uk.org/check-the-register/",
    # API rate limit (Flask-Limiter); storage may be redis://host:6379.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_API": "120 per minute",
    "RATELIMIT_ENABLED": True,
    # Per client address across the HTML pages (generous: many NHS staff share one address); "" = none.
    "RATELIMIT_PAGES": "600 per minute",
    # Redis key prefix, so two sites can share one Redis.
    "RATELIMIT_KEY_PREFIX": "finder",
    # How many reverse proxies in front append to X-Forwarded-For (0: the TCP peer is the client).
    "PROXY_FIX_X_FOR": 0,
    # Log level of the app's JSON logs (one line per request; never the query string).
    "LOG_LEVEL": "info",
    # Optional tiled map as progressive enhancement: a {z}/{x}/{y} tile URL template.
    "MAP_TILES_URL": None,
    "MAP_TILES_ATTRIBUTION": None,
    "SEARCH_DEFAULT_RADIUS_KM": 25,
    "SEARCH_MAX_RADIUS_KM": 200,
    "SECRET_KEY": None,
    # /readyz answers 503 once the search index lacks a store write older than this (finder index follow keeps it small).
    "INDEX_MAX_LAG_SECONDS": 60,
    # How often `finder index follow` looks at the store besides PostgreSQL notifications.
    "INDEX_FOLLOW_POLL_SECONDS": 5,
    # A registration check older than this many days is not shown as "Registered" (finder.safety, hazard H2).
    "REGISTRATION_MAX_AGE_DAYS": 90,
    # "Report a problem with this listing" (finder.reports): per sender, per hour and per listing per
    # day (0: no limit), and the largest request body taken.
    "REPORTS_PER_HOUR": 5,
    "REPORTS_PER_LISTING_PER_DAY": 2,
    "REPORT_MAX_BYTES": 16384,
    # The site's public address (https://finder.example.org): the only source of absolute links.
    # Unset: links are relative. Never taken from the request's Host header.
    "PUBLIC_URL": None,
    # Host names the app answers to (Flask TRUSTED_HOSTS; a list, or a comma-separated string).
    # Default: the PUBLIC_URL's host when that is set; other Hosts get 400.
    "TRUSTED_HOSTS": None,
    # Listings each web worker keeps between requests while the store has not changed (finder.db.RowCache); 0: none.
    # Off by default: each kept listing is ~40 objects the garbage collector walks, and with 5,000 kept a
    # full collection took ~190 ms every ~150 requests (benchmarks/README.md), more than the reads it saved
    # when searches spread over the whole country. Worth it only where a few hundred listings get most views.
    "ROW_CACHE_SIZE": 0,
    # Compress pages and JSON for clients that accept it (Flask-Compress: br, gzip). Off when nginx is in
    # front (deploy/nginx/finder.conf compresses there, and the app's CPU serves requests instead).
    "COMPRESS_REGISTER": True,
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_MIN_SIZE": 1024,
    # Files sent as streams (static files) stay as they are: wrapping the stream lost its close(),
    # leaking the open file; nginx serves (and compresses) /static/ in production.
    "COMPRESS_STREAMS": False,
    # Send a Server-Timing header with each response's stages (finder.web.timing; benchmarks/load.py).
    "SERVER_TIMING": False,
}


def from_environment(environ: Mapping[str, str] | None = None, prefix: str = "FINDER_") -> dict[str, Any]:
    """Read ``FINDER_*`` variables, parsing JSON-looking values."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(prefix) or key.startswith("FINDER_TEST_"):
            continue
        name = key[len(prefix):]
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        found[name] = value
    return found


def resolve(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in the paths that default to places under the instance directory."""
    resolved = dict(settings)
    instance = Path(str(resolved["INSTANCE_PATH"])).expanduser().absolute()
    resolved["INSTANCE_PATH"] = str(instance)
    if not resolved.get("DATABASE_URL"):
        resolved["DATABASE_URL"] = f"sqlite:///{instance / 'finder.db'}"
    if not resolved.get("INDEX_DIR"):
        resolved["INDEX_DIR"] = str(instance / "index")
    if not resolved.get("GAZETTEER_PATH"):
        resolved["GAZETTEER_PATH"] = str(instance / "gazetteer.sqlite")
    return resolved


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then environment, then overrides; paths resolved."""
    settings = dict(DEFAULTS)
    settings.update(from_environment(environ))
    if overrides:
        settings.update(overrides)
    return resolve(settings)
