"""The Server-Timing header (finder.web.timing): off by default, and when on, every stage of a page."""

from __future__ import annotations

import re
from typing import Any

from finder import create_app
from tests.plugins.web import WebSite


def _timed_app(web_site: WebSite) -> Any:
    config = {key: web_site.app.config[key] for key in ("INSTANCE_PATH", "DATABASE_URL", "GAZETTEER_PATH", "INDEX_DIR")}
    return create_app({**config, "TESTING": True, "RATELIMIT_ENABLED": False, "SECRET_KEY": "test", "SERVER_TIMING": True})


def _stages(response: Any) -> dict[str, float]:
    value = response.headers["Server-Timing"]
    stages = {name: float(ms) for name, ms in re.findall(r"(\w+);dur=([0-9.]+)", value)}
    assert value.count(",") + 1 == len(stages), value  # every entry has a duration
    return stages


def test_no_header_unless_asked_for(web_client: Any) -> None:
    response = web_client.get("/search?near=LS2+9AA&q=back+pain")
    assert response.status_code == 200
    assert "Server-Timing" not in response.headers


def test_a_search_page_names_each_stage_and_they_add_up(web_site: WebSite) -> None:
    client = _timed_app(web_site).test_client()
    response = client.get("/search?near=LS2+9AA&q=back+pain")
    assert response.status_code == 200 and b"Grace Leeds" in response.data
    stages = _stages(response)
    assert list(stages) == ["place", "understand", "search", "rows", "views", "map", "render", "other", "total"]
    assert all(ms >= 0 for ms in stages.values())
    parts = sum(ms for name, ms in stages.items() if name != "total")
    assert abs(parts - stages["total"]) < 0.05 + 0.01 * stages["total"], stages
    assert stages["render"] > 0 and stages["search"] > 0 and stages["rows"] > 0


def test_practitioner_page_and_api_stages(web_site: WebSite) -> None:
    client = _timed_app(web_site).test_client()
    pid = web_site.ids["Grace"]
    page = _stages(client.get(f"/practitioners/{pid}"))
    assert {"rows", "views", "render", "total"} <= set(page) and "search" not in page
    api = _stages(client.get("/api/v1/search?near=LS2+9AA&q=back+pain"))
    assert {"place", "search", "rows", "views", "render", "total"} <= set(api) and "map" not in api
    # An error page is timed too, and names no stage that did not run.
    missing = client.get("/practitioners/999999")
    assert missing.status_code == 404
    assert set(_stages(missing)) <= {"rows", "render", "other", "total"}
