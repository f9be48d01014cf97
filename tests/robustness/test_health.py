"""/healthz and /readyz: what a load balancer and a person on call see, part by part."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import finder
from finder import create_app
from finder.db import store_from
from tests.plugins.web import web_records


def newest_migration() -> str:
    """The head of the migration scripts, read with Alembic itself (not through the app)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(finder.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head
    return head


def stored_revision(url: str) -> str:
    """The revision the store's own alembic_version table holds."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


def _problem(response: Any) -> dict[str, Any]:
    assert response.mimetype == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json(force=True)
    assert body["status"] == response.status_code == 503
    assert body["type"].endswith("#problem-unavailable")
    return body  # type: ignore[no-any-return]


def test_a_complete_site_is_healthy_and_ready(web_site: Any) -> None:
    client = web_site.client()
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.mimetype == "application/json"
    assert health.headers["Cache-Control"] == "no-store"
    body = health.get_json()
    assert body["status"] == "ok" and body["missing"] == []
    checks = body["checks"]
    assert checks["store"] == {"ok": True, "backend": "sqlite", "schema": newest_migration(), "listings": len(web_records())}
    assert stored_revision(web_site.app.config["DATABASE_URL"]) == newest_migration()
    assert checks["index"]["ok"] and checks["index"]["documents"] == len(web_records())
    assert checks["index"]["age_seconds"] >= 0 and checks["index"]["built_at"]
    assert checks["gazetteer"]["ok"] and checks["gazetteer"]["postcode_areas"] > 10
    assert checks["gazetteer"]["coverage"] == "partial"  # the test gazetteer holds a few areas

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "ready"
    # HEAD works too (some probes use it), with no body.
    assert client.head("/readyz").status_code == 200


def test_no_store_tables_is_503_naming_the_store(app: Any) -> None:
    client = app.test_client()
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 503, path
        body = _problem(response)
        assert body["missing"] == ["store", "index", "gazetteer"]
        assert "finder init-db" in body["detail"]
        assert "finder index build" in body["detail"] and "finder geo build" in body["detail"]
        assert response.headers["Retry-After"] == "30"


def test_store_without_index_or_gazetteer_is_alive_but_not_ready(app: Any) -> None:
    store_from(app).upgrade()
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    assert body["status"] == "degraded"
    assert body["missing"] == ["index", "gazetteer"]
    assert body["checks"]["store"]["ok"] and body["checks"]["store"]["listings"] == 0

    ready = client.get("/readyz")
    assert ready.status_code == 503
    problem = _problem(ready)
    assert problem["missing"] == ["index", "gazetteer"]
    assert problem["detail"].startswith("Not ready for traffic. Missing index: ")
    assert "run `finder index build`" in problem["detail"]
    assert "run `finder geo build`" in problem["detail"]


def test_a_store_behind_the_code_reports_its_own_schema_and_what_to_run(app: Any) -> None:
    """A store one migration behind: the store's revision is reported (not the code's), and the fix."""
    from alembic import command

    from finder.db import Store

    store = store_from(app)
    head = newest_migration()
    previous = "0005"
    assert previous != head
    with store.engine.begin() as connection:
        command.upgrade(Store._alembic_config(store, connection), previous)
    assert stored_revision(app.config["DATABASE_URL"]) == previous
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = _problem(response)
    assert body["missing"][0] == "store"
    check = body["checks"]["store"]
    assert (check["ok"], check["schema"]) == (False, previous)
    assert check["problem"] == f"the store's schema is at {previous}, this code needs {head}: run `finder init-db`"


def test_unreachable_database_is_503_without_its_address(tmp_path: Path) -> None:
    from tests.robustness.conftest import free_port

    url = f"postgresql+psycopg://finder:sEcReT-pw@127.0.0.1:{free_port()}/finder"
    app = create_app(
        {"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url, "RATELIMIT_ENABLED": False}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = _problem(response)
    assert body["missing"][0] == "store"
    assert body["checks"]["store"]["backend"] == "postgresql"
    text = response.get_data(as_text=True)
    assert "sEcReT" not in text and str(url.split("@")[1]) not in text
    assert "Traceback" not in text
    store_from(app).dispose()


def test_index_pointer_to_a_missing_build_is_named(web_site: Any, tmp_path: Path) -> None:
    """CURRENT names a build that is not there (a half-copied index directory): not ready."""
    instance = tmp_path / "instance"
    index_dir = instance / "index"
    index_dir.mkdir(parents=True)
    (index_dir / "CURRENT").write_text("no-such-build\n")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "GAZETTEER_PATH": web_site.app.config["GAZETTEER_PATH"],
            "RATELIMIT_ENABLED": False,
        }
    )
    store_from(app).upgrade()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert _problem(response)["missing"] == ["index"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_never_rate_limited(app_config: dict[str, Any], path: str) -> None:
    app = create_app({**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_API": "1 per minute", "RATELIMIT_PAGES": "1 per minute"})
    client = app.test_client()
    statuses = {client.get(path).status_code for _ in range(5)}
    assert statuses == {503}  # not ready (no store), but never 429
    assert client.get("/about").status_code != 429
    assert client.get("/about").status_code == 429  # the page limit does apply to pages


def test_warming_a_worker_computes_the_about_pages_data_quality_report_once(
    web_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data-quality pass (tens of ms at scale) is done while the worker warms up, not on
    the first visitor's about page; a second worker on the same store does its own."""
    from finder import data_quality
    from finder.web.health import warm_up

    calls: list[int] = []
    real = data_quality.sources_report
    monkeypatch.setattr(data_quality, "sources_report", lambda store: calls.append(1) or real(store))
    worker = create_app(dict(web_site.app.config))  # a fresh worker: nothing kept yet
    try:
        warm_up(worker)
        assert len(calls) == 1
        about = worker.test_client().get("/about")
        assert about.status_code == 200 and len(calls) == 1
        assert 'id="h-data-quality">Data quality by source</h2>' in about.get_data(as_text=True)
    finally:
        store_from(worker).dispose()
