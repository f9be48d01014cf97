"""API fuzzing with schemathesis, beyond tests/web/test_api_contract.py: searches that find listings, and workflows.

The web tests generate from the published document, so most generated searches
name places that do not exist (a clear 422). Here:

* **realistic searches**: the same document, with ``near`` and ``q`` drawn from
  real places of the test gazetteer and words the seeded listings use, and every
  other parameter (filters, switches, radius, order, paging) generated freely.
  Every such request is valid, so every answer must be a 200 that matches the
  SearchResponse schema, and many must actually list practitioners;
* **workflows** (schemathesis' state machine): search, then open the first
  result's record through an OpenAPI link, for whole sequences of calls.

Counts (requests, statuses, results, failures) are written to
``test-artifacts/schemathesis.json`` for the benchmark notes.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

#: Places in the test gazetteer around the seeded listings (Leeds, Harrogate).
REAL_PLACES = ["LS6", "LS6 2AB", "LS1", "LS2 9AA", "Leeds", "Horsforth", "Harrogate", "HG1", "ls6 2ab", "LS62AB"]
#: Words the seeded listings use (and a few that find nothing, which is a valid, empty 200).
REAL_TEXT = ["multiple sclerosis", "MS", "back pain", "hydrotherapy", "neuro", "balance", "stroke", "Alice",
             "physio", "spasticity", "FES", "sports injury", "knee", "fatigue", "polish", "zzzz"]
REALISTIC_EXAMPLES = 150
WORKFLOW_EXAMPLES = 25

COUNTS: dict[str, Counter[str]] = {}


def record(kind: str, response: Any) -> None:
    counts = COUNTS.setdefault(kind, Counter())
    counts["requests"] += 1
    counts[f"status {response.status_code}"] += 1
    if response.status_code == 500 or response.status_code >= 502:
        counts["server errors"] += 1
    is_search = response.request.url.split("?")[0].endswith("/search")
    if response.status_code == 200 and is_search and json.loads(response.content).get("results"):
        counts["searches with results"] += 1


@pytest.fixture(scope="module", autouse=True)
def write_counts() -> Any:
    yield
    path = Path(__file__).resolve().parents[2] / "test-artifacts"
    path.mkdir(exist_ok=True)
    (path / "schemathesis.json").write_text(json.dumps({k: dict(v) for k, v in COUNTS.items()}, indent=2))


def realistic_document(document: dict[str, Any]) -> dict[str, Any]:
    """The API's own document, with `near` (required) and `q` limited to real places and words, and a link."""
    doc = copy.deepcopy(document)
    search = doc["paths"]["/search"]["get"]
    kept = []
    for parameter in search["parameters"]:
        name = parameter["name"]
        if name in ("lat", "lon", "label"):
            continue  # point searches are covered by the web tests; here every search names a real place
        if name == "near":
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "enum": REAL_PLACES}
        elif name == "q":
            parameter["schema"] = {"type": "string", "enum": REAL_TEXT}
        elif name == "page":
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 5}
        kept.append(parameter)
    search["parameters"] = kept
    # An OpenAPI link: the first result of a search opens with getPractitioner.
    search["responses"]["200"]["links"] = {
        "FirstResult": {"operationId": "getPractitioner", "parameters": {"id": "$response.body#/results/0/id"}}
    }
    return doc


#: The in-process client does not decode compressed answers (tests/web/test_compression.py covers them).
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture(scope="module")
def realistic_schema(web_site: Any) -> Any:
    document = web_site.client().get("/api/v1/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(realistic_document(document))
    schema.app = web_site.app
    # Valid requests only: making `near` required is our choice for this test, not the API's
    # rule, so "missing near" must not count as invalid data (the web tests fuzz invalid data).
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    return schema


def test_realistic_searches_are_accepted_and_match_the_schema(realistic_schema: Any) -> None:
    [search] = [result.ok() for result in realistic_schema.get_all_operations() if result.ok().path == "/search"]

    @given(case=search.as_strategy())
    @settings(max_examples=REALISTIC_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        response = case.call(headers=PLAIN)
        record("realistic searches", response)
        # Every request here is valid: a 400/422 would be the API refusing a real search.
        assert response.status_code == 200, (case.query, response.status_code, response.text[:300])
        case.validate_response(response)

    check()
    counts = COUNTS["realistic searches"]
    assert counts["server errors"] == 0
    # The seeded index is really exercised: many generated searches list practitioners.
    assert counts["searches with results"] >= counts["requests"] // 5, dict(counts)


def test_search_then_open_a_result_workflows(realistic_schema: Any) -> None:
    base = realistic_schema.as_state_machine()

    class Workflow(base):  # type: ignore[misc, valid-type]
        def call(self, case: Any, **kwargs: Any) -> Any:
            response = super().call(case, **{**kwargs, "headers": {**(kwargs.get("headers") or {}), **PLAIN}})
            record("workflows", response)
            if case.path == "/practitioners/{id}":
                COUNTS["workflows"]["practitioner records opened"] += response.status_code == 200
            return response

    Workflow.run(
        settings=settings(
            max_examples=WORKFLOW_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
    counts = COUNTS["workflows"]
    assert counts["server errors"] == 0
    assert counts["practitioner records opened"] > 0, dict(counts)
