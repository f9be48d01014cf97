"""Errors as RFC 9457 problem+json for the API and as friendly pages for people.

Nothing a client sends may produce a traceback or a bare 500: domain errors
(:class:`finder.errors.FinderError`) keep their status and message, HTTP errors
(404, 405, 429, ...) get a clear title, and anything unexpected is logged with
its traceback on the server and answered with a short apology.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, render_template, request
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest, HTTPException, SecurityError

from finder.errors import (
    AmbiguousPlace,
    FinderError,
    InvalidParameters,
    LocationError,
    PlaceCandidate,
)
from finder.web.links import site_url

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Problem types: slug -> (status, title, when it happens). Documented on /api and in OpenAPI.
PROBLEM_TYPES: dict[str, tuple[int, str, str]] = {
    "invalid-parameters": (
        400,
        "Invalid search parameters",
        "A parameter has a value of the wrong shape or outside what is allowed; `invalid_params` names each one and the allowed values.",
    ),
    "missing-search": (
        400,
        "Nothing to search for",
        "Neither `q` (what) nor `near` / `lat`+`lon` (where) was given.",
    ),
    "invalid-postcode": (400, "Invalid postcode", "`near` looks like a postcode but is not a valid UK postcode."),
    "unknown-location": (
        422,
        "Location not found",
        "The postcode or place in `near` is well formed but not in our gazetteer, or is in an area we do not cover.",
    ),
    "ambiguous-place": (
        422,
        "Ambiguous place",
        "The place name matches several places; `candidates` lists them with coordinates and a `search_url` for each.",
    ),
    "not-found": (404, "Not found", "No practitioner has this id, or the address is not part of the API."),
    "withdrawn": (410, "Listing withdrawn", "The practitioner was listed once but the source no longer lists them."),
    "method-not-allowed": (405, "Method not allowed", "The API is read-only: use GET (or HEAD)."),
    "rate-limited": (429, "Too many requests", "Slow down: the `Retry-After` header says when to try again."),
    "unavailable": (
        503,
        "Service not ready",
        "The search index or the place gazetteer has not been built yet on this server.",
    ),
    "server-error": (500, "Something went wrong on our side", "An unexpected error; it has been logged."),
    "bad-request": (400, "Bad request", "The request could not be understood."),
}

UNTRUSTED_HOST = "This server does not answer to that host name: use the site's own address."

_HTTP_SLUGS = {400: "bad-request", 404: "not-found", 405: "method-not-allowed", 410: "withdrawn", 429: "rate-limited"}


def is_api_request() -> bool:
    """The JSON API and the Open Referral UK feed: problem+json errors, CORS *."""
    path = request.path
    return path in ("/api/v1", "/oruk") or path.startswith(("/api/v1/", "/oruk/"))


def problem_type(slug: str) -> str:
    """URI of a problem type: its entry on the API page (absolute only under PUBLIC_URL)."""
    try:
        return site_url("pages.api_docs", _anchor=f"problem-{slug}")
    except Exception:  # outside a request (should not happen) or pages not registered
        return "about:blank"


def candidate_json(candidate: PlaceCandidate) -> dict[str, Any]:
    from finder.web.params import parse_search_args

    args = parse_search_args(request.args).as_args(
        near="", lat=f"{candidate.lat:.6f}", lon=f"{candidate.lon:.6f}", label=candidate.label, page=""
    )
    return {
        "label": candidate.label,
        "detail": candidate.detail,
        "lat": round(candidate.lat, 6),
        "lon": round(candidate.lon, 6),
        "search_url": site_url("api.search") + "?" + urlencode(list(args.items(multi=True))),
    }


def problem_response(
    status: int, slug: str, detail: str, *, title: str | None = None, headers: Any = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title or PROBLEM_TYPES.get(slug, (status, "Error", ""))[1],
        "status": status,
        "detail": detail,
        "instance": request.full_path.rstrip("?"),
    }
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False, indent=1), status=status, mimetype=PROBLEM_JSON)
    if headers:
        for name, value in headers:
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


#: An absolute file path (POSIX or Windows) not inside a URL: "/srv/finder/instance/index", "C:\\finder\\index".
_SERVER_PATH = re.compile(r"(?<![\w.:/~-])(?:/[^\s/'\"`()<>,;]+)+/?|\b[A-Za-z]:\\[^\s'\"`()<>,;]+")


def without_server_paths(detail: str) -> str:
    """A 503 message fit for the public: what is wrong and what to run, without where the files are."""
    return _SERVER_PATH.sub("(path not shown)", detail)


def unavailable_detail(exc: FinderError) -> str:
    """The public text of a 503 from the domain; the full text (paths included) goes to the log."""
    log.warning("service unavailable on %s: %s", request.path, exc.detail)
    return without_server_paths(exc.detail)


def problem_for(exc: FinderError) -> Response:
    """A domain error as problem+json, with the extras programs need."""
    if isinstance(exc, InvalidParameters):
        from finder.web.params import MissingSearch

        slug = "missing-search" if isinstance(exc, MissingSearch) else "invalid-parameters"
        return problem_response(
            exc.status,
            slug,
            exc.detail,
            invalid_params=[{"name": name, "reason": reason} for name, reason in exc.params],
        )
    if isinstance(exc, AmbiguousPlace):
        return problem_response(
            exc.status,
            "ambiguous-place",
            exc.detail,
            invalid_params=[{"name": "near", "reason": exc.detail}],
            candidates=[candidate_json(c) for c in exc.candidates],
        )
    if isinstance(exc, LocationError):
        return problem_response(
            exc.status, "unknown-location", exc.detail, title=exc.title,
            invalid_params=[{"name": "near", "reason": exc.detail}],
        )
    if exc.title == "Invalid postcode":
        return problem_response(
            exc.status, "invalid-postcode", exc.detail, invalid_params=[{"name": "near", "reason": exc.detail}]
        )
    if exc.status == 503:
        return problem_response(503, "unavailable", unavailable_detail(exc), title=exc.title)
    if exc.status == 404:
        return problem_response(404, "not-found", exc.detail)
    if exc.status == 410:
        return problem_response(410, "withdrawn", exc.detail)
    slug = "invalid-parameters" if exc.status == 400 else "bad-request"
    return problem_response(exc.status, slug, exc.detail, title=exc.title)


def error_page(status: int, title: str, detail: str, headers: Any = None) -> Response:
    from finder.web.params import without_controls

    title, detail = without_controls(title), without_controls(detail)  # e.g. a NUL typed into a field
    try:
        html = render_template("error.html", status=status, title=title, detail=detail)
    except Exception:  # the error page itself must not fail (e.g. the store is down)
        log.exception("could not render the error page")
        html = (
            '<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>Physio Finder: error</title></head>'
            f"<body><main><h1>{escape(title)}</h1><p>{escape(detail)}</p><p><a href=\"/\">Search again</a></p></main></body></html>"
        )
    response = Response(html, status=status, mimetype="text/html")
    if headers:
        for name, value in headers:
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


PAGE_MESSAGES = {
    404: ("Page not found", "We could not find that page. It may have moved, or the address may be mistyped."),
    405: ("Not allowed", "That kind of request is not allowed here. Go back to the search page and try again."),
    429: ("Too many requests", "You have made a lot of requests in a short time. Please wait a minute and try again."),
}


def init_app(app: Flask) -> None:
    """Register the handlers that turn every error into problem+json or a friendly page."""

    @app.errorhandler(FinderError)
    def finder_error(exc: FinderError) -> Response:
        if is_api_request():
            return problem_for(exc)
        detail = unavailable_detail(exc) if exc.status == 503 else exc.detail
        return error_page(exc.status, exc.title, detail)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = exc.get_headers()
        if isinstance(exc, SecurityError):
            # A Host outside TRUSTED_HOSTS: say so without echoing it (it is the attacker's text).
            exc = BadRequest(UNTRUSTED_HOST)
        if is_api_request():
            slug = _HTTP_SLUGS.get(status, "bad-request" if status < 500 else "server-error")
            if status == 404:
                document = "/oruk/openapi.json" if request.path.startswith("/oruk") else "/api/v1/openapi.json"
                detail = f"{request.path} is not part of this API: see {document} for the paths."
            elif status == 405:
                detail = f"{request.method} is not allowed on {request.path}: the API is read-only, use GET."
            else:
                detail = exc.description or exc.name
            title = PROBLEM_TYPES.get(slug, (status, exc.name, ""))[1]
            return problem_response(status, slug, detail, title=title, headers=headers)
        title, detail = PAGE_MESSAGES.get(status, (exc.name, exc.description or exc.name))
        return error_page(status, title, detail, headers=headers)

    @app.errorhandler(SQLAlchemyError)
    def store_error(exc: SQLAlchemyError) -> Response:
        log.exception("store error on %s %s", request.method, request.path)
        detail = "The directory's database is not available right now. Please try again in a few minutes."
        if is_api_request():
            return problem_response(503, "unavailable", detail)
        return error_page(503, "Directory not available", detail)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        detail = "Something went wrong on our side. It has been logged; please try again later."
        if is_api_request():
            return problem_response(500, "server-error", detail)
        return error_page(500, "Sorry, something went wrong", detail)
