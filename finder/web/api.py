"""The JSON API under /api/v1: search, one practitioner, vocabularies, and its OpenAPI document.

Same parameters and the same search path as the pages (finder.web.params and
finder.web.searching); errors are problem+json (finder.web.errors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, current_app, request

from finder.vocab import PRACTISING_STATUSES, VOCABULARIES
from finder.web import present
from finder.web.interpretation import interpreted_json, match_reasons
from finder.web.links import id_url_maker, site_url
from finder.web.params import SearchRequest, parse_search_args, previous_page, require_what_or_where
from finder.web.searching import SearchOutcome, load_practitioner, run_search
from finder.web.timing import stage

bp = Blueprint("api", __name__, url_prefix="/api/v1")

def _json_default(value: Any) -> Any:
    """What orjson does not encode itself but json.dumps did: subclasses of float (numbers
    computed with numpy are encoded natively, OPT_SERIALIZE_NUMPY)."""
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(body: Any, status: int = 200) -> Response:
    # Compact UTF-8, as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it, in about a
    # fifth of the time (a search's body is 20 listings in full).
    with stage("render"):
        text = orjson.dumps(body, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(text, status=status, mimetype="application/json")


def _url(endpoint: str, args: Any = None, **values: Any) -> str:
    base = site_url(endpoint, **values)
    if args:
        query = urlencode(list(args.items(multi=True)))
        if query:
            return f"{base}?{query}"
    return base


#: The links every listing in an answer carries, by name.
PRACTITIONER_LINKS = {
    "self": "api.practitioner",
    "html": "pages.practitioner",
    "referral": "pages.referral",
    "referral_text": "pages.referral_text",
}


def practitioner_links_maker() -> Callable[[int], dict[str, str]]:
    """A listing's links by id, each link built once per request (id_url_maker)."""
    makers = {name: id_url_maker(endpoint, "practitioner_id") for name, endpoint in PRACTITIONER_LINKS.items()}
    return lambda practitioner_id: {name: make(practitioner_id) for name, make in makers.items()}


def practitioner_links(practitioner_id: int) -> dict[str, str]:
    return practitioner_links_maker()(practitioner_id)


def search_json(outcome: SearchOutcome) -> dict[str, Any]:
    """The search response body (documented in the OpenAPI document as SearchResponse)."""
    query = outcome.query
    results = outcome.results
    req: SearchRequest = outcome.request
    check_url = current_app.config["HCPC_CHECK_URL"]
    context = query.referral_context()
    links_of = practitioner_links_maker()
    links: dict[str, str | None] = {
        "self": _url("api.search", req.as_args(page=str(query.page) if query.page != 1 else "")),
        "next": _url("api.search", req.as_args(page=str(query.page + 1))) if query.page < results.pages else None,
        "prev": _url("api.search", req.as_args(page=str(previous) if previous > 1 else ""))
        if (previous := previous_page(query.page, results.pages))
        else None,
        "html": _url("pages.search", req.as_args(page=str(query.page) if query.page != 1 else "")),
    }
    return {
        "query": {
            "q": req.text,
            "near": req.near or None,
            "radius_km": query.radius_km,
            "filters": {name: list(values) for name, values in query.filters.items()},
            "visits_home": query.visits_home,
            "registered_only": query.registered_only,
            "accepting": query.accepting,
            "wheelchair": query.wheelchair,
            "include_not_practising": query.include_not_practising,
            "sort": query.sort,
        },
        "location": outcome.location.as_json() if outcome.location else None,
        "total": results.total,
        "page": query.page,
        "per_page": query.per_page,
        "pages": results.pages,
        "suggestion": results.suggestion,
        "online_anywhere": results.online_anywhere,
        "interpreted": interpreted_json(outcome),
        "alternatives": [
            {
                "label": alternative.label,
                "total": alternative.total,
                "search_url": _url("api.search", req.as_args(**alternative.args)),
                "html": _url("pages.search", req.as_args(**alternative.args)),
            }
            for alternative in outcome.alternatives
        ],
        "facets": {facet: dict(counts) for facet, counts in results.facets.items()},
        "results": [
            {
                **present.result_json(number, hit, stored, links_of(stored.id), check_url, context),
                "matched": match_reasons(stored.record, outcome),
            }
            for number, hit, stored in outcome.rows
        ],
        "links": links,
    }


@bp.get("/search")
def search() -> Response:
    """Search practitioners: the same parameters as the search page."""
    req = parse_search_args(request.args)
    require_what_or_where(req)
    outcome = run_search(current_app, req)
    with stage("views"):
        body = search_json(outcome)
    return json_response(body)


@bp.get("/practitioners/<int:practitioner_id>")
def practitioner(practitioner_id: int) -> Response:
    """One practitioner's full public record."""
    stored = load_practitioner(current_app, practitioner_id)
    with stage("views"):
        body = present.practitioner_json(stored, practitioner_links(stored.id), current_app.config["HCPC_CHECK_URL"])
    return json_response(body)


@bp.get("/vocabularies")
def vocabularies() -> Response:
    """Every allowed filter and record value, with its label."""
    return json_response(
        {
            "vocabularies": {name: vocab.as_json() for name, vocab in VOCABULARIES.items()},
            "practising_statuses": sorted(PRACTISING_STATUSES),
        }
    )


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    from finder.web.openapi import openapi_document

    return json_response(openapi_document(site_url("api.search").rsplit("/search", 1)[0]))
