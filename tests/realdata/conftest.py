"""Conformance tests on real payloads published by others (../shared/real-data).

Each test serves the real files from 127.0.0.1, shaped like the source's own
API, and runs the real ``finder`` command. Before each expected count, the test
says why that count is right, from reading the data by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def app_config(app_config: dict[str, Any], gazetteer_path: Path) -> dict[str, Any]:
    return {
        **app_config,
        "GAZETTEER_PATH": str(gazetteer_path),
        "HTTP_CONTACT": "tests@example.org",
        # Loopback only: no need to pace ourselves, and tests must not wait.
        "HTTP_RATE_LIMIT_PER_SECOND": 100_000,
        "HTTP_MAX_RETRIES": 0,
    }
