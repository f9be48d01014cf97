"""Structured request logs: one JSON line per request, with what operations need and no personal data."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.web.requestlog import JsonFormatter

pytestmark = pytest.mark.usefixtures("restore_log_levels")

SEARCH = "/search?q=multiple+sclerosis&near=LS6+2AB&condition=multiple_sclerosis"


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The request records, as the JSON lines the production handler writes."""
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "finder.requests"]


def test_one_line_per_request_without_the_query_string(web_site: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="finder.requests")
    client = web_site.client()
    response = client.get(SEARCH, headers={"User-Agent": "Secret-Browser/1.0", "Referer": "https://example.org/?q=ms"},
                          environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert response.status_code == 200
    [line] = request_lines(caplog)
    assert line["event"] == "request"
    assert line["method"] == "GET" and line["path"] == "/search" and line["route"] == "/search"
    assert line["status"] == 200
    assert line["bytes"] == len(response.get_data())
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert line["level"] == "info" and line["pid"] == os.getpid()
    raw = json.dumps(line)
    # Nothing the person typed or sent about themselves.
    for private in ("sclerosis", "LS6", "2AB", "multiple", "203.0.113.77", "Secret-Browser", "example.org", "?"):
        assert private not in raw, private


def test_route_names_the_rule_and_status_is_final(web_site: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="finder.requests")
    client = web_site.client()
    pid = web_site.ids["Alice"]
    first = client.get(f"/api/v1/practitioners/{pid}")
    again = client.get(f"/api/v1/practitioners/{pid}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    missing = client.get("/no/such/page")
    lines = request_lines(caplog)
    assert [line["status"] for line in lines] == [200, 304, 404]
    assert lines[0]["route"] == "/api/v1/practitioners/<int:practitioner_id>"
    assert lines[0]["path"] == f"/api/v1/practitioners/{pid}"
    assert lines[1]["bytes"] == 0
    assert lines[2]["route"] is None and lines[2]["bytes"] == len(missing.get_data())


def test_request_id_is_taken_from_the_client_when_it_is_a_plain_token(web_site: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="finder.requests")
    client = web_site.client()
    given = client.get("/about", headers={"X-Request-ID": "lb-7f3a.42"})
    assert given.headers["X-Request-ID"] == "lb-7f3a.42"
    for junk in ("a b", 'x"}\n{"forged": 1', "x" * 200, "é", ""):
        # Raw environ: the test client refuses a newline in a header, a raw socket does not.
        response = client.get("/about", environ_base={"HTTP_X_REQUEST_ID": junk})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"]), junk
    ids = [line["request_id"] for line in request_lines(caplog)]
    assert ids[0] == "lb-7f3a.42" and len(set(ids)) == len(ids)


def test_health_probes_log_at_debug_and_errors_carry_the_request_id(
    app: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    client = app.test_client()
    client.get("/healthz")
    assert not request_lines(caplog), "a probe every few seconds must not flood the info log"

    from finder.web import pages

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom in the about page")

    monkeypatch.setattr(pages, "store_from", broken)
    response = client.get("/about")
    assert response.status_code == 500
    rid = response.headers["X-Request-ID"]
    formatter = JsonFormatter()
    logged = [json.loads(formatter.format(r)) for r in caplog.records]
    error = next(entry for entry in logged if entry["logger"] == "finder.web.errors")
    assert error["request_id"] == rid
    assert error["error"] == "RuntimeError: boom in the about page" and "Traceback" in error["traceback"]
    [line] = [entry for entry in logged if entry["logger"] == "finder.requests"]
    assert line["status"] == 500 and line["level"] == "warning" and line["request_id"] == rid
    assert "boom" not in response.get_data(as_text=True)


def test_log_level_is_configurable(app_config: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the handler takes everything: the app's level decides
    quiet = create_app({**app_config, "LOG_LEVEL": "warning"})
    quiet.test_client().get("/about")
    assert not request_lines(caplog)
    chatty = create_app({**app_config, "LOG_LEVEL": "debug"})
    chatty.test_client().get("/healthz")
    assert [line["path"] for line in request_lines(caplog)] == ["/healthz"]
    with pytest.raises(ValueError, match="LOG_LEVEL 'loud' is not a log level"):
        create_app({**app_config, "LOG_LEVEL": "loud"})


def test_served_app_writes_json_lines_to_stderr(tmp_path: Path) -> None:
    """Outside tests (gunicorn, `finder serve`) the lines go to stderr as JSON, one per request."""
    instance = str(tmp_path / "instance")
    script = textwrap.dedent(
        f"""
        from finder import create_app
        app = create_app({{"INSTANCE_PATH": {instance!r}, "RATELIMIT_ENABLED": False}})
        client = app.test_client()
        client.get("/about?q=private+words")
        client.get("/api/v1/vocabularies", headers={{"X-Request-ID": "trace-1"}})
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert [(r["path"], r["status"]) for r in requests] == [("/about", 200), ("/api/v1/vocabularies", 200)]
    assert requests[1]["request_id"] == "trace-1"
    # The about page warns that the store has no tables: also a JSON line, with the request's id.
    warning = next(line for line in lines if line["level"] == "warning")
    assert warning["logger"] == "finder" and warning["request_id"] == requests[0]["request_id"]
    assert "private" not in done.stderr
    assert all(line.startswith("{") for line in done.stderr.splitlines() if line.strip() and not line.startswith(" ")), done.stderr
