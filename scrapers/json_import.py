"""The operator's own JSON file: a list of records in the API's record shape.

Accepted: a JSON array of objects, or an object with a ``practitioners`` array.
Each object is a Record (see ``GET /api/v1/practitioners/<id>`` -> ``record``);
``provenance`` may be left out when the object has a top-level ``source_id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from finder.errors import Problem
from finder.ingest import SourceItem
from finder.records import Record, record_problems


def parse_json(data: bytes | str, *, source: str = "json") -> Iterator[SourceItem]:
    """Parse a JSON import into SourceItems numbered from 1 ("item 3")."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        yield SourceItem(row=None, unit="item", problems=[Problem(None, None, f"the file is not valid JSON: {exc}")])
        return
    except RecursionError:
        # json.loads recurses: absurdly deep nesting is refused, not a crash.
        yield SourceItem(row=None, unit="item", problems=[Problem(None, None, "the file is not valid JSON: it is nested too deeply")])
        return
    items: Any = document.get("practitioners") if isinstance(document, dict) else document
    if not isinstance(items, list):
        yield SourceItem(
            row=None,
            unit="item",
            problems=[Problem(None, None, "expected a JSON array of practitioner records, or an object with a 'practitioners' array")],
        )
        return
    for number, entry in enumerate(items, start=1):
        item = SourceItem(row=number, unit="item", raw=entry if isinstance(entry, dict) else None)
        if not isinstance(entry, dict):
            item.reject(None, f"expected an object, got {type(entry).__name__}")
            yield item
            continue
        entry = dict(entry)
        for drop in ("id", "url", "created_at", "updated_at", "withdrawn_at", "sources"):
            entry.pop(drop, None)
        source_id = entry.pop("source_id", None)
        if "provenance" not in entry:
            entry["provenance"] = {"source": source, "source_id": str(source_id) if source_id is not None else ""}
        elif isinstance(entry["provenance"], dict):
            entry["provenance"] = {**entry["provenance"], "source": source}
        try:
            item.record = Record.model_validate(entry)
        except ValidationError as exc:
            for problem in record_problems(exc):
                item.problems.append(Problem(number, problem.column, problem.message, unit="item"))
        yield item


def read_json(path: str | Path, *, source: str = "json") -> Iterator[SourceItem]:
    return parse_json(Path(path).read_bytes(), source=source)
