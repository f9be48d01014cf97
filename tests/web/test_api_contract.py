"""Schemathesis generates requests from the API's own OpenAPI document.

Every answer must have a documented status and media type, match its schema, and
never be a 5xx. Generated searches rarely hit a real place, so most answers are
problems; result bodies from real searches are checked in test_api_search.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_documented_contract(web_site: Any, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web_site.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"/search", "/practitioners/{id}", "/vocabularies"} <= {op.path for op in operations}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not operation.path.startswith(("/search", "/practitioners")):
            continue  # no parameters: nothing to get wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            # Schema-valid searches may still be refused: an empty search (400) or a place
            # that is not in the gazetteer (422) cannot be expressed in JSON Schema.
            # identity: the in-process client does not decode compressed answers (test_compression.py covers them).
            case.call_and_validate(headers={"Accept-Encoding": "identity"}, excluded_checks=[positive_data_acceptance])

        check()
