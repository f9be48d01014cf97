"""The OpenAPI 3.1 document for /api/v1, built from the same tables the code uses.

Parameters come from finder.web.params.PARAMETERS, enums from finder.vocab and
problem types from finder.web.errors, so the document cannot drift from what
the API accepts. A test validates real responses against these schemas.
"""

from __future__ import annotations

from typing import Any

from finder import __version__
from finder.geo import PRECISIONS
from finder.hours import DAYS
from finder.search.query import FACETS, SORTS
from finder.vocab import VOCABULARIES
from finder.web.errors import PROBLEM_TYPES
from finder.web.params import FLAGS, PARAMETERS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind: Any = schema.get("type")
    out = dict(schema)
    out["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _enum(vocabulary: str) -> dict[str, Any]:
    vocab = VOCABULARIES[vocabulary]
    return {"type": "string", "enum": list(vocab.terms), "description": f"{vocab.label} code (see /api/v1/vocabularies)."}


def _codes(vocabulary: str) -> dict[str, Any]:
    return {"type": "array", "items": _enum(vocabulary)}


STRING = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
NUMBER_OR_NULL = {"type": ["number", "null"]}
BOOL_OR_NULL = {"type": ["boolean", "null"]}
DATE_OR_NULL = {"type": ["string", "null"], "format": "date"}
URL = {"type": "string", "format": "uri"}
#: A link to this site: absolute under FINDER_PUBLIC_URL, else root-relative (never built from Host).
LINK = {"type": "string", "format": "uri-reference"}


def _object(properties: dict[str, Any], description: str = "", required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def schemas() -> dict[str, Any]:
    place_of_work = _object(
        {
            "name": TEXT_OR_NULL,
            "setting": _enum("setting"),
            "address": TEXT_OR_NULL,
            "town": TEXT_OR_NULL,
            "postcode": TEXT_OR_NULL,
            "lat": NUMBER_OR_NULL,
            "lon": NUMBER_OR_NULL,
            "ods_code": {**TEXT_OR_NULL, "description": "NHS ODS code of a GP surgery or NHS site."},
            "wheelchair_access": BOOL_OR_NULL,
            "parking": BOOL_OR_NULL,
            "opening_hours": _nullable(
                _object(
                    {
                        "intervals": {
                            "type": "array",
                            "items": _object(
                                {
                                    "day": {"type": "string", "enum": list(DAYS)},
                                    "opens": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                                    "closes": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "24:00 is the end of the day."},
                                },
                                "One opening on one weekday, UK local time (Europe/London).",
                            ),
                        },
                        "note": {**TEXT_OR_NULL, "description": "What could not be said as times, word for word (e.g. 'By appointment')."},
                        "text": {**STRING, "description": "The hours as one line, e.g. 'Mon-Fri 09:00-17:00; Sat 09:00-12:00'."},
                    },
                    "Weekly opening hours: intervals Monday to Sunday, plus a note.",
                )
            ),
            "phone": TEXT_OR_NULL,
        },
        "One place the practitioner sees patients.",
    )
    registration = _object(
        {
            "number": {**TEXT_OR_NULL, "description": "HCPC registration number, e.g. PH123456."},
            "status": _enum("registration_status"),
            "label": {**STRING, "description": "Human label of the status."},
            "is_practising": {
                "type": "boolean",
                "description": "True only for `registered` and `conditions_of_practice`: the one rule behind every 'registered' badge.",
            },
            "shown_as_registered": {
                "type": "boolean",
                "description": "True only when practising and checked within the allowed age (90 days by default): "
                "only then may a client say 'registered' (finder.safety).",
            },
            "check_is_stale": {"type": "boolean", "description": "The check is older than the allowed age, or was never made."},
            "checked_on": {**DATE_OR_NULL, "description": "When the status was last checked on the HCPC register."},
            "period_to": DATE_OR_NULL,
            "badge": {**STRING, "description": "The sentence the site shows, e.g. 'Registered with the HCPC (checked 3 March 2025)'."},
            "check_url": {**URL, "description": "Where anyone can check the register themselves."},
        },
        "HCPC registration as last checked.",
    )
    home_visits = _object(
        {
            "base_postcode": STRING,
            "coverage_radius_km": {"type": "number"},
            "lat": NUMBER_OR_NULL,
            "lon": NUMBER_OR_NULL,
        },
        "Home visits within a radius of a base postcode.",
    )
    referral_route = _object(
        {
            "route": _enum("referral_route"),
            "only_for": {
                **_codes("specialism"),
                "description": "Empty: the route applies to every condition. Otherwise only to these condition groups.",
            },
            "not_for": {
                **_codes("condition"),
                "description": "Conditions the route is not for (e.g. self-referral, but not for multiple sclerosis).",
            },
        },
        "Who may refer, optionally only for some condition groups and not for some conditions.",
        required=["route", "only_for"],
    )
    contact = _object(
        {"phone": TEXT_OR_NULL, "email": TEXT_OR_NULL, "website": TEXT_OR_NULL, "booking_url": TEXT_OR_NULL}
    )
    practitioner_links = _object(
        {
            "self": {**LINK, "description": "This record in the API."},
            "html": {**LINK, "description": "The practitioner page."},
            "referral": {**LINK, "description": "The printable referral summary."},
            "referral_text": {**LINK, "description": "The referral summary as plain text."},
        }
    )
    provenance = _object(
        {
            "source": STRING,
            "source_id": STRING,
            "source_url": TEXT_OR_NULL,
            "fetched_at": {"type": ["string", "null"], "format": "date-time"},
            "last_verified_on": DATE_OR_NULL,
        }
    )
    practitioner = _object(
        {
            "id": {"type": "integer"},
            "name": STRING,
            "practice_name": TEXT_OR_NULL,
            "gender": _nullable(_enum("gender")),
            "languages": _codes("language"),
            "memberships": _codes("membership"),
            "bio": TEXT_OR_NULL,
            "registration": _ref("Registration"),
            "specialisms": _codes("specialism"),
            "conditions": _codes("condition"),
            "treatments": _codes("treatment"),
            "locations": {"type": "array", "items": _ref("PlaceOfWork")},
            "home_visits": _nullable(_ref("HomeVisits")),
            "funding": _codes("funding"),
            "referral_routes": {"type": "array", "items": _ref("ReferralRoute")},
            "referral_notes": TEXT_OR_NULL,
            "referral_email": TEXT_OR_NULL,
            "referral_phone": TEXT_OR_NULL,
            "nhs_waiting_weeks": {"type": ["integer", "null"], "description": "Typical NHS wait in weeks."},
            "session_limit": {"type": ["integer", "null"], "description": "Most sessions offered (NHS services)."},
            "fee_initial_gbp": NUMBER_OR_NULL,
            "fee_follow_up_gbp": NUMBER_OR_NULL,
            "fees_note": TEXT_OR_NULL,
            "accepting_new_patients": BOOL_OR_NULL,
            "wheelchair_access": {"type": "boolean", "description": "At least one location is wheelchair accessible."},
            "contact": _ref("Contact"),
            "provenance": {"type": "array", "items": _ref("Provenance")},
            "created_at": {"type": "string", "format": "date-time"},
            "last_updated": {"type": "string", "format": "date-time"},
            "is_sample": {"type": "boolean", "description": "True for FICTIONAL demonstration records: not a real person."},
            "links": _ref("PractitionerLinks"),
        },
        "A practitioner's full public record.",
    )
    result = _object(
        {
            "rank": {"type": "integer", "description": "Position in the whole result list (1-based); matches the map pin number."},
            "id": {"type": "integer"},
            "name": STRING,
            "practice_name": TEXT_OR_NULL,
            "distance_km": {**NUMBER_OR_NULL, "description": "To the nearest location; null without a search point or for online-only."},
            "distance_miles": NUMBER_OR_NULL,
            "visits_you": {"type": "boolean", "description": "The search point lies inside their home-visit area."},
            "nearest_location": _nullable(_ref("PlaceOfWork")),
            "locations": {"type": "array", "items": _ref("PlaceOfWork")},
            "registration": _ref("Registration"),
            "tags": _object(
                {"specialism": _codes("specialism"), "setting": _codes("setting"), "funding": _codes("funding")}
            ),
            "referral_routes": {"type": "array", "items": _ref("ReferralRoute")},
            "home_visits": _nullable(_ref("HomeVisits")),
            "accepting_new_patients": BOOL_OR_NULL,
            "wheelchair_access": {"type": "boolean"},
            "nhs_waiting_weeks": {"type": ["integer", "null"]},
            "contact": _ref("Contact"),
            "next_step": {**STRING, "description": "One sentence for a patient: how to get seen."},
            "is_sample": {"type": "boolean"},
            "url": {**LINK, "description": "The full record in the API."},
            "html_url": {**LINK, "description": "The practitioner page."},
            "matched": {
                "type": "array",
                "items": STRING,
                "description": "Why it matched, from its own record, e.g. `Treats: Stroke`, `Specialism: Neurological`.",
            },
        },
        "One search result.",
    )
    counts = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    search_response = _object(
        {
            "query": _object(
                {
                    "q": STRING,
                    "near": TEXT_OR_NULL,
                    "radius_km": {"type": "number"},
                    "filters": {
                        "type": "object",
                        "propertyNames": {"enum": list(FACETS)},
                        "additionalProperties": {"type": "array", "items": STRING},
                    },
                    **{flag: {"type": "boolean"} for flag in FLAGS},
                    "include_not_practising": {"type": "boolean"},
                    "sort": {"type": "string", "enum": list(SORTS)},
                },
                "The search as understood (codes normalised).",
            ),
            "location": _nullable(_ref("Location")),
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "pages": {"type": "integer", "minimum": 1},
            "suggestion": {**TEXT_OR_NULL, "description": "A spelling suggestion when the text found nothing."},
            "online_anywhere": {
                "type": "integer",
                "minimum": 0,
                "description": "With a place: online (video) services anywhere that pass the other filters. They are "
                "not within any distance, so they are not in `results`; search with `setting=online` and no place "
                "to list them.",
            },
            "interpreted": {
                "type": "object",
                "description": "How `q` was read: `filters` applied from its words (`words`, `filter`, `values`; "
                "a yes/no filter has no values), condition and treatment `concepts` (`words`, `codes`, and the "
                "`broad` specialism also accepted, ranked below), the `text` left for the text search, filler "
                "words `ignored`, misspellings `corrected`, and `dropped`: words left out because nothing "
                "matched them with the rest.",
            },
            "alternatives": {
                "type": "array",
                "description": "When nothing was found: next steps, each with how many it finds.",
                "items": _object(
                    {
                        "label": STRING,
                        "total": {"type": "integer", "minimum": 1},
                        "search_url": {**LINK, "description": "The alternative search in the API."},
                        "html": {**LINK, "description": "The same on the website."},
                    }
                ),
            },
            "facets": {
                "type": "object",
                "description": "Facet -> value code -> number of results with it (the facet's own filter left out, "
                "so the counts say what ticking a value would give). Boolean filters are under `flags`.",
                "additionalProperties": counts,
            },
            "results": {"type": "array", "items": _ref("SearchResult")},
            "links": _object(
                {
                    "self": LINK,
                    "next": {"type": ["string", "null"], "format": "uri-reference"},
                    "prev": {"type": ["string", "null"], "format": "uri-reference"},
                    "html": {**LINK, "description": "The same search on the website."},
                }
            ),
        },
        "One page of search results.",
    )
    problem = _object(
        {
            "type": {**LINK, "description": "Problem type; its description is on the /api page."},
            "title": STRING,
            "status": {"type": "integer"},
            "detail": {**STRING, "description": "What was wrong and what is allowed."},
            "instance": STRING,
            "invalid_params": {
                "type": "array",
                "items": _object({"name": STRING, "reason": STRING}),
                "description": "Each bad parameter and why.",
            },
            "candidates": {
                "type": "array",
                "items": _ref("PlaceCandidate"),
                "description": "For an ambiguous place: the places it could mean.",
            },
        },
        "An RFC 9457 problem.",
        required=["type", "title", "status", "detail"],
    )
    candidate = _object(
        {
            "label": STRING,
            "detail": STRING,
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "search_url": {**LINK, "description": "The same search at this place."},
        }
    )
    location = _object(
        {
            "label": STRING,
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "precision": {"type": "string", "enum": list(PRECISIONS)},
        },
        "The resolved search point.",
    )
    vocabulary = _object(
        {
            "name": STRING,
            "label": STRING,
            "values": {
                "type": "array",
                "items": _object({"code": STRING, "label": STRING, "help": STRING}, required=["code", "label"]),
            },
        }
    )
    vocabularies = _object(
        {
            "vocabularies": {
                "type": "object",
                "propertyNames": {"enum": list(VOCABULARIES)},
                "additionalProperties": _ref("Vocabulary"),
            },
            "practising_statuses": {"type": "array", "items": _enum("registration_status")},
        }
    )
    return {
        "SearchResponse": search_response,
        "SearchResult": result,
        "Practitioner": practitioner,
        "PractitionerLinks": practitioner_links,
        "PlaceOfWork": place_of_work,
        "Registration": registration,
        "HomeVisits": home_visits,
        "ReferralRoute": referral_route,
        "Contact": contact,
        "Provenance": provenance,
        "Location": location,
        "PlaceCandidate": candidate,
        "Problem": problem,
        "Vocabulary": vocabulary,
        "Vocabularies": vocabularies,
    }


def _parameter_schema(name: str) -> dict[str, Any]:
    if name in FACETS:
        return {"type": "array", "items": _enum(name)}
    if name in FLAGS or name == "include_not_practising":
        return {"type": "boolean", "default": False}
    table: dict[str, dict[str, Any]] = {
        "q": {"type": "string", "maxLength": 200, "examples": ["multiple sclerosis", "balance", "hydrotherapy"]},
        "near": {"type": "string", "maxLength": 200, "examples": ["LS6", "LS6 2AB", "Harrogate", "St Ives, Cornwall"]},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "label": {"type": "string", "maxLength": 200},
        "radius_km": {"type": "number", "exclusiveMinimum": 0, "maximum": 200, "default": 25},
        "sort": {"type": "string", "enum": list(SORTS), "default": "auto"},
        "page": {"type": "integer", "minimum": 1, "default": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    }
    return table[name]


def _problem_responses(*statuses: int) -> dict[str, Any]:
    out = {}
    for status in statuses:
        kinds = [f"`{slug}`" for slug, (code, _title, _text) in PROBLEM_TYPES.items() if code == status]
        out[str(status)] = {
            "description": "Problem: " + ", ".join(kinds) if kinds else "Problem",
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
    return out


def openapi_document(server_url: str = "/api/v1") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (``server_url`` is the API root, e.g. https://host/api/v1)."""
    search_parameters = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            "schema": _parameter_schema(name),
            **({"style": "form", "explode": True} if name in FACETS else {}),
        }
        for name, text in PARAMETERS.items()
    ]
    common = _problem_responses(405, 429, 500)
    ok_headers = {
        "ETag": {"description": "Entity tag; send it back in If-None-Match for a 304.", "schema": STRING},
        "Cache-Control": {"schema": STRING},
        "Access-Control-Allow-Origin": {"schema": {"type": "string", "const": "*"}},
    }
    not_modified = {"304": {"description": "Not modified (If-None-Match matched the ETag)."}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Physio Finder API",
            "version": __version__,
            "summary": "UK physiotherapists: search by place, condition and access; registration and referral routes.",
            "description": (
                "Open and keyless. Repeat a filter parameter to allow several values (OR within a filter); "
                "different filters combine with AND. Unknown parameters are ignored. Errors are "
                "`application/problem+json` (RFC 9457). Records with `is_sample: true` are FICTIONAL "
                "demonstration data, not real people. Postcode data: Contains OS data © Crown copyright and "
                "database right. Place names: GeoNames (CC BY 4.0)."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/search": {
                "get": {
                    "operationId": "search",
                    "summary": "Search practitioners",
                    "description": "Give `q` (what), `near` or `lat`+`lon` (where), or both. Results are sorted by "
                    "distance when a place is given, by relevance otherwise; `sort` also offers `nhs_wait` "
                    "(shortest NHS wait) and `fee` (lowest first-appointment fee). `setting=online` alone (no text, "
                    "no place) lists the online services.",
                    "parameters": search_parameters,
                    "responses": {
                        "200": {
                            "description": "One page of results.",
                            "headers": ok_headers,
                            "content": {"application/json": {"schema": _ref("SearchResponse")}},
                        },
                        **not_modified,
                        **_problem_responses(400, 422, 503),
                        **common,
                    },
                }
            },
            "/practitioners/{id}": {
                "get": {
                    "operationId": "getPractitioner",
                    "summary": "One practitioner's full record",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The record.",
                            "headers": ok_headers,
                            "content": {"application/json": {"schema": _ref("Practitioner")}},
                        },
                        **not_modified,
                        **_problem_responses(404, 410, 503),
                        **common,
                    },
                }
            },
            "/vocabularies": {
                "get": {
                    "operationId": "getVocabularies",
                    "summary": "Every allowed value of every filter, with labels",
                    "responses": {
                        "200": {
                            "description": "The vocabularies.",
                            "headers": ok_headers,
                            "content": {"application/json": {"schema": _ref("Vocabularies")}},
                        },
                        **not_modified,
                        **common,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenAPI",
                    "summary": "This document",
                    "responses": {
                        "200": {"description": "OpenAPI 3.1 document.", "content": {"application/json": {"schema": {"type": "object"}}}},
                        **not_modified,
                        **common,
                    },
                }
            },
        },
        "components": {"schemas": schemas()},
    }
