"""Our checks on the ORUK validator's own mock feeds: Default passes, Fail fails.

If these checks passed everything, the 0 errors our feed gets would prove nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.oruk.checks import MOCKS, problems, require_schemas

#: Mock file -> the kind of response it is.
KIND_OF_FILE = {
    "api_details.json": "api_details",
    "service_full.json": "service",
    "service_list.json": "service_list",
    "service_at_location_full.json": "service_at_location",
    "service_at_location_list.json": "service_at_location_list",
    "organization_full.json": "organization",
    "organization_list.json": "organization_list",
    "taxonomy.json": "taxonomy",
    "taxonomy_list.json": "taxonomy_list",
    "taxonomy_term.json": "taxonomy_term",
    "taxonomy_term_list.json": "taxonomy_term_list",
}


def _mock_problems(feed: str) -> dict[str, list[str]]:
    require_schemas()
    folder = MOCKS / feed
    if not folder.is_dir():
        pytest.skip(f"the ORUK validator mocks are not here: {folder}")
    return {name: problems(kind, json.loads((folder / name).read_text())) for name, kind in KIND_OF_FILE.items()}


@pytest.mark.parametrize("feed", ["V3.0-UK-Default", "V3.0-UK-Test"])
def test_the_passing_mock_feeds_pass(feed: str) -> None:
    found = _mock_problems(feed)
    assert {name: p for name, p in found.items() if p} == {}


def test_the_failing_mock_feed_fails_where_it_was_broken() -> None:
    found = _mock_problems("V3.0-UK-Fail")
    failing = {name for name, p in found.items() if p}
    # Broken on purpose: a missing profile, relative URLs, bad emails, missing names, latitudes of 100 ...
    assert {"api_details.json", "service_full.json", "service_list.json"} <= failing
    messages = " ".join(m for p in found.values() for m in p)
    assert "'profile' is a required property" in messages
    assert "is not a 'uri'" in messages and "is not a 'email'" in messages
    assert "'name' is a required property" in messages
