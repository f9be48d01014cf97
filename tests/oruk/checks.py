"""The checks a feed must pass: the official compiled ORUK 3.0 schemas (jsonschema,
format checking on, one compiled validator per schema) plus the page envelope.

The same checks run on our feed and on the ORUK validator's own mock feeds, so
they are seen to pass good feeds and fail bad ones.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = ROOT.parent / "shared" / "real-data" / "oruk"
SCHEMAS = REAL_DATA / "schemas" / "uk-v3-validator"
MOCKS = REAL_DATA / "examples" / "validator-mocks"

#: What each kind of response is checked against. ``organization_list.json`` describes
#: one item of a page, not the page (see the real-data README), so it is applied per item.
SCHEMA_OF = {
    "api_details": "api_details.json",
    "service": "service.json",
    "service_list": "service_list.json",
    "service_at_location": "service_at_location.json",
    "service_at_location_list": "service_at_location_list.json",
    "organization": "organization.json",
    "organization_list": "organization_list.json",
    "taxonomy": "taxonomy.json",
    "taxonomy_list": "taxonomy_list.json",
    "taxonomy_term": "taxonomy_term.json",
    "taxonomy_term_list": "taxonomy_term_list.json",
}
PAGE_FIELDS = {
    "total_items": int,
    "total_pages": int,
    "page_number": int,
    "size": int,
    "first_page": bool,
    "last_page": bool,
    "empty": bool,
    "contents": list,
}


def require_schemas() -> None:
    if not SCHEMAS.is_dir():
        pytest.skip(f"the ORUK schemas are not here: {SCHEMAS} (shared real data is absent)")


@cache
def validator(kind: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / SCHEMA_OF[kind]).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _page_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["a page must be an object"]
    problems = []
    for name, kind in PAGE_FIELDS.items():
        value = body.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"page: '{name}' must be {kind.__name__}, got {value!r:.40}")
    if problems:
        return problems
    # Not checked: size against the number of items (the validator's own passing Test mock
    # says size 31 with 128 items; the profile only says "size of current page").
    if body["empty"] != (not body["contents"]):
        problems.append("page: 'empty' disagrees with contents")
    if body["first_page"] != (body["page_number"] == 1):
        problems.append("page: 'first_page' disagrees with page_number")
    if body["last_page"] != (body["page_number"] >= body["total_pages"]):
        problems.append("page: 'last_page' disagrees with page_number and total_pages")
    if body["total_items"] < 0 or body["total_pages"] < 1 or body["page_number"] < 1:
        problems.append("page: counts must be positive")
    return problems


def problems(kind: str, body: Any) -> list[str]:
    """Every schema error (path: message) and page-envelope problem of one response body."""
    found: list[str] = []
    if kind.endswith("_list"):
        found += _page_problems(body)
    if kind == "organization_list":
        items = body.get("contents", []) if isinstance(body, dict) else []
        targets = [(f"contents/{n}/", item) for n, item in enumerate(items)]
    else:
        targets = [("", body)]
    for prefix, instance in targets:
        for error in validator(kind).iter_errors(instance):
            path = prefix + "/".join(str(p) for p in error.absolute_path)
            found.append(f"{kind} {path}: {error.message[:200]}")
    return found
