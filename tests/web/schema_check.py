"""Validate real API responses against the API's own OpenAPI 3.1 document."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


class OpenAPIChecker:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(
            "urn:physio-finder-api", Resource.from_contents(document, default_specification=DRAFT202012)
        )

    def errors(self, schema_name: str, body: Any) -> list[str]:
        validator = Draft202012Validator(
            {"$ref": f"urn:physio-finder-api#/components/schemas/{schema_name}"}, registry=self.registry
        )
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(body)]

    def check_response(self, path_template: str, response: Any) -> Any:
        """The response's status and media type are documented, and its body matches the schema."""
        operation = self.document["paths"][path_template]["get"]
        status = str(response.status_code)
        assert status in operation["responses"], f"{status} is not documented for {path_template}"
        documented = operation["responses"][status].get("content", {})
        assert response.mimetype in documented, f"{response.mimetype} not documented for {status}"
        schema = documented[response.mimetype]["schema"]
        body = json.loads(response.get_data(as_text=True))
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            problems = self.errors(name, body)
            assert not problems, problems
        return body
