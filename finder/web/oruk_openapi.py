"""The OpenAPI 3.1 document of the /oruk feed (the Open Referral UK 3.0 profile's paths we serve).

Object shapes are those of the UK profile's compiled schemas; this document names
their required fields and links the profile for the rest, and it lists exactly
the parameters finder.web.oruk reads (a test checks both stay in step).
"""

from __future__ import annotations

from typing import Any

from finder import __version__
from finder.search.query import MAX_PER_PAGE
from finder.web.oruk_map import PROFILE_URL

PARAMETERS: dict[str, dict[str, Any]] = {
    "text": {"schema": {"type": "string", "maxLength": 200}, "description": "Free text, e.g. `multiple sclerosis` (the site's own search)."},
    "search": {"schema": {"type": "string", "maxLength": 200}, "description": "The UK profile's name for `text`."},
    "taxonomy_term_id": {
        "schema": {"type": "string"},
        "description": "Only services with this taxonomy term (a UUID from /oruk/taxonomy_terms); repeat it or separate with commas. "
        "Terms of one taxonomy combine with OR, of different taxonomies with AND.",
    },
    "postcode": {"schema": {"type": "string"}, "description": "A UK postcode (full or partial): results are sorted nearest first."},
    "proximity": {
        "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 200000},
        "description": "Metres from the postcode's centre (default 25,000); home-visit services covering the postcode match too.",
    },
    "page": {"schema": {"type": "integer", "minimum": 1, "default": 1}, "description": "Page number, from 1."},
    "per_page": {"schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 50}, "description": "Items per page."},
}
TAXONOMY_PAGING = {
    "page": PARAMETERS["page"],
    "per_page": {"schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, "description": "Items per page."},
}

_OBJECTS = {
    "Service": (["id", "name", "status"], "An ORUK service: one practitioner listing, fully nested. `status` is `inactive` for a withdrawn listing, and for one the HCPC register does not allow to practise (its `alert` says so)."),
    "ServiceAtLocation": (["id"], "An ORUK service_at_location with its `location`, `schedules` (opening hours) and `service`."),
    "Organization": (["id", "name", "description"], "An ORUK organization: the listing's practice, or the practitioner when no practice is named."),
    "Taxonomy": (["id", "name", "description"], "One of our vocabularies as an ORUK taxonomy; `taxonomy_terms` on /taxonomies/{id}."),
    "TaxonomyTerm": (["id", "name", "description"], "One vocabulary code; `term` is the code, `taxonomy_id` its taxonomy."),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _parameters(names: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "required": False, **spec} for name, spec in names.items()]


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}},
        "400": _problem("A parameter is wrong; `invalid_params` names it and what is allowed."),
    }


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _page_of(item: str) -> dict[str, Any]:
    return {"allOf": [_ref("Page"), {"type": "object", "properties": {"contents": {"type": "array", "items": _ref(item)}}}]}


def _one(item: str, summary: str, kind: str) -> dict[str, Any]:
    responses = _ok(_ref(item), summary)
    del responses["400"]
    responses["404"] = _problem(f"No {kind} has this id (ids are UUIDs).")
    return {
        "get": {
            "summary": summary,
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}],
            "responses": responses,
        }
    }


def oruk_openapi_document(base_url: str) -> dict[str, Any]:
    feed = _parameters(PARAMETERS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Physio Finder: Open Referral UK feed",
            "version": __version__,
            "description": "Physiotherapy services as Open Referral UK 3.0 (HSDS 3.0 UK profile). Keyless, read-only, CORS `*`. "
            "Give directories the base URL of this document's server. Ids are stable UUIDs. Opening hours are in `schedules` "
            "(weekly `byday`, `opens_at`, `closes_at`, UK local time).",
            "license": {"name": "Open Government Licence v3.0 (our listings); see /about for sources"},
        },
        "externalDocs": {"description": "Open Referral UK profile", "url": PROFILE_URL},
        "servers": [{"url": base_url}],
        "paths": {
            "/": {"get": {"summary": "API details: HSDS version, profile and this document.", "responses": _ok(_ref("ApiDetails"), "API details")}},
            "/services": {"get": {"summary": "Services, paged.", "parameters": feed, "responses": _ok(_page_of("Service"), "A page of services")}},
            "/services/{id}": _one("Service", "One service, fully nested.", "service"),
            "/service_at_locations": {
                "get": {
                    "summary": "Services at locations, paged by listing: every place of each listing on the page (with `postcode`, its nearest place).",
                    "parameters": feed,
                    "responses": _ok(_page_of("ServiceAtLocation"), "A page of services at locations"),
                }
            },
            "/service_at_locations/{id}": _one("ServiceAtLocation", "One service at one location.", "service_at_location"),
            "/organizations": {
                "get": {
                    "summary": "Organizations, paged.",
                    "parameters": [p for p in feed if p["name"] not in ("postcode", "proximity")],
                    "responses": _ok(_page_of("Organization"), "A page of organizations"),
                }
            },
            "/organizations/{id}": _one("Organization", "One organization with its services.", "organization"),
            "/taxonomies": {"get": {"summary": "Our taxonomies.", "parameters": _parameters(TAXONOMY_PAGING), "responses": _ok(_page_of("Taxonomy"), "A page of taxonomies")}},
            "/taxonomies/{id}": _one("Taxonomy", "One taxonomy with its terms.", "taxonomy"),
            "/taxonomy_terms": {
                "get": {
                    "summary": "Taxonomy terms.",
                    "parameters": _parameters({**TAXONOMY_PAGING, "taxonomy_id": {"schema": {"type": "string", "format": "uuid"}, "description": "Only the terms of this taxonomy."}}),
                    "responses": _ok(_page_of("TaxonomyTerm"), "A page of taxonomy terms"),
                }
            },
            "/taxonomy_terms/{id}": _one("TaxonomyTerm", "One taxonomy term.", "taxonomy_term"),
            "/openapi.json": {"get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {
            "schemas": {
                "ApiDetails": {
                    "type": "object",
                    "required": ["version", "profile", "openapi_url"],
                    "properties": {
                        "version": {"type": "string"},
                        "profile": {"type": "string", "format": "uri"},
                        "openapi_url": {"type": "string", "format": "uri"},
                    },
                },
                "Page": {
                    "type": "object",
                    "required": ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"],
                    "properties": {
                        "total_items": {"type": "integer"},
                        "total_pages": {"type": "integer"},
                        "page_number": {"type": "integer"},
                        "size": {"type": "integer", "description": "Items on this page."},
                        "first_page": {"type": "boolean"},
                        "last_page": {"type": "boolean"},
                        "empty": {"type": "boolean"},
                        "contents": {"type": "array"},
                    },
                },
                **{
                    name: {
                        "type": "object",
                        "description": description + " Full shape: the UK profile's compiled schema.",
                        "required": required,
                        "properties": {"id": {"type": "string", "format": "uuid"}},
                    }
                    for name, (required, description) in _OBJECTS.items()
                },
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details.",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "invalid_params": {"type": "array", "items": {"type": "object"}},
                    },
                },
            }
        },
    }
