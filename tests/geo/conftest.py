"""Fixtures local to the geo tests (shared ones live in tests/plugins/geo.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from finder.geo import gazetteer as gazetteer_module


@pytest.fixture
def app_config(app_config: dict[str, Any], gazetteer_path: Path) -> dict[str, Any]:
    """The test app, pointed at the test gazetteer."""
    return {**app_config, "GAZETTEER_PATH": str(gazetteer_path)}


@pytest.fixture
def few_places(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the GeoNames load with three places, for quick build-mechanics tests."""

    def load(progress: bool) -> list[Any]:
        return [
            gazetteer_module._Place(2647461, "Harrogate", "Harrogate", 53.99078, -1.5373, 89060, "ENG", ["HRT"]),
            gazetteer_module._Place(2639545, "Ripon", "Ripon", 54.13579, -1.52826, 16702, "ENG"),
            gazetteer_module._Place(2645456, "Knaresborough", "Knaresborough", 54.00963, -1.46999, 15441, "ENG"),
        ]

    monkeypatch.setattr(gazetteer_module, "_load_geonames", load)
