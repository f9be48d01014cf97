"""Response headers on every response: security, CORS for the API, ETag and caching for GETs."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

from finder.web.errors import is_api_request

#: Static files (the app serves them only without nginx in front; nginx keeps them a week).
STATIC_CACHE = "public, max-age=3600"
#: API answers that echo what was searched for.
PRIVATE_API_PATHS = frozenset({"/api/v1/search"})


def content_security_policy(tiles_url: str | None) -> str:
    """No inline script or style anywhere; images may also come from the tile server when configured."""
    img = ["'self'", "data:"]
    if tiles_url:
        parts = urlsplit(tiles_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            # Leaflet's {s} subdomain placeholder becomes a CSP wildcard.
            img.append(f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(img)}",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_app(app: Flask) -> None:
    """Add the after-request hook that sets headers on every response."""
    policy = content_security_policy(app.config.get("MAP_TILES_URL"))

    @app.after_request
    def set_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        # Search terms in URLs can be health information: never send them to other sites.
        headers["Referrer-Policy"] = "same-origin"
        # geolocation=(self): the optional "Use my location" button on our own pages, never a third party's.
        headers["Permissions-Policy"] = "geolocation=(self), camera=(), microphone=(), payment=(), interest-cohort=()"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if is_api_request():
            headers["Access-Control-Allow-Origin"] = "*"
            headers["Access-Control-Expose-Headers"] = "ETag, Link, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
            headers["Cross-Origin-Resource-Policy"] = "cross-origin"
            if request.method == "OPTIONS":
                headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
                headers["Access-Control-Allow-Headers"] = "Accept, If-None-Match, Content-Type"
                headers["Access-Control-Max-Age"] = "86400"
        if request.method in ("GET", "HEAD") and request.path.startswith("/static/") and response.status_code in (200, 304):
            # Flask's file sending has already said "no-cache"; static files are meant to be kept.
            headers["Cache-Control"] = STATIC_CACHE
        elif request.method in ("GET", "HEAD") and response.status_code == 200 and not response.direct_passthrough:
            if request.path in PRIVATE_API_PATHS:
                # Search terms can be health information: the client may keep the answer, shared caches not.
                headers.setdefault("Cache-Control", "private, max-age=60")
            elif is_api_request():
                headers.setdefault("Cache-Control", "public, max-age=60")
            else:
                # Pages change when the data does: always revalidate (cheap with the ETag); searches
                # can be health information, so shared caches must not keep them.
                headers.setdefault("Cache-Control", "private, no-cache")
            if not headers.get("ETag"):
                response.add_etag()
            response.make_conditional(request)
        elif response.status_code >= 400:
            headers["Cache-Control"] = "no-store"
        return response
